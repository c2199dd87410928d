"""Node runtime benchmarks: in-node request/reply, fan-out, idle workers' memory.

    .venv/bin/python -m benchmarks.bench_nodes        (or: python -m benchmarks.run nodes)

Every figure is compared with a baseline measured in the same run: a plain-asyncio actor (an
``asyncio.Queue`` and a task per actor, a future per request), the floor any actor runtime in
Python pays. AutoGen core and pykka are measured too when installed (``pip install -e '.[bench]'``).
"""

import asyncio
import gc
import os
import time
import tracemalloc
from collections.abc import Awaitable, Callable

import psutil

from autonomy import Node

SEQUENTIAL = 20_000
FANOUT_WORKERS = 1_000
FANOUT_ROUNDS = 20
IDLE_WORKERS = 100_000
ROUNDS = 3


class Echo:
    async def handle_message(self, context, message):
        await context.reply(message)


class PlainActor:
    """The baseline: one task and one queue per actor, a future per request."""

    def __init__(self) -> None:
        self.queue: asyncio.Queue = asyncio.Queue()
        self.task = asyncio.get_running_loop().create_task(self._run())

    async def _run(self) -> None:
        while True:
            message, future = await self.queue.get()
            future.set_result(message)

    async def ask(self, message: str) -> str:
        future = asyncio.get_running_loop().create_future()
        self.queue.put_nowait((message, future))
        return await future


async def stop_actors(actors: list[PlainActor]) -> None:
    for actor in actors:
        actor.task.cancel()
    await asyncio.gather(*(a.task for a in actors), return_exceptions=True)


async def best_rate(run: Callable[[], Awaitable[int]]) -> float:
    """Operations per second, best of ROUNDS (the least disturbed by other load)."""
    best = 0.0
    for _ in range(ROUNDS):
        start = time.perf_counter()
        count = await run()
        best = max(best, count / (time.perf_counter() - start))
    return best


async def sequential() -> dict[str, float]:
    actor = PlainActor()

    async def plain() -> int:
        for _ in range(SEQUENTIAL):
            await actor.ask("ping")
        return SEQUENTIAL

    rates = {}
    async with Node.open("bench") as node:
        await node.start_worker("echo", Echo())

        async def ours() -> int:
            for _ in range(SEQUENTIAL):
                await node.send_and_receive("echo", "ping")
            return SEQUENTIAL

        # interleave to share the machine's noise between the two
        rates["plain"] = await best_rate(plain)
        rates["autonomy"] = await best_rate(ours)
        rates["plain"] = max(rates["plain"], await best_rate(plain))
    await stop_actors([actor])
    rates.update(await autogen_sequential())
    rates.update(pykka_sequential())
    return rates


try:  # AutoGen evaluates handler type hints at class creation: keep these at module level
    from dataclasses import dataclass

    from autogen_core import AgentId, MessageContext, RoutedAgent, SingleThreadedAgentRuntime, message_handler

    @dataclass
    class Ping:
        text: str

    class EchoAgent(RoutedAgent):
        def __init__(self) -> None:
            super().__init__("echo")

        @message_handler
        async def on_ping(self, message: Ping, ctx: MessageContext) -> Ping:
            return message
except ImportError:
    SingleThreadedAgentRuntime = None


async def autogen_sequential() -> dict[str, float]:
    if SingleThreadedAgentRuntime is None:
        return {}
    runtime = SingleThreadedAgentRuntime()
    await EchoAgent.register(runtime, "echo", EchoAgent)
    runtime.start()
    target = AgentId("echo", "default")
    count = SEQUENTIAL // 10

    async def run() -> int:
        for _ in range(count):
            await runtime.send_message(Ping("ping"), target)
        return count

    rate = await best_rate(run)
    await runtime.stop()
    return {"autogen-core": rate}


def pykka_sequential() -> dict[str, float]:
    try:
        import pykka
    except ImportError:
        return {}

    class EchoActor(pykka.ThreadingActor):
        def on_receive(self, message):
            return message

    ref = EchoActor.start()
    count = SEQUENTIAL // 10
    best = 0.0
    for _ in range(ROUNDS):
        start = time.perf_counter()
        for _ in range(count):
            ref.ask("ping")
        best = max(best, count / (time.perf_counter() - start))
    ref.stop()
    return {"pykka": best}


async def fanout() -> dict[str, float]:
    actors = [PlainActor() for _ in range(FANOUT_WORKERS)]

    async def plain() -> int:
        for _ in range(FANOUT_ROUNDS):
            await asyncio.gather(*(a.ask("ping") for a in actors))
        return FANOUT_ROUNDS * FANOUT_WORKERS

    async with Node.open("bench") as node:
        names = [f"w{i}" for i in range(FANOUT_WORKERS)]
        for name in names:
            await node.start_worker(name, Echo())

        async def ours() -> int:
            for _ in range(FANOUT_ROUNDS):
                await asyncio.gather(*(node.send_and_receive(n, "ping") for n in names))
            return FANOUT_ROUNDS * FANOUT_WORKERS

        rates = {"plain": await best_rate(plain), "autonomy": await best_rate(ours)}
    await stop_actors(actors)
    return rates


async def idle_memory() -> dict[str, float]:
    """Bytes per idle worker (the worker object included), by RSS and by tracemalloc; and the baseline's."""
    process = psutil.Process(os.getpid())
    async with Node.open("bench") as node:
        gc.collect()
        rss_before = process.memory_info().rss
        tracemalloc.start()
        for i in range(IDLE_WORKERS):
            await node.start_worker(f"worker-{i}", Echo())
        gc.collect()
        traced, _ = tracemalloc.get_traced_memory()
        tracemalloc.stop()
        rss_after = process.memory_info().rss
        tasks = len(asyncio.all_tasks())
        # every one of them still answers
        assert await node.send_and_receive(f"worker-{IDLE_WORKERS - 1}", "ping") == "ping"
    gc.collect()
    tracemalloc.start()
    actors = [PlainActor() for _ in range(10_000)]
    await asyncio.sleep(0)
    plain_traced, _ = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    await stop_actors(actors)
    return {"rss": (rss_after - rss_before) / IDLE_WORKERS, "traced": traced / IDLE_WORKERS,
            "plain_traced": plain_traced / 10_000, "tasks": tasks}


def verdict(ok: bool) -> str:
    return "yes" if ok else "**no**"


async def main() -> None:
    seq = await sequential()
    fan = await fanout()
    idle = await idle_memory()
    ratio = seq["autonomy"] / seq["plain"]
    lines = [
        "## Node runtime (in one node)",
        "",
        f"Python {'.'.join(map(str, os.sys.version_info[:3]))}, event loop: "
        f"{type(asyncio.get_running_loop()).__module__.split('.')[0]}, load average "
        f"{os.getloadavg()[0]:.2f}. Best of {ROUNDS} rounds each.",
        "",
        "| benchmark | autonomy | baseline (plain asyncio actor) | ratio | goal | met |",
        "|---|---|---|---|---|---|",
        f"| sequential request/reply, {SEQUENTIAL:,} x `send_and_receive` to an echo worker | "
        f"{seq['autonomy']:,.0f} req/s | {seq['plain']:,.0f} req/s | {ratio:.2f}x | >= 0.6x | "
        f"{verdict(ratio >= 0.6)} |",
        f"| fan-out: one request to each of {FANOUT_WORKERS:,} workers concurrently, x{FANOUT_ROUNDS} | "
        f"{fan['autonomy']:,.0f} req/s | {fan['plain']:,.0f} req/s | {fan['autonomy'] / fan['plain']:.2f}x | "
        "(reported) | |",
        f"| {IDLE_WORKERS:,} idle workers: memory per worker (tracemalloc; worker object included) | "
        f"{idle['traced']:,.0f} B | {idle['plain_traced']:,.0f} B per plain actor (task + queue) | "
        f"{idle['traced'] / idle['plain_traced']:.2f}x | <= 1 KB | {verdict(idle['traced'] <= 1024)} |",
        f"| same, by process RSS growth | {idle['rss']:,.0f} B | | | <= 1 KB | {verdict(idle['rss'] <= 1024)} |",
        "",
        f"Tasks alive with {IDLE_WORKERS:,} idle workers: {idle['tasks']} (no task per idle worker).",
        "",
        "Other actor runtimes on the same sequential request/reply (same run, relative to the plain-asyncio floor):",
        "",
        "| runtime | req/s | ratio to floor |",
        "|---|---|---|",
    ]
    for name in ("autonomy", "autogen-core", "pykka"):
        if name in seq:
            lines.append(f"| {name} | {seq[name]:,.0f} | {seq[name] / seq['plain']:.2f}x |")
    if "autogen-core" not in seq:
        lines.append("| autogen-core, pykka | not installed (`pip install -e '.[bench]'`) | |")
    print("\n".join(lines))


if __name__ == "__main__":
    try:
        import uvloop
    except ImportError:
        asyncio.run(main())
    else:
        uvloop.run(main())
