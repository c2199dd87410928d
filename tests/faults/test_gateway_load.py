"""Load through the public gateway: 2,000 requests from 200 kept-alive connections at once, to a real
node process. Every request gets its response: no connection is dropped."""

from __future__ import annotations

import asyncio
import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from autonomy.cluster.public_gateway import PublicGateway

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[2]
CLUSTER = "0123456789abcdef0123456789abcdef"
CONNECTIONS = 200
PER_CONNECTION = 10


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def node_port(tmp_path):
    port = _free_port()
    env = {k: v for k, v in os.environ.items() if k not in ("CLUSTER", "ZONE", "NODE", "AUTONOMY_FABRIC_URL")}
    env.update(DEFAULT_PORT_HTTP=str(port), DEFAULT_HOST_HTTP="127.0.0.1", PYTHONPATH=str(ROOT))
    with open(tmp_path / "node.log", "w") as log:
        process = subprocess.Popen([sys.executable, str(Path(__file__).with_name("hello_app.py"))], env=env,
                                   cwd=ROOT, stdout=log, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 60
        while True:
            assert process.poll() is None, (tmp_path / "node.log").read_text()[-2000:]
            try:
                if httpx.get(f"http://127.0.0.1:{port}/hello", timeout=5).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            assert time.monotonic() < deadline, "the node did not start"
            time.sleep(0.05)
        yield port
    finally:
        process.terminate()
        process.wait(timeout=30)


async def _client(port: int, counts: dict[str, int]) -> None:
    """One kept-alive connection sending PER_CONNECTION requests, one after the other."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    request = f"GET /hello HTTP/1.1\r\nHost: {CLUSTER}-shop.localhost\r\n\r\n".encode()
    try:
        for _ in range(PER_CONNECTION):
            writer.write(request)
            head = await reader.readuntil(b"\r\n\r\n")
            length = int(next(line.split(b":")[1] for line in head.split(b"\r\n")
                              if line.lower().startswith(b"content-length:")))
            await reader.readexactly(length)
            counts["ok" if head.startswith(b"HTTP/1.1 200") else "error"] += 1
    except (ConnectionError, asyncio.IncompleteReadError):
        counts["dropped"] += 1
    finally:
        writer.close()


async def test_2000_kept_alive_requests_at_200_concurrent_are_all_answered(node_port):
    gateway = PublicGateway(CLUSTER, lambda zone: ("127.0.0.1", node_port), port=0)
    await gateway.start()
    counts = {"ok": 0, "error": 0, "dropped": 0}
    try:
        async with asyncio.timeout(170):
            await asyncio.gather(*(_client(gateway.port, counts) for _ in range(CONNECTIONS)))
    finally:
        await gateway.stop()
    assert counts == {"ok": CONNECTIONS * PER_CONNECTION, "error": 0, "dropped": 0}


async def test_a_kept_alive_connection_idle_for_a_while_still_carries_the_next_request(node_port):
    """The node keeps idle connections longer than the gateway does (90 s vs 75 s): a request after a
    pause is never sent on a connection the node is closing (uvicorn's own default is 5 s)."""
    gateway = PublicGateway(CLUSTER, lambda zone: ("127.0.0.1", node_port), port=0)
    await gateway.start()
    counts = {"ok": 0, "error": 0, "dropped": 0}
    request = f"GET /hello HTTP/1.1\r\nHost: {CLUSTER}-shop.localhost\r\n\r\n".encode()
    try:
        reader, writer = await asyncio.open_connection("127.0.0.1", gateway.port)
        try:
            for pause in (0, 6):
                await asyncio.sleep(pause)
                writer.write(request)
                head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 30)
                length = int(next(line.split(b":")[1] for line in head.split(b"\r\n")
                                  if line.lower().startswith(b"content-length:")))
                await reader.readexactly(length)
                counts["ok" if head.startswith(b"HTTP/1.1 200") else "error"] += 1
        finally:
            writer.close()
    finally:
        await gateway.stop()
    assert counts == {"ok": 2, "error": 0, "dropped": 0}
