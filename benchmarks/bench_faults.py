"""Fault figures: SIGKILL of a node to NodeLeft at a waiting caller, NATS server repair, and load through
the public gateway (dropped requests, p99) against the node reached directly.

    .venv/bin/python -m benchmarks.bench_faults        (or: python -m benchmarks.run faults)

Real processes: an embedded NATS server, node processes (tests/transport/apps/runner.py, restarted at
once under the same name as the local cluster's supervisor does), a node serving HTTP
(tests/faults/hello_app.py). Default heartbeat (1 s). Baseline for the load: the same requests sent
to the node directly, in the same run.
"""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

from autonomy import Node
from autonomy.cluster.fabric_watch import FabricWatch
from autonomy.cluster.public_gateway import PublicGateway
from autonomy.errors import AutonomyError, NodeLeft
from autonomy.transport.base import FabricConfig
from autonomy.transport.credentials import ClusterCredentials
from autonomy.transport.embedded import EmbeddedNats

ROOT = Path(__file__).resolve().parent.parent
KILLS = 5
CONNECTIONS, PER_CONNECTION = 200, 10
CLUSTER = "0123456789abcdef0123456789abcdef"


def _runner(env: dict[str, str]) -> subprocess.Popen[bytes]:
    return subprocess.Popen([sys.executable, str(ROOT / "tests/transport/apps/runner.py")], env=env, cwd=ROOT,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


async def _until_echo(main: Node, name: str) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            if await main.send_and_receive("echo", "x", node=name, timeout=5) == "echo:x":
                return
        except AutonomyError:
            pass
        await asyncio.sleep(0.05)
    raise RuntimeError("the runner did not start")


async def node_left_times() -> list[float]:
    """Seconds from SIGKILL of a runner (restarted at once) to NodeLeft at a caller waiting on it."""
    creds = ClusterCredentials.generate()
    times = []
    with tempfile.TemporaryDirectory() as tmp, EmbeddedNats([creds]) as server:
        file = creds.write_node_credentials(Path(tmp) / "node.json")
        config = FabricConfig((server.url,), str(file))
        name = f"{creds.cluster}-bench-runner-pod"
        env = {**os.environ, "CLUSTER": creds.cluster, "ZONE": "bench", "NODE": name, "PYTHONPATH": str(ROOT),
               "AUTONOMY_FABRIC_URL": server.url, "AUTONOMY_FABRIC_CREDENTIALS": str(file),
               "DEFAULT_PORT_HTTP": "0", "DEFAULT_HOST_HTTP": "127.0.0.1"}
        main = await Node.create(f"{creds.cluster}-bench-main-pod", cluster=creds.cluster, zone="bench",
                                 fabric=config)
        runner = _runner(env)
        try:
            for _ in range(KILLS):
                await _until_echo(main, name)
                call = asyncio.ensure_future(main.send_and_receive("sleeper", "x", node=name))
                ended: list[float] = []
                call.add_done_callback(lambda _, ended=ended: ended.append(time.monotonic()))
                await asyncio.sleep(0.3)
                killed = time.monotonic()
                os.kill(runner.pid, signal.SIGKILL)
                runner.wait()
                runner = _runner(env)  # the supervisor's restart, at once
                try:
                    await asyncio.wait_for(call, 30)
                except NodeLeft:
                    times.append(ended[0] - killed)
        finally:
            runner.kill()
            runner.wait()
            await main.stop()
    return times


async def nats_repair_times() -> list[float]:
    """Seconds from SIGKILL of the NATS server to it accepting connections again (FabricWatch)."""
    creds = ClusterCredentials.generate()
    times = []
    with tempfile.TemporaryDirectory() as tmp:
        server = EmbeddedNats([creds], workdir=Path(tmp) / "nats")
        server.start()
        watch = FabricWatch(server)
        task = asyncio.ensure_future(watch.run())
        try:
            for i in range(KILLS):
                killed = time.monotonic()
                os.kill(server.pid, signal.SIGKILL)
                while watch.restarts <= i:  # noqa: ASYNC110 (the watch's counter: no event to wait on)
                    await asyncio.sleep(0.01)
                times.append(time.monotonic() - killed)
        finally:
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)
            server.stop()
    return times


async def _load(port: int, host: str) -> tuple[list[float], int]:
    latencies: list[float] = []
    dropped = 0

    async def client() -> None:
        nonlocal dropped
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        request = f"GET /hello HTTP/1.1\r\nHost: {host}\r\n\r\n".encode()
        try:
            for _ in range(PER_CONNECTION):
                started = time.perf_counter()
                writer.write(request)
                head = await reader.readuntil(b"\r\n\r\n")
                length = int(next(line.split(b":")[1] for line in head.split(b"\r\n")
                                  if line.lower().startswith(b"content-length:")))
                await reader.readexactly(length)
                latencies.append(time.perf_counter() - started)
        except (ConnectionError, asyncio.IncompleteReadError):
            dropped += PER_CONNECTION - len(latencies) % PER_CONNECTION
        finally:
            writer.close()

    await asyncio.gather(*(client() for _ in range(CONNECTIONS)))
    return latencies, dropped


async def gateway_load() -> tuple[tuple[list[float], int], tuple[list[float], int]]:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    env = {**os.environ, "DEFAULT_PORT_HTTP": str(port), "DEFAULT_HOST_HTTP": "127.0.0.1", "PYTHONPATH": str(ROOT)}
    for key in ("CLUSTER", "ZONE", "NODE", "AUTONOMY_FABRIC_URL"):
        env.pop(key, None)
    node = subprocess.Popen([sys.executable, str(ROOT / "tests/faults/hello_app.py")], env=env, cwd=ROOT,  # noqa: ASYNC220
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    gateway = PublicGateway(CLUSTER, lambda zone: ("127.0.0.1", port), port=0)
    try:
        async with httpx.AsyncClient() as http:
            for _ in range(600):
                try:
                    if (await http.get(f"http://127.0.0.1:{port}/hello")).status_code == 200:
                        break
                except httpx.TransportError:
                    await asyncio.sleep(0.1)
        await gateway.start()
        direct = await _load(port, "node")
        through = await _load(gateway.port, f"{CLUSTER}-shop.localhost")
    finally:
        await gateway.stop()
        node.terminate()
        node.wait()
    return direct, through


def _p99(values: list[float]) -> float:
    return statistics.quantiles(values, n=100)[98] if len(values) > 1 else float("nan")


async def main() -> None:
    left = await node_left_times()
    repair = await nats_repair_times()
    (direct, direct_dropped), (through, dropped) = await gateway_load()
    total = CONNECTIONS * PER_CONNECTION
    print("## Faults: node kill, NATS repair, load through the public gateway\n")
    print(f"`python -m benchmarks.bench_faults`: real processes, default 1 s heartbeat. A killed runner is "
          f"restarted at once under the same name (the worst case before incarnations); {KILLS} kills each. "
          f"Load: {total:,} requests from {CONNECTIONS} kept-alive connections at once to a node's "
          "`GET /hello`, through the public gateway and, as the baseline, directly.\n")
    print("| measure | value | baseline | ratio |\n|---|---|---|---|")
    print(f"| SIGKILL of a node -> NodeLeft at a waiting caller (median, max) | {statistics.median(left):.2f} s, "
          f"{max(left):.2f} s | goal 3 s | {max(left) / 3:.2f} |")
    print(f"| NATS server SIGKILL -> accepting again (median, max) | {statistics.median(repair):.2f} s, "
          f"{max(repair):.2f} s | goal 5 s | {max(repair) / 5:.2f} |")
    print(f"| dropped requests through the gateway | {dropped} of {total:,} | {direct_dropped} direct | – |")
    print(f"| p99 latency through the gateway | {_p99(through) * 1e3:.1f} ms | {_p99(direct) * 1e3:.1f} ms direct "
          f"| {_p99(through) / _p99(direct):.2f} |")
    print(f"| median latency through the gateway | {statistics.median(through) * 1e3:.1f} ms | "
          f"{statistics.median(direct) * 1e3:.1f} ms direct | "
          f"{statistics.median(through) / statistics.median(direct):.2f} |")
    print()


if __name__ == "__main__":
    asyncio.run(main())
