"""Who may reach a node over the fabric: ``Node.start(allow=...)`` (upstream's spelling), evaluated.

Upstream takes an Ockam ABAC expression and, in a cluster, ignores it (spec §1.1: its default is
``message.is_local or cluster={CLUSTER}``). Here the zone is the trust boundary (docs/security.md), so:

- ``allow=None`` (the default), ``"zone"``, ``"message.is_local"`` or an expression made only of
  ``message.is_local`` and ``zone={ZONE}`` terms: only nodes of the node's own zone reach it;
- ``"cluster"``, ``"cluster={CLUSTER}"`` (this node's cluster) or an ``or`` of such terms: the node
  opts in to cluster-wide access: nodes of every zone of its cluster list it with ``Cluster.nodes`` and
  may message its workers and agents. Its node controller (shipping workers, starting agents) still
  answers only its own zone.

Anything else (another cluster's id, ``and``, attributes we do not know) is refused with a ConfigError
naming ``allow``: a policy we cannot enforce must not be silently dropped.
"""

from __future__ import annotations

from typing import Any

from autonomy.errors import ConfigError

__all__ = ["allows_cluster"]


def allows_cluster(allow: Any, cluster: str | None, zone: str | None) -> bool:
    """Whether ``allow`` opts the node in to cluster-wide access (see the module docstring)."""
    if allow is None:
        return False
    if not isinstance(allow, str):
        raise ConfigError(f"allow={allow!r}: give None, 'zone', 'cluster' or an expression such as "
                          f"'message.is_local or cluster={cluster or '<CLUSTER>'}'")
    opted = False
    for term in (t.strip() for t in allow.split(" or ")):
        key, eq, value = (p.strip() for p in term.partition("="))
        if term in ("zone", "message.is_local") or (eq and key == "zone" and value == zone):
            continue
        if term == "cluster" or (eq and key == "cluster" and cluster is not None and value == cluster):
            opted = True
            continue
        raise ConfigError(f"allow={allow!r}: cannot enforce {term!r}; use 'zone' (the default: only this node's "
                          f"zone reaches it) or 'cluster' (every zone of cluster {cluster or '<CLUSTER>'})")
    return opted
