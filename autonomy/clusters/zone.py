"""Upstream module path of ``Zone`` (ours: ``autonomy.nodes.discovery``)."""

from autonomy.nodes.discovery import Zone

__all__ = ["Zone"]
