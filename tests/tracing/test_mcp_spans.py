"""An MCP tool call is a span of its own (server, tool, whether the server reported an error)."""

from __future__ import annotations

import json

import autonomy.tracing as tracing
from autonomy.tools.mcp_client import McpClient
from tests.support.mcp_servers import SdkServer
from tests.support.otlp_receiver import OtlpReceiver


async def test_mcp_calls_are_spans_inside_the_callers_trace(receiver: OtlpReceiver) -> None:
    with SdkServer() as server:
        client = McpClient("calc", server.url + "/mcp")
        await client.connect()
        try:
            with tracing.span("tool.call"):
                assert json.loads(await client.call_tool_json("add", '{"a": 2, "b": 40}'))["isError"] is False
                assert json.loads(await client.call_tool_json("fail", '{"reason": "boom"}'))["isError"] is True
        finally:
            await client.close()
    assert tracing.force_flush()
    [parent] = receiver.named("tool.call")
    calls = receiver.named("mcp.call")
    assert [(c.attributes["gen_ai.tool.name"], c.attributes["mcp.is_error"]) for c in calls] == [
        ("add", False), ("fail", True)]
    assert all(c.attributes["mcp.server"] == "calc" and c.parent_span_id == parent.span_id for c in calls)
