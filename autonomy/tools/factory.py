"""Upstream module path ``autonomy.tools.factory`` of ``ToolFactory`` (ours: ``protocol.py``)."""

from autonomy.tools.protocol import ToolFactory

__all__ = ["ToolFactory"]
