"""Upstream's ``autonomy.clusters``: ``Zone`` and ``Cluster`` node discovery (ours: ``autonomy.nodes.discovery``)."""

from autonomy.nodes.discovery import Cluster, Zone

__all__ = ["Cluster", "Zone"]
