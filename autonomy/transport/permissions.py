"""NATS subject permissions of a zone's user: the zone as the trust boundary of the fabric.

With ``R = autonomy.<cluster>.`` and the subjects of :mod:`autonomy.transport.frames`, the user of zone
``Z`` whose nodes are ``names`` may:

- publish and subscribe anything under ``R z.Z.>`` (its own zone: nodes, replies, presence, inboxes);
- publish to ``R cluster.node.*`` (any opted-in node; a node that did not opt in never subscribes
  there) and ``R cluster.discover``; publish heartbeats only as its own nodes
  (``R cluster.presence.<name>``);
- subscribe to ``R cluster.presence.*`` and ``R cluster.discover`` (to list opted-in nodes) and only to
  its own nodes' ``R cluster.node.<name>`` (no zone can take another zone's messages);
- answer the messages it receives (``allow_responses``, up to :data:`MAX_RESPONSES` replies within
  :data:`RESPONSE_TTL`): how an opted-in node replies to a caller of another zone.

Anything else is refused by the server (a permissions violation), e.g. another zone's node subjects,
its presence, its inboxes, or the cluster user's flat subjects.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

__all__ = ["ZoneUser", "zone_permissions", "MAX_RESPONSES", "RESPONSE_TTL"]

MAX_RESPONSES = 100_000
RESPONSE_TTL = "1h"


def zone_permissions(cluster: str, zone: str, names: Iterable[str]) -> dict[str, Any]:
    """The ``permissions`` block of zone ``zone``'s NATS user (``names``: its nodes' names)."""
    root = f"autonomy.{cluster}."
    names = sorted(set(names))
    return {
        "publish": {"allow": [f"{root}z.{zone}.>", f"{root}cluster.node.*", f"{root}cluster.discover",
                              *(f"{root}cluster.presence.{n}" for n in names)]},
        "subscribe": {"allow": [f"{root}z.{zone}.>", f"{root}cluster.presence.*", f"{root}cluster.discover",
                                *(f"{root}cluster.node.{n}" for n in names)]},
        "allow_responses": {"max": MAX_RESPONSES, "expires": RESPONSE_TTL},
    }


@dataclass(frozen=True)
class ZoneUser:
    """A NATS user of a cluster's account, with its permissions (see :func:`zone_permissions`)."""

    account: str
    user: str
    password: str = field(repr=False)
    permissions: dict[str, Any] = field(default_factory=dict)
