"""MCP through a node: McpClient given to Node.create, McpTool used as an agent would, McpServer."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Iterator

import pytest

from autonomy.errors import ConfigError, McpError
from autonomy.nodes import Node
from autonomy.tools import McpTool
from autonomy.tools.mcp_client import McpClient
from autonomy.tools.mcp_server import McpServer
from tests.support.mcp_servers import TimeServer


@pytest.fixture(scope="module")
def time_server() -> Iterator[TimeServer]:
    with TimeServer() as server:
        yield server


@pytest.fixture
async def node(time_server: TimeServer) -> AsyncIterator[Node]:
    node = await Node.create("mcp-node", mcp_clients=[McpClient("time", time_server.url + "/sse")])
    yield node
    await node.stop()


async def test_mcp_tool_spec_and_invoke_through_the_node(node: Node) -> None:
    tool = McpTool("time", "get_current_time")
    tool.node = node
    spec = await tool.spec()
    assert spec["function"]["name"] == "time_get_current_time"
    assert spec["function"]["parameters"]["required"] == ["timezone"]
    assert spec["function"]["strict"] is False
    result = json.loads(await tool.invoke('{"timezone": "Europe/Warsaw"}'))
    assert json.loads(result["content"][0]["text"])["timezone"] == "Europe/Warsaw"
    tools = json.loads(await node.mcp_tools())
    assert {t["name"] for t in tools} == {"get_current_time", "convert_time"}


async def test_mcp_tool_errors(node: Node) -> None:
    missing = McpTool("time", "nope")
    missing.node = node
    with pytest.raises(ConfigError, match="has no tool 'nope'"):
        await missing.spec()
    unknown_server = McpTool("other", "get_current_time")
    unknown_server.node = node
    assert (await unknown_server.invoke("{}")).startswith("Tool execution failed: WorkerNotFound")
    detached = McpTool("time", "get_current_time")
    assert "not attached to a node" in await detached.invoke("{}")
    with pytest.raises(ConfigError, match="Invalid MCP tool name"):
        McpTool("Time", "get time")


class Echo:
    """A stand-in for an agent: answers a conversation_snippet the way agents do."""

    async def handle_message(self, context, message: str) -> None:  # type: ignore[no-untyped-def]
        prompt = json.loads(message)["messages"][0]["content"]
        if prompt == "fail":
            await context.reply(json.dumps({"type": "error", "message": "agent failed on purpose"}))
            return
        await context.reply(json.dumps({"type": "conversation_snippet", "scope": "", "conversation": "",
                                        "messages": [{"role": "assistant", "content": {"text": prompt.upper(),
                                                                                        "type": "text"}}]}))


@pytest.mark.parametrize("path", ["/sse", "/mcp"])
async def test_mcp_server_exposes_agents_as_tools(path: str) -> None:
    server = McpServer("127.0.0.1:0")
    node = await Node.create("mcp-server-node", mcp_server=server)
    client = McpClient("agents", server.url + path)
    try:
        await node.start_spawner("shouter", lambda scope, conversation: Echo(), lambda message: None,
                                 exposed_as="Repeats the prompt in capitals")
        await node.start_spawner("hidden", lambda scope, conversation: Echo(), lambda message: None)
        await client.connect()
        tools = json.loads(await client.list_tools_json())
        assert [(t["name"], t["description"]) for t in tools] == [("shouter", "Repeats the prompt in capitals")]
        assert tools[0]["inputSchema"]["required"] == ["prompt"]
        result = json.loads(await client.call_tool_json("shouter", '{"prompt": "hello"}'))
        assert result == {"content": [{"type": "text", "text": "HELLO"}], "isError": False}
        failed = json.loads(await client.call_tool_json("shouter", '{"prompt": "fail"}'))
        assert failed["isError"] is True and "agent failed on purpose" in failed["content"][0]["text"]
        hidden = json.loads(await client.call_tool_json("hidden", '{"prompt": "x"}'))
        assert hidden["isError"] is True and "No agent exposed as tool 'hidden'" in hidden["content"][0]["text"]
    finally:
        await client.close()
        await node.stop()
    with pytest.raises(McpError):
        await McpClient("agents", server.url + path, connect_timeout=0.2).connect()
