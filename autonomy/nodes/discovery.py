"""Finding other nodes: ``Zone`` and ``Cluster`` (upstream ``autonomy.clusters``, spec §1.2).

Node names follow ``{CLUSTER}-{ZONE}-{pod}`` or ``{CLUSTER}-{ZONE}-{pod}-{i}`` for clone ``i``
(ARCHITECTURE.md), so a zone's nodes are the cluster's nodes whose name starts with
``{CLUSTER}-{ZONE}-``. Two deliberate differences from upstream, both doing what it intends:

* the zone prefix includes the trailing ``-``, so zone ``app`` does not also list zone ``app2``;
* ``filter`` is matched against the part of the name after the prefix (the pod and clone), so a
  zone or cluster id that happens to contain the filter text does not match every node.

``Cluster.nodes`` lists only the nodes that opted in to cluster-wide access (``allow="cluster"``,
:mod:`autonomy.nodes.access`): the zone is the trust boundary (docs/security.md). A node holding the
cluster's own credentials (no zone) still sees every node.

The list comes from the node's fabric (no round trip: see ``autonomy.transport.presence``) and
includes the calling node itself when it matches. A standalone node (no ``CLUSTER``/``ZONE``, or no
fabric) gets ``[]``.
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING

from autonomy.nodes.remote import RemoteNode

if TYPE_CHECKING:
    from autonomy.nodes.node import Node

__all__ = ["Zone", "Cluster"]


def _cluster_of(node: Node) -> str | None:
    return getattr(node, "cluster", None) or os.environ.get("CLUSTER") or None


def _zone_of(node: Node) -> str | None:
    return getattr(node, "zone", None) or os.environ.get("ZONE") or None


async def _matching(node: Node, prefix: str | None, filter: str | None, *, cluster: bool = False) -> list[RemoteNode]:
    if not prefix:
        return []
    names = await (node.list_cluster_nodes() if cluster else node.list_nodes())
    return [RemoteNode(node, name) for name in names
            if name.startswith(prefix) and (not filter or filter in name[len(prefix):])]


class Zone:
    """The nodes of the calling node's zone."""

    @staticmethod
    def prefix(node: Node) -> str | None:
        """``{CLUSTER}-{ZONE}-`` for ``node``, or None for a node outside a zone."""
        cluster, zone = _cluster_of(node), _zone_of(node)
        return f"{cluster}-{zone}-" if cluster and zone else None

    @staticmethod
    async def nodes(node: Node, filter: str | None = None) -> list[RemoteNode]:
        """The zone's nodes whose pod part contains ``filter`` (all if None), sorted by name."""
        return await _matching(node, Zone.prefix(node), filter)

    @staticmethod
    async def node(node: Node, name: str) -> RemoteNode | None:
        """The zone's node named ``{CLUSTER}-{ZONE}-{name}``, or None if it is not in the fabric."""
        prefix = Zone.prefix(node)
        if not prefix:
            return None
        full = prefix + name
        return RemoteNode(node, full) if full in await node.list_nodes() else None


class Cluster:
    """The nodes of the calling node's cluster, every zone."""

    @staticmethod
    def prefix(node: Node) -> str | None:
        cluster = _cluster_of(node)
        return f"{cluster}-" if cluster else None

    @staticmethod
    async def nodes(node: Node, filter: str | None = None) -> list[RemoteNode]:
        """The cluster's nodes that opted in to cluster-wide access (``Node.start(allow="cluster")``) and
        whose name (after ``{CLUSTER}-``) contains ``filter``, sorted by name. Nodes of the caller's own
        zone that did not opt in are found with :meth:`Zone.nodes`."""
        return await _matching(node, Cluster.prefix(node), filter, cluster=True)
