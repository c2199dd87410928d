"""Agent benchmarks: an agent turn over HTTP, idle agents' memory, many concurrent conversations.

    .venv/bin/python -m benchmarks.bench_agents        (or: python -m benchmarks.run agents)

The model is an *instant* one (an in-process object answering at once), so the figures measure the
runtime (HTTP, routing, decoding, memory, the loop), not a model. Baselines measured in the same run:
a plain FastAPI echo endpoint served the same way (for the HTTP turn), and a plain echo worker on the
same node (for concurrent conversations). The HTTP servers run in a child process (uvloop) and the
load generator (16 keep-alive connections, a minimal HTTP/1.1 client) in this one.
"""

from __future__ import annotations

import asyncio
import gc
import json
import os
import subprocess
import sys
import time
import tracemalloc
from types import SimpleNamespace
from typing import Any

from fastapi import FastAPI, Request

from autonomy import HttpServer, Node
from autonomy.agents import Agent

HTTP_REQUESTS = 2_000
HTTP_CLIENTS = 16
IDLE_AGENTS = 10_000
CONVERSATIONS = 1_000
MESSAGES_PER_CONVERSATION = 5
ROUNDS = 3


class InstantModel:
    """Answers every completion at once with the same text (a prebuilt ChatCompletion-shaped object)."""

    def __init__(self) -> None:
        message = SimpleNamespace(content="ok", tool_calls=None)
        self.response = SimpleNamespace(choices=[SimpleNamespace(message=message, finish_reason="stop")])

    def complete_chat(self, messages: Any, stream: bool = False, tools: Any = None, **kwargs: Any) -> Any:
        return self._answer()

    async def _answer(self) -> Any:
        return self.response


class Echo:
    async def handle_message(self, context: Any, message: str) -> None:
        await context.reply(message)


# ---- the HTTP server side (child process) ------------------------------------------------------


async def _serve(kind: str) -> None:
    if kind == "fastapi":
        import uvicorn

        app = FastAPI()

        @app.post("/echo")
        async def echo(request: Request) -> Any:
            return [await request.json()]

        config = uvicorn.Config(app, host="127.0.0.1", port=0, log_level="warning", access_log=False)
        server = uvicorn.Server(config)
        task = asyncio.ensure_future(server.serve())
        while not server.started:  # noqa: ASYNC110  (uvicorn has no started event)
            await asyncio.sleep(0.01)
        port = server.servers[0].sockets[0].getsockname()[1]
        print(port, flush=True)
        await task
        return
    async with Node.open("bench-http", http_server=HttpServer("127.0.0.1:0")) as node:
        await Agent.start(node, "You answer ok.", name="bench", model=InstantModel(),
                          max_messages_in_short_term_memory=20)
        print(node.http_server.address[1], flush=True)
        await asyncio.Event().wait()


def _start_server(kind: str) -> tuple[subprocess.Popen[str], int]:
    proc = subprocess.Popen([sys.executable, "-m", "benchmarks.bench_agents", "--serve", kind],
                            stdout=subprocess.PIPE, text=True)
    line = proc.stdout.readline() if proc.stdout else ""
    if not line.strip().isdigit():
        proc.kill()
        raise RuntimeError(f"benchmark server {kind!r} did not start")
    return proc, int(line)


async def _post(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, path: str, body: bytes) -> None:
    """One keep-alive HTTP/1.1 POST; raises unless the answer is 200. (httpx alone tops out near the
    servers' own rates on this machine, which would hide the difference being measured.)"""
    writer.write(b"POST %s HTTP/1.1\r\nHost: bench\r\nContent-Type: application/json\r\n"
                 b"Content-Length: %d\r\n\r\n%s" % (path.encode(), len(body), body))
    head = await reader.readuntil(b"\r\n\r\n")
    if not head.startswith(b"HTTP/1.1 200"):
        raise RuntimeError(f"benchmark request failed: {head[:200]!r}")
    length = next(int(line.split(b":", 1)[1]) for line in head.split(b"\r\n")
                  if line.lower().startswith(b"content-length:"))
    await reader.readexactly(length)


async def _load(port: int, path: str, body: dict[str, Any]) -> float:
    """Requests per second from HTTP_CLIENTS concurrent keep-alive connections, best of ROUNDS."""
    best = 0.0
    per_client = HTTP_REQUESTS // HTTP_CLIENTS
    connections = [await asyncio.open_connection("127.0.0.1", port) for _ in range(HTTP_CLIENTS)]
    bodies = [[json.dumps({**body, "conversation": f"c{i}-{k % 4}"}).encode() for k in range(4)]
              for i in range(HTTP_CLIENTS)]
    try:
        for _ in range(ROUNDS):

            async def run(i: int) -> None:
                reader, writer = connections[i]
                for k in range(per_client):
                    await _post(reader, writer, path, bodies[i][k % 4])

            start = time.perf_counter()
            await asyncio.gather(*(run(i) for i in range(HTTP_CLIENTS)))
            best = max(best, per_client * HTTP_CLIENTS / (time.perf_counter() - start))
    finally:
        for _, writer in connections:
            writer.close()
    return best


async def http_turn() -> dict[str, float]:
    rates = {}
    for kind, path in (("fastapi", "/echo"), ("agent", "/agents/bench"), ("fastapi", "/echo")):
        proc, port = _start_server(kind)
        try:
            rate = await _load(port, path, {"message": "hi", "scope": "s"})
            rates[kind] = max(rates.get(kind, 0.0), rate)
        finally:
            proc.terminate()
            proc.wait()
    return rates


# ---- in-process ------------------------------------------------------------------------------------


async def idle_agents() -> dict[str, float]:
    async with Node.open("bench-idle") as node:
        model = InstantModel()
        await Agent.start(node, "warm-up", model=model)  # imports and first-use caches
        gc.collect()
        tracemalloc.start()
        before = tracemalloc.get_traced_memory()[0]
        references = [await Agent.start(node, "You answer ok.", model=model) for _ in range(IDLE_AGENTS)]
        gc.collect()
        kept = tracemalloc.get_traced_memory()[0] - before
        del references
        gc.collect()
        dropped = tracemalloc.get_traced_memory()[0] - before
        tracemalloc.stop()
        await node.stop()
    return {"kept": kept / IDLE_AGENTS, "dropped": dropped / IDLE_AGENTS}


async def conversations() -> dict[str, float]:
    rates = {"agent": 0.0, "echo": 0.0}
    async with Node.open("bench-conv") as node:
        agent = await Agent.start(node, "You answer ok.", model=InstantModel(), max_messages_in_short_term_memory=20)
        await node.start_worker("echo", Echo())

        async def talk(i: int) -> None:
            for _ in range(MESSAGES_PER_CONVERSATION):
                await agent.send("hi", scope="s", conversation=f"c{i}")

        async def echo(i: int) -> None:
            for _ in range(MESSAGES_PER_CONVERSATION):
                await node.send_and_receive("echo", '{"scope": "s"}')

        total = CONVERSATIONS * MESSAGES_PER_CONVERSATION
        for _ in range(ROUNDS):
            for name, fn in (("echo", echo), ("agent", talk)):
                start = time.perf_counter()
                await asyncio.gather(*(fn(i) for i in range(CONVERSATIONS)))
                rates[name] = max(rates[name], total / (time.perf_counter() - start))
    return rates


def main() -> None:
    try:
        import uvloop

        runner = asyncio.Runner(loop_factory=uvloop.new_event_loop)
    except ImportError:
        runner = asyncio.Runner()
    with runner:
        http = runner.run(http_turn())
        idle = runner.run(idle_agents())
        conv = runner.run(conversations())
    print("## agents\n")
    print(f"Instant in-process model; HTTP load from {HTTP_CLIENTS} keep-alive connections against a server in "
          f"a child process; {CONVERSATIONS} conversations x {MESSAGES_PER_CONVERSATION} messages in one node; "
          f"{IDLE_AGENTS} idle agents measured with tracemalloc. Best of {ROUNDS}. cpus={os.cpu_count()}.\n")
    print("| measure | autonomy | baseline | ratio | goal |")
    print("|---|---|---|---|---|")
    print(f"| agent turn over HTTP (POST /agents/x), req/s | {http['agent']:,.0f} | FastAPI echo endpoint "
          f"{http['fastapi']:,.0f} | {http['agent'] / http['fastapi']:.2f}x | >= 0.5x |")
    print(f"| memory per idle agent (reference kept), bytes | {idle['kept']:,.0f} | - | - | <= 2048 |")
    print(f"| memory per idle agent (reference dropped), bytes | {idle['dropped']:,.0f} | - | - | <= 2048 |")
    print(f"| {CONVERSATIONS} concurrent conversations, agent turns/s | {conv['agent']:,.0f} | echo worker "
          f"{conv['echo']:,.0f} msg/s | {conv['agent'] / conv['echo']:.2f}x | throughput |")


if __name__ == "__main__":
    if len(sys.argv) == 3 and sys.argv[1] == "--serve":
        try:
            import uvloop

            uvloop.run(_serve(sys.argv[2]))
        except ImportError:
            asyncio.run(_serve(sys.argv[2]))
    else:
        main()
