"""Agents collaborating across nodes (``benchmarks.bench_scale``'s ``collab`` part), in two shapes.

1,000 agents over 20 nodes (50 each, every node with its own NATS connection, TLS, to one embedded
nats-server); in every round each agent gets one message from another node (``AgentReference.send``
through a ``RemoteNode``: fabric request, agent turn, fabric reply); the model is an in-process object
answering after 50 ms. The ideal is 1,000 turns per 50 ms (20,000 turns/s).

* **one process**: the 20 nodes, their agents and the senders all in this process. Turns/s and the
  CPU per remote turn (user + system of this process over the measured rounds, both ends of every
  turn). One process runs on one core, so its ceiling is 1 / (CPU per turn) turns/s. Measured
  with CPython's own garbage collector settings, then with those a node process sets at start
  (``autonomy.nodes.collector``: a freeze of what exists and higher thresholds). Baseline in the
  same run: 1,000 coroutines sleeping 50 ms per round (the loop's floor on this machine now).
* **deployed**: the same 20 nodes spread over ``PROCESSES`` processes (one per core, as a cluster
  runs nodes in their own processes): even nodes in one, odd nodes in the other, so every turn
  crosses processes (node i-1 asks node i's agents), each with a node process's collector
  settings. Turns/s over the rounds of both, the CPU per
  turn of both processes, and of the nats-server (it routes every message twice per turn). The
  ceiling there is cores / (CPU per turn, ours and the server's).

The processes are started with ``spawn`` and step together through a barrier (up, warmed up,
measured), waiting on it in a thread so their loops keep serving the other's turns meanwhile.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import multiprocessing
import os
import tempfile
import time
from collections.abc import Iterable, Iterator
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import psutil
import uvloop

from autonomy import Node
from autonomy.agents import Agent, AgentReference
from autonomy.nodes import collector
from autonomy.nodes.remote import RemoteNode
from autonomy.transport.base import FabricConfig
from autonomy.transport.credentials import ClusterCredentials
from autonomy.transport.embedded import EmbeddedNats

__all__ = ["SlowModel", "collaboration", "COLLAB_AGENTS", "COLLAB_NODES", "MODEL_LATENCY", "PROCESSES"]

COLLAB_NODES = 20
COLLAB_AGENTS = 1_000
COLLAB_ROUNDS = 5
MODEL_LATENCY = 0.05
PROCESSES = 2
PER_NODE = COLLAB_AGENTS // COLLAB_NODES
BARRIER_TIMEOUT = 600.0


class SlowModel:
    """Answers every completion after MODEL_LATENCY seconds (a ChatCompletion-shaped object)."""

    def __init__(self) -> None:
        message = SimpleNamespace(content="ok", tool_calls=None)
        self.response = SimpleNamespace(choices=[SimpleNamespace(message=message, finish_reason="stop")])

    def complete_chat(self, messages: Any, stream: bool = False, tools: Any = None, **kwargs: Any) -> Any:
        return self._answer()

    async def _answer(self) -> Any:
        await asyncio.sleep(MODEL_LATENCY)
        return self.response


def _cpu(process: psutil.Process) -> float:
    return sum(process.cpu_times()[:2])


async def _host(indices: Iterable[int], fabric: FabricConfig, cluster: str) -> dict[int, Node]:
    """Nodes ``c{i}`` for ``indices``, each with PER_NODE agents ``a{k}``."""
    nodes = {i: await Node.create(f"c{i:02d}", cluster=cluster, fabric=fabric) for i in indices}
    model = SlowModel()
    for node in nodes.values():
        for k in range(PER_NODE):
            await Agent.start(node, "You answer ok.", name=f"a{k}", model=model, max_messages_in_short_term_memory=20)
    return nodes


def _references(nodes: dict[int, Node], targets: Iterable[int]) -> list[AgentReference]:
    """Agent k of node i, asked from node i-1 (which ``nodes`` holds) through a RemoteNode."""
    return [AgentReference(f"a{k}", RemoteNode(nodes[(i - 1) % COLLAB_NODES], f"c{i:02d}"))
            for i in targets for k in range(PER_NODE)]


async def _rounds(refs: list[AgentReference], count: int) -> None:
    for _ in range(count):
        await asyncio.gather(*(ref.send("hi", scope="s", conversation="c") for ref in refs))


async def _stop(nodes: dict[int, Node]) -> None:
    for node in nodes.values():
        await node.stop()


# ---- one process ------------------------------------------------------------------------------------


@contextlib.contextmanager
def node_collector() -> Iterator[None]:
    """The garbage collector as ``Node.start`` sets it in a node process (autonomy.nodes.collector),
    restored after (the other benchmarks run in this process too)."""
    before = gc.get_threshold()
    collector.tune()
    try:
        yield
    finally:
        gc.unfreeze()
        gc.set_threshold(*before)


async def _measured(refs: list[AgentReference], server: psutil.Process) -> dict[str, float]:
    me = psutil.Process(os.getpid())
    cpu, server_cpu, start = _cpu(me), _cpu(server), time.perf_counter()
    await _rounds(refs, COLLAB_ROUNDS)
    elapsed = time.perf_counter() - start
    turns = COLLAB_ROUNDS * len(refs)
    return {"ours": turns / elapsed, "cpu_us": (_cpu(me) - cpu) / turns * 1e6,
            "server_us": (_cpu(server) - server_cpu) / turns * 1e6}


async def one_process(fabric: FabricConfig, cluster: str, server: psutil.Process) -> dict[str, Any]:
    """Measured with CPython's own collector settings, then as a node process sets them."""
    nodes = await _host(range(COLLAB_NODES), fabric, cluster)
    try:
        refs = _references(nodes, range(COLLAB_NODES))
        await _rounds(refs, 1)  # warm-up: first turns create the conversations
        figures = {"cpython_gc": await _measured(refs, server)}
        with node_collector():
            figures.update(await _measured(refs, server))
        start = time.perf_counter()
        for _ in range(COLLAB_ROUNDS):
            await asyncio.gather(*(asyncio.sleep(MODEL_LATENCY) for _ in refs))
        figures["floor"] = COLLAB_ROUNDS * len(refs) / (time.perf_counter() - start)
    finally:
        await _stop(nodes)
    return figures


# ---- deployed: nodes in PROCESSES processes -----------------------------------------------------------


def _part_main(index: int, fabric: FabricConfig, cluster: str, barrier: Any, results: Any) -> None:
    """One process of the deployed shape (the target of ``multiprocessing``'s spawn)."""
    try:
        with asyncio.Runner(loop_factory=uvloop.new_event_loop) as runner:
            runner.run(_part(index, fabric, cluster, barrier, results))
    except BaseException:
        barrier.abort()  # the others (and the parent) stop waiting at once: BrokenBarrierError
        raise


async def _part(index: int, fabric: FabricConfig, cluster: str, barrier: Any, results: Any) -> None:
    async def together() -> None:  # in a thread: this loop goes on serving the other processes' turns
        await asyncio.to_thread(barrier.wait, BARRIER_TIMEOUT)

    nodes = await _host([i for i in range(COLLAB_NODES) if i % PROCESSES == index], fabric, cluster)
    try:
        refs = _references(nodes, [i for i in range(COLLAB_NODES) if (i - 1) % PROCESSES == index])
        await together()  # every process's nodes and agents are up
        await _rounds(refs, 1)
        collector.tune()  # as Node.start does in a node process
        await together()  # warmed up: measure
        me = psutil.Process(os.getpid())
        cpu = _cpu(me)
        await _rounds(refs, COLLAB_ROUNDS)
        await together()  # every process is done (this one served the others' turns until then)
        results.put({"turns": COLLAB_ROUNDS * len(refs), "cpu": _cpu(me) - cpu})
        await together()  # nobody stops a node while another still measures
    finally:
        await _stop(nodes)


async def deployed(fabric: FabricConfig, cluster: str, server: psutil.Process) -> dict[str, float]:
    context = multiprocessing.get_context("spawn")
    barrier = context.Barrier(PROCESSES + 1)
    results = context.Queue()
    processes = [context.Process(target=_part_main, args=(i, fabric, cluster, barrier, results), daemon=True)
                 for i in range(PROCESSES)]
    for process in processes:
        process.start()
    try:
        async def together() -> None:
            await asyncio.to_thread(barrier.wait, BARRIER_TIMEOUT)

        await together()
        await together()
        server_cpu, start = _cpu(server), time.perf_counter()
        await together()
        elapsed, server_cpu = time.perf_counter() - start, _cpu(server) - server_cpu
        parts = [await asyncio.to_thread(results.get, True, BARRIER_TIMEOUT) for _ in processes]
        await together()
        for process in processes:
            await asyncio.to_thread(process.join, BARRIER_TIMEOUT)
    finally:
        for process in processes:
            if process.is_alive():
                process.terminate()
                process.join()
    turns = sum(p["turns"] for p in parts)
    return {"ours": turns / elapsed, "cpu_us": sum(p["cpu"] for p in parts) / turns * 1e6,
            "server_us": server_cpu / turns * 1e6, "processes": PROCESSES}


async def collaboration() -> dict[str, Any]:
    """Both shapes, each on a fresh embedded nats-server; see the module docstring."""
    figures: dict[str, Any] = {"ideal": COLLAB_AGENTS / MODEL_LATENCY, "cores": os.cpu_count() or 1}
    for shape, run in (("one", one_process), ("deployed", deployed)):
        creds = ClusterCredentials.generate()
        with tempfile.TemporaryDirectory() as tmp, EmbeddedNats([creds]) as server:
            fabric = FabricConfig((server.url,), str(creds.write_node_credentials(Path(tmp) / "node.json")))
            figures[shape] = await run(fabric, creds.cluster, psutil.Process(server.pid))
    return figures
