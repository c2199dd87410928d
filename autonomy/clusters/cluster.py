"""Upstream module path of ``Cluster`` (ours: ``autonomy.nodes.discovery``)."""

from autonomy.nodes.discovery import Cluster

__all__ = ["Cluster"]
