"""Tools agents offer to their models: Python functions (``Tool``) and MCP servers' tools (``McpTool``).

``McpClient`` connects a node to an MCP server (``Node.start(mcp_clients=[...])``); ``McpServer``
exposes a node's agents (started with ``exposed_as``) as MCP tools.
"""

from autonomy.tools.mcp_tool import McpTool
from autonomy.tools.protocol import InvokableTool, ToolFactory
from autonomy.tools.tool import Tool

__all__ = ["InvokableTool", "McpTool", "Tool", "ToolFactory"]
