"""Models, tools and MCP: what our layer costs over calling the SDKs directly.

    .venv/bin/python -m benchmarks.bench_tools        (or: python -m benchmarks.run tools)

1. ``Model.complete_chat`` (non-streamed and streamed) against the fake LLM endpoint, vs the same
   request made with a bare ``openai.AsyncOpenAI`` client, sequentially, in the same run.
2. ``Tool.invoke`` (JSON parsing, argument checking, a thread hop for sync functions) vs calling the
   function directly.
3. ``McpClient.call_tool_json`` and ``Node.call_mcp_tool`` vs the SDK's ``ClientSession.call_tool``
   on one open session, against ``mcp-server-time`` behind ``mcp-proxy`` (SSE), sequentially.
"""

from __future__ import annotations

import asyncio
import os
import sys
import time
from collections.abc import Awaitable, Callable
from contextlib import AsyncExitStack
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import openai  # noqa: E402
from mcp import ClientSession  # noqa: E402
from mcp.client.sse import sse_client  # noqa: E402

from autonomy.models import Model, aclose_clients  # noqa: E402
from autonomy.nodes import Node  # noqa: E402
from autonomy.tools import Tool  # noqa: E402
from autonomy.tools.mcp_client import McpClient  # noqa: E402
from tests.support.fake_llm import FakeLLM  # noqa: E402
from tests.support.mcp_servers import TimeServer  # noqa: E402

MESSAGES = [{"role": "system", "content": "You are brief."}, {"role": "user", "content": "Say hello in five words"}]


async def per_call(fn: Callable[[], Awaitable[Any]], n: int) -> float:
    """Median of 3 rounds of ``n`` sequential calls, in microseconds per call."""
    for _ in range(min(n, 20)):
        await fn()
    rounds = []
    for _ in range(3):
        start = time.perf_counter()
        for _ in range(n):
            await fn()
        rounds.append((time.perf_counter() - start) / n * 1e6)
    return sorted(rounds)[1]


def row(what: str, ours: float, base: float, base_name: str) -> str:
    return f"| {what} | {ours:,.0f} µs | {base:,.0f} µs ({base_name}) | {ours / base:.2f}x |"


async def models(llm: FakeLLM) -> list[str]:
    os.environ["OPENAI_BASE_URL"] = llm.base_url
    os.environ["OPENAI_API_KEY"] = llm.api_key
    model = Model("fake-model")
    raw = openai.AsyncOpenAI(base_url=llm.base_url, api_key=llm.api_key, max_retries=0)

    async def ours() -> None:
        await model.complete_chat(MESSAGES)

    async def bare() -> None:
        await raw.chat.completions.create(model="fake-model", messages=MESSAGES)

    async def ours_stream() -> None:
        async for _ in model.complete_chat(MESSAGES, stream=True):
            pass

    async def bare_stream() -> None:
        stream = await raw.chat.completions.create(model="fake-model", messages=MESSAGES, stream=True,
                                                   stream_options={"include_usage": True})
        async for _ in stream:
            pass

    rows = [row("Model.complete_chat", await per_call(ours, 100), await per_call(bare, 100), "bare AsyncOpenAI"),
            row("Model.complete_chat(stream=True)", await per_call(ours_stream, 100),
                await per_call(bare_stream, 100), "bare AsyncOpenAI")]
    await raw.close()
    await aclose_clients()
    return rows


async def tools() -> list[str]:
    def add(a: int, b: int) -> int:
        return a + b

    async def add_async(a: int, b: int) -> int:
        return a + b

    sync_tool, async_tool = Tool(add), Tool(add_async)

    async def direct() -> None:
        add(1, 2)

    async def direct_async() -> None:
        await add_async(1, 2)

    sync_invoke = await per_call(lambda: sync_tool.invoke('{"a": 1, "b": 2}'), 2000)
    return [row("Tool.invoke (sync function, thread hop)", sync_invoke, await per_call(direct, 2000), "direct call"),
            row("Tool.invoke (async function)", await per_call(lambda: async_tool.invoke('{"a": 1, "b": 2}'), 2000),
                await per_call(direct_async, 2000), "direct await")]


async def mcp(server: TimeServer) -> list[str]:
    args = '{"timezone": "UTC"}'
    client = McpClient("time", server.url + "/sse")
    node = await Node.create("bench-mcp", mcp_clients=[McpClient("time", server.url + "/sse")])
    await client.connect()
    async with AsyncExitStack() as stack:
        read, write = await stack.enter_async_context(sse_client(server.url + "/sse"))
        session = await stack.enter_async_context(ClientSession(read, write))
        await session.initialize()
        base = await per_call(lambda: session.call_tool("get_current_time", {"timezone": "UTC"}), 100)
        ours = await per_call(lambda: client.call_tool_json("get_current_time", args), 100)
        via_node = await per_call(lambda: node.call_mcp_tool("time", "get_current_time", args), 100)
    await client.close()
    await node.stop()
    return [row("McpClient.call_tool_json (SSE)", ours, base, "SDK ClientSession.call_tool"),
            row("Node.call_mcp_tool (SSE)", via_node, base, "SDK ClientSession.call_tool")]


async def main() -> None:
    with FakeLLM() as llm, TimeServer() as server:
        rows = await models(llm) + await tools() + await mcp(server)
    print("## Models, tools and MCP\n")
    print("Sequential calls on loopback, median of 3 rounds; the baseline is the same operation without our layer,")
    print("measured in the same run. Model rows use the fake LLM endpoint (tests/support/fake_llm.py); MCP rows use")
    print("mcp-server-time behind mcp-proxy.\n")
    print("| operation | ours | baseline | ratio |")
    print("|---|---|---|---|")
    print("\n".join(rows))


if __name__ == "__main__":
    asyncio.run(main())
