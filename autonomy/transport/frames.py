"""The fabric's wire format: subjects and frames (kept tiny: the hot path encodes and parses them).

Subjects, for cluster ``C`` (all inside the cluster's own NATS account):

    autonomy.C.node.<node>                    messages to the workers of <node>
    autonomy.C.reply.<node>.~<inc>-<n>        the reply to request n of <node>'s incarnation <inc>
    autonomy.C.reply.<node>.<mailbox>.<to>    replies to <mailbox> of <node> from node <to>
    autonomy.C.presence.<node>                what <node> tells its scope: ``hello <inc>`` (joined), ``bye <inc>``
                                              (leaving), ``gone <other> <inc>`` (a ping found <other> gone);
                                              with AUTONOMY_FABRIC_PRESENCE=heartbeat: ``<inc>`` every interval
    autonomy.C.discover                       a joining node asks who is there (``<node> <inc>[ listen]``)

A node whose credentials name a zone ``Z`` (the per-zone NATS users: docs/security.md) uses the same
subjects under ``autonomy.C.z.Z.`` (so one permission, ``autonomy.C.z.Z.>``, covers its zone), its
NATS inboxes under ``autonomy.C.z.Z.inbox``, and reaches nodes of other zones only through the
cluster-wide subjects of the nodes that opted in (``Node.start(allow="cluster")``); presence keeps one
roster per scope on that scope's subjects (:mod:`autonomy.transport.ring_presence`)::

    autonomy.C.cluster.node.<node>            messages to an opted-in node from other zones
    autonomy.C.cluster.presence.<node>        the same, for the opted-in nodes (every zone listens)
    autonomy.C.cluster.discover               a joining node asks which opted-in nodes are there

Frames:

* a message: ``<address>\\n<message>`` (UTF-8), with the reply subject as the NATS reply;
* a ping: an empty payload (answered with the node's incarnation, ``<inc>``: 12 hex digits);
* a reply: the reply text itself (UTF-8), no header;
* an error: header ``Autonomy-Error: 1`` and a JSON payload ``{"type": ..., <fields>}`` rebuilt into
  the same :mod:`autonomy.errors` class on the caller's side.
"""

from __future__ import annotations

import json
from typing import Any

from autonomy.errors import (
    AccessDenied,
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
    """The subjects of one cluster, as seen from one node (of zone ``zone`` if given)."""

    __slots__ = ("cluster", "me", "root", "zone", "base", "presence_prefix", "discover", "reply_prefix", "mine",
                 "inbox", "_zone_names", "_nodes")

    def __init__(self, cluster: str, me: str, zone: str | None = None) -> None:
        self.cluster = check_token("cluster", cluster)
        self.me = check_token("node", me)
        self.root = f"autonomy.{cluster}."
        self.zone = check_token("zone", zone) if zone else None
        self.base = base = f"{self.root}z.{zone}." if zone else self.root
        self.presence_prefix = f"{base}presence."
        self.discover = f"{base}discover"
        self.reply_prefix = f"{base}reply.{me}."
        self.mine = f"{base}node.{me}"
        self.inbox = f"{base}inbox" if zone else "_INBOX"
        self._zone_names = f"{cluster}-{zone}-" if zone else ""
        self._nodes: dict[str, str] = {}

    def in_my_zone(self, name: str) -> bool:
        """Whether node ``name`` is of this node's zone (every node is, for a node without a zone)."""
        return name.startswith(self._zone_names)

    def node(self, name: str) -> str:
        """The subject of node ``name`` (cached: the hot path asks for it on every message)."""
        subject = self._nodes.get(name)
        if subject is None:
            check_token("node", name)
            where = self.base if self.in_my_zone(name) else f"{self.root}cluster."
            subject = self._nodes[name] = f"{where}node.{name}"
        return subject

    def cluster_scope(self) -> ClusterScope:
        """The cluster-wide subjects of this node (for the presence of opted-in nodes)."""
        return ClusterScope(self)


class ClusterScope:
    """Subjects of the cluster-wide scope, shaped like :class:`Subjects` for :class:`Presence`."""

    def __init__(self, subjects: Subjects) -> None:
        self.me = subjects.me
        self.presence_prefix = f"{subjects.root}cluster.presence."
        self.discover = f"{subjects.root}cluster.discover"
        self.mine = f"{subjects.root}cluster.node.{subjects.me}"
        self._subjects = subjects

    def node(self, name: str) -> str:
        return self._subjects.node(name)


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
    elif isinstance(exc, AccessDenied):
        fields = {"node": exc.node, "reason": exc.reason}
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
    "AccessDenied": lambda f: AccessDenied(f.get("node"), f["reason"]),
    "DeliveryError": lambda f: DeliveryError(f["message"]),
}


def decode_error(payload: bytes) -> AutonomyError:
    """The error an error frame carries (a FabricError if the frame is malformed)."""
    try:
        fields = json.loads(payload)
        return _BUILDERS[fields["type"]](fields)
    except (ValueError, KeyError, TypeError) as exc:
        return FabricError(f"Malformed error frame from the fabric ({exc}): {payload[:200]!r}")
