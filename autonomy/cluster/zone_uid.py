"""The unprivileged uid (and gid) a zone's containers run as, under every runtime of the local cluster.

One allocation shared by the process runtime (its sandbox drops to it, :mod:`.local.sandbox`) and the
Docker runtime (its containers' ``user``, :mod:`.docker.pod`): a zone has the same uid whichever runtime
runs it, the zone's own files (credentials, app copies, writable volumes) are owned by it, and two zones
never share one in practice. Backends do not import each other: this module is where they meet.
"""

from __future__ import annotations

import hashlib

__all__ = ["UID_BASE", "UID_SPAN", "zone_uid"]

UID_BASE = 200_000
UID_SPAN = 1_000_000_000


def zone_uid(cluster_id: str, zone: str) -> int:
    """The unprivileged uid (and gid) of ``zone`` of cluster ``cluster_id``: stable, unique in practice
    (a SHA-256 of both over a billion values above 200000, far from any account the host has)."""
    digest = hashlib.sha256(f"{cluster_id}/{zone}".encode()).digest()
    return UID_BASE + int.from_bytes(digest[:8], "big") % UID_SPAN
