"""Tools agents offer to their models: Python functions (``Tool``) and MCP servers' tools (``McpTool``).

``McpClient`` connects a node to an MCP server (``Node.start(mcp_clients=[...])``); ``McpServer``
exposes a node's agents (started with ``exposed_as``) as MCP tools. Both import the ``mcp`` SDK
(~0.15 s), so they are loaded on first use.
"""

from typing import TYPE_CHECKING, Any

from autonomy.tools.filesystem import FilesystemTools
from autonomy.tools.mcp_tool import McpTool
from autonomy.tools.protocol import InvokableTool, ToolFactory
from autonomy.tools.tool import Tool
from autonomy.tools.workspace import Workspace, WorkspaceMode

if TYPE_CHECKING:
    from autonomy.tools.mcp_client import McpClient
    from autonomy.tools.mcp_server import McpServer

__all__ = ["FilesystemTools", "InvokableTool", "McpClient", "McpServer", "McpTool", "Tool", "ToolFactory", "Workspace",
           "WorkspaceMode"]


def __getattr__(name: str) -> Any:
    if name == "McpClient":
        from autonomy.tools.mcp_client import McpClient

        return McpClient
    if name == "McpServer":
        from autonomy.tools.mcp_server import McpServer

        return McpServer
    raise AttributeError(f"module 'autonomy.tools' has no attribute {name!r}")
