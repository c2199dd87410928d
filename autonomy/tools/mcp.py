"""Upstream module path ``autonomy.tools.mcp``: ``McpTool``, ``McpClient``, ``McpServer``.

Ours live in ``mcp_tool.py``, ``mcp_client.py`` and ``mcp_server.py``; the client and server load
the ``mcp`` SDK, so they are imported on first use."""

from typing import Any

from autonomy.tools.mcp_tool import McpTool

__all__ = ["McpTool", "McpClient", "McpServer"]  # noqa: F822 (from __getattr__)


def __getattr__(name: str) -> Any:
    if name == "McpClient":
        from autonomy.tools.mcp_client import McpClient

        return McpClient
    if name == "McpServer":
        from autonomy.tools.mcp_server import McpServer

        return McpServer
    raise AttributeError(f"module 'autonomy.tools.mcp' has no attribute {name!r}")
