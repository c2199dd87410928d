"""``McpTool(server_name, tool_name)``: a tool of an MCP server, reached through the node.

The node was started with ``mcp_clients=[McpClient(server_name, url)]``; the agent sets ``tool.node``
before use. ``spec()`` asks the node for the tool's MCP spec and maps ``inputSchema`` to
``parameters``; ``invoke`` calls the tool and returns the MCP ``CallToolResult`` as JSON text.
"""

from __future__ import annotations

import json
from typing import Any

from autonomy.errors import ConfigError
from autonomy.tools.protocol import check_tool_name

__all__ = ["McpTool"]


class McpTool:
    """Tool ``tool_name`` of the MCP server the node knows as ``server_name``; named ``{server}_{tool}``."""

    def __init__(self, server_name: str, tool_name: str) -> None:
        self.server_name = server_name
        self.tool_name = tool_name
        self.name = check_tool_name(f"{server_name}_{tool_name}", "MCP tool")
        self.node: Any = None

    def __repr__(self) -> str:
        return f"McpTool({self.server_name!r}, {self.tool_name!r})"

    def _node(self) -> Any:
        if self.node is None:
            raise ConfigError(f"McpTool {self.name!r} is not attached to a node: give it to an agent "
                              "(which sets tool.node), or set tool.node yourself")
        return self.node

    async def spec(self) -> dict[str, Any]:
        """The OpenAI function spec; ConfigError (a ValueError) if the server has no such tool."""
        text = await self._node().mcp_tool_spec(self.server_name, self.tool_name)
        try:
            spec = json.loads(text)
        except json.JSONDecodeError as exc:
            raise ConfigError(f"MCP server {self.server_name!r} returned invalid JSON for tool "
                              f"{self.tool_name!r}: {text[:200]!r}") from exc
        if isinstance(spec, str):  # "Error: Tool not found s/t"
            raise ConfigError(f"MCP server {self.server_name!r} has no tool {self.tool_name!r} ({spec}): "
                              "check the tool name against the server's tool list")
        missing = [key for key in ("name", "inputSchema") if key not in spec]
        if missing:
            raise ConfigError(f"MCP tool {self.tool_name!r} of server {self.server_name!r} has no "
                              f"{', '.join(missing)} in its spec")
        return {"type": "function", "function": {
            "name": self.name, "description": spec.get("description") or f"Tool {self.tool_name}",
            "parameters": spec["inputSchema"], "strict": False}}

    async def invoke(self, json_argument: str | None) -> str:
        """Call the tool; the CallToolResult as JSON text, or ``"Tool execution failed: ..."``."""
        arguments = json_argument if json_argument and json_argument.strip() else "{}"
        try:
            return await self._node().call_mcp_tool(self.server_name, self.tool_name, arguments)
        except Exception as exc:
            return f"Tool execution failed: {type(exc).__name__}: {exc}"
