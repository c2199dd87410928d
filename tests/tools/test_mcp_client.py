"""McpClient against real MCP servers: mcp-server-time behind mcp-proxy, and one built with the SDK."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator

import pytest

from autonomy.errors import McpError
from autonomy.tools.mcp_client import McpClient
from tests.support.mcp_servers import SdkServer, TimeServer, free_port


@pytest.fixture(scope="module")
def time_server() -> Iterator[TimeServer]:
    with TimeServer() as server:
        yield server


@pytest.fixture(scope="module")
def sdk_server() -> Iterator[SdkServer]:
    with SdkServer() as server:
        yield server


@pytest.mark.parametrize("path", ["/sse", "/mcp"])
async def test_time_server_tools_are_listed_and_called(time_server: TimeServer, path: str) -> None:
    client = McpClient("time", time_server.url + path)
    assert client.transport == ("sse" if path == "/sse" else "streamable-http")
    await client.connect()
    try:
        names = [tool["name"] for tool in json.loads(await client.list_tools_json())]
        assert names == ["get_current_time", "convert_time"]
        spec = json.loads(await client.tool_spec_json("get_current_time"))
        assert spec["name"] == "get_current_time" and spec["inputSchema"]["required"] == ["timezone"]
        assert json.loads(await client.tool_spec_json("nope")) == "Error: Tool not found time/nope"
        result = json.loads(await client.call_tool_json("get_current_time", '{"timezone": "Asia/Tokyo"}'))
        assert result["isError"] is False
        assert json.loads(result["content"][0]["text"])["timezone"] == "Asia/Tokyo"
    finally:
        await client.close()


@pytest.mark.parametrize("path", ["/sse", "/mcp"])
async def test_sdk_server_results_and_tool_errors(sdk_server: SdkServer, path: str) -> None:
    client = McpClient("calc", sdk_server.url + path)
    await client.connect()
    try:
        result = json.loads(await client.call_tool_json("add", '{"a": 2, "b": 40}'))
        assert result["content"][0] == {"type": "text", "text": "42"} and result["isError"] is False
        failed = json.loads(await client.call_tool_json("fail", '{"reason": "boom"}'))
        assert failed["isError"] is True and "boom" in failed["content"][0]["text"]
        bad = json.loads(await client.call_tool_json("add", "[1]"))
        assert bad["isError"] is True and "JSON object" in bad["content"][0]["text"]
    finally:
        await client.close()


async def test_connect_gives_up_with_the_url_when_nothing_listens() -> None:
    url = f"http://127.0.0.1:{free_port()}/sse"
    client = McpClient("absent", url, connect_timeout=0.5)
    with pytest.raises(McpError, match=f"Cannot connect to MCP server 'absent' at {url}"):
        await client.connect()


def test_addresses_must_be_http_urls() -> None:
    with pytest.raises(McpError, match="not an http"):
        McpClient("x", "localhost:8001")


@pytest.mark.parametrize("path", ["/sse", "/mcp"])
async def test_the_client_reconnects_after_the_server_restarts(path: str) -> None:
    server = TimeServer().start()
    client = McpClient("time", server.url + path, connect_timeout=20)
    try:
        await client.connect()
        assert "get_current_time" in await client.list_tools_json()
        await asyncio.to_thread(server.stop)  # the loop runs meanwhile, as in a node
        await asyncio.to_thread(server.start)
        result = json.loads(await client.call_tool_json("get_current_time", '{"timezone": "UTC"}'))
        assert result["isError"] is False
    finally:
        await client.close()
        server.stop()


@pytest.mark.parametrize("path", ["/sse", "/mcp"])
async def test_a_cancelled_call_does_not_leave_its_request_running(sdk_server: SdkServer, path: str) -> None:
    client = McpClient("calc", sdk_server.url + path)
    await client.connect()
    try:
        with pytest.raises(TimeoutError):
            await asyncio.wait_for(client.call_tool_json("wait", '{"seconds": 60}'), 0.5)

        calls = [t for t in asyncio.all_tasks() if "call_tool" in t.get_coro().__qualname__]
        if calls:  # a cancelled request ends at once; one left running would wait for the 60 s tool
            await asyncio.wait(calls, timeout=10)
        assert [t for t in calls if not t.done()] == []
        assert json.loads(await client.call_tool_json("add", '{"a": 1, "b": 2}'))["content"][0]["text"] == "3"
    finally:
        await client.close()
