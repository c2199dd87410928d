"""The fabric's wire format: subjects and frames (kept tiny: the hot path encodes and parses them).

Subjects, for cluster ``C`` (all inside the cluster's own NATS account):

    autonomy.C.node.<node>                    messages to the workers of <node>
    autonomy.C.reply.<node>.~<n>              the reply to request n of <node>
    autonomy.C.reply.<node>.<mailbox>.<to>    replies to <mailbox> of <node> from node <to>
    autonomy.C.presence.<node>                heartbeats (empty payload) and leaving (``bye``)
    autonomy.C.discover                       a joining node asks who is there

Frames:

* a message: ``<address>\\n<message>`` (UTF-8), with the reply subject as the NATS reply;
* a ping: an empty payload (answered with an empty payload);
* a reply: the reply text itself (UTF-8), no header;
* an error: header ``Autonomy-Error: 1`` and a JSON payload ``{"type": ..., <fields>}`` rebuilt into
  the same :mod:`autonomy.errors` class on the caller's side.
"""

from __future__ import annotations

import json
from typing import Any

from autonomy.errors import (
    AutonomyError,
    DeliveryError,
    DeliveryTimeout,
    FabricError,
    InvalidName,
    MessageTooLarge,
    NodeLeft,
    NodeNotFound,
    WorkerError,
    WorkerNotFound,
    WorkerStopped,
)

__all__ = ["ERROR_HEADER", "encode_error", "decode_error", "check_token", "Subjects"]

ERROR_HEADER = "Autonomy-Error"
_UNSAFE = frozenset(" \t\r\n.*>")


def check_token(kind: str, value: str) -> str:
    """Return ``value`` if it can be one NATS subject token (no dots, wildcards or spaces)."""
    if not value or any(c in _UNSAFE for c in value):
        raise InvalidName(kind, value)
    return value


class Subjects:
    """The subjects of one cluster, as seen from one node."""

    __slots__ = ("cluster", "me", "root", "presence_prefix", "discover", "reply_prefix", "mine", "_nodes")

    def __init__(self, cluster: str, me: str) -> None:
        self.cluster = check_token("cluster", cluster)
        self.me = check_token("node", me)
        self.root = f"autonomy.{cluster}."
        self.presence_prefix = f"{self.root}presence."
        self.discover = f"{self.root}discover"
        self.reply_prefix = f"{self.root}reply.{me}."
        self.mine = f"{self.root}node.{me}"
        self._nodes: dict[str, str] = {}

    def node(self, name: str) -> str:
        """The subject of node ``name`` (cached: the hot path asks for it on every message)."""
        subject = self._nodes.get(name)
        if subject is None:
            subject = self._nodes[name] = f"{self.root}node.{check_token('node', name)}"
        return subject


def encode_error(exc: BaseException) -> bytes:
    """An error frame's payload for ``exc``."""
    fields: dict[str, Any]
    if isinstance(exc, WorkerNotFound):
        fields = {"address": exc.address, "node": exc.node}
    elif isinstance(exc, WorkerStopped):
        fields = {"address": exc.address}
    elif isinstance(exc, WorkerError):
        fields = {"address": exc.address, "message": exc.message}
    elif isinstance(exc, NodeLeft):
        fields = {"node": exc.node}
    elif isinstance(exc, NodeNotFound):
        fields = {"node": exc.node}
    elif isinstance(exc, DeliveryTimeout):
        fields = {"address": exc.address, "timeout": exc.timeout, "node": exc.node}
    elif isinstance(exc, MessageTooLarge):
        fields = {"size": exc.size, "limit": exc.limit}
    else:
        fields = {"message": f"{type(exc).__name__}: {exc}"}
        return json.dumps({"type": "DeliveryError", **fields}).encode()
    return json.dumps({"type": type(exc).__name__, **fields}).encode()


_BUILDERS: dict[str, Any] = {
    "WorkerNotFound": lambda f: WorkerNotFound(f["address"], f.get("node")),
    "WorkerStopped": lambda f: WorkerStopped(f["address"]),
    "WorkerError": lambda f: WorkerError(f["address"], f["message"]),
    "NodeLeft": lambda f: NodeLeft(f["node"]),
    "NodeNotFound": lambda f: NodeNotFound(f["node"]),
    "DeliveryTimeout": lambda f: DeliveryTimeout(f["address"], f["timeout"], f.get("node")),
    "MessageTooLarge": lambda f: MessageTooLarge(f["size"], f["limit"]),
    "DeliveryError": lambda f: DeliveryError(f["message"]),
}


def decode_error(payload: bytes) -> AutonomyError:
    """The error an error frame carries (a FabricError if the frame is malformed)."""
    try:
        fields = json.loads(payload)
        return _BUILDERS[fields["type"]](fields)
    except (ValueError, KeyError, TypeError) as exc:
        return FabricError(f"Malformed error frame from the fabric ({exc}): {payload[:200]!r}")
