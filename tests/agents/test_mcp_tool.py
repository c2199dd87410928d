"""An agent using a tool of a real MCP server (mcp-server-time behind mcp-proxy, over SSE)."""

from __future__ import annotations

import json
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from autonomy import Node
from autonomy.agents import Agent
from autonomy.nodes.message import ToolCallResponseMessage

BIN = Path(sys.executable).parent


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def time_server():
    if not (BIN / "mcp-proxy").exists() or not (BIN / "mcp-server-time").exists():
        pytest.skip("needs the mcp-tools extra: pip install -e '.[mcp-tools]'")
    port = free_port()
    proc = subprocess.Popen([str(BIN / "mcp-proxy"), "--port", str(port), "--host", "127.0.0.1", "--",
                             str(BIN / "mcp-server-time")], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        yield f"http://127.0.0.1:{port}/sse"  # McpClient.connect retries until the proxy listens
    finally:
        proc.terminate()
        proc.wait(10)


async def test_agent_calls_an_mcp_tool_and_gets_its_result(time_server, model, fake_llm):
    from autonomy.tools import McpTool
    from autonomy.tools.mcp_client import McpClient

    fake_llm.reply(tool_calls=[("time_get_current_time", {"timezone": "Europe/Paris"})])
    fake_llm.reply("It is later than you think")
    async with Node.open("mcp-agent", mcp_clients=[McpClient("time", time_server, connect_timeout=30)]) as node:
        agent = await Agent.start(node, "Tell the time.", model=model, tools=[McpTool("time", "get_current_time")])
        messages = await agent.send("time in Paris?", timeout=60)
    result = next(m for m in messages if isinstance(m, ToolCallResponseMessage))
    assert result.name == "time_get_current_time"
    assert "Europe/Paris" in result.content.text and json.loads(result.content.text)
    tools = fake_llm.completion_requests()[0].json["tools"]
    spec = next(t for t in tools if t["function"]["name"] == "time_get_current_time")
    assert "timezone" in spec["function"]["parameters"]["properties"]
    assert messages[-1].content.text == "It is later than you think"
