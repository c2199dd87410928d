"""The public gateway on its own: routing by Host, refusals, streaming, against real local servers."""

from __future__ import annotations

import asyncio

import httpx
import pytest

from autonomy.cluster.public_gateway import PublicGateway

CLUSTER = "0123456789abcdef0123456789abcdef"


async def _upstream() -> tuple[asyncio.Server, int, asyncio.Event]:
    """A pod stand-in: answers the request head with a chunked body whose second part waits for an event."""
    release = asyncio.Event()

    async def serve(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        head = await reader.readuntil(b"\r\n\r\n")
        length = next((int(line.split(b":")[1]) for line in head.split(b"\r\n")
                       if line.lower().startswith(b"content-length:")), 0)
        body = await reader.readexactly(length)
        forwarded = b"x-forwarded-host: " in head.lower()
        writer.write(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n")
        first = b"got %d bytes, forwarded=%s\n" % (len(body), str(forwarded).encode())
        writer.write(b"%x\r\n%s\r\n" % (len(first), first))
        await writer.drain()
        await release.wait()
        writer.write(b"5\r\nlast\n\r\n0\r\n\r\n")
        await writer.drain()
        writer.close()

    server = await asyncio.start_server(serve, "127.0.0.1", 0)
    return server, server.sockets[0].getsockname()[1], release


@pytest.fixture
async def gateway():
    server, port, release = await _upstream()
    targets = {"shop": ("127.0.0.1", port), "priv": "zone 'priv' is private", "gone": ("127.0.0.1", 1)}
    gw = PublicGateway(CLUSTER, lambda zone: targets.get(zone, f"no zone {zone!r}"), port=0)
    await gw.start()
    yield gw, release
    release.set()
    await gw.stop()
    server.close()
    await server.wait_closed()


async def test_routes_by_host_and_streams_both_ways(gateway):
    gw, release = gateway
    async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{gw.port}", timeout=10) as http:
        headers = {"Host": f"{CLUSTER}-SHOP.localhost:{gw.port}"}
        async with http.stream("POST", "/", headers=headers, content=b"x" * 100_000) as response:
            chunks = response.aiter_raw()
            assert await chunks.__anext__() == b"got 100000 bytes, forwarded=True\n"
            release.set()  # the pod sends its last part only now: the first one was not buffered
            assert b"".join([c async for c in chunks]) == b"last\n"


@pytest.mark.parametrize(("host", "status", "text"), [
    ("example.com", 404, "No zone is served"),
    (f"{CLUSTER}-priv.localhost", 404, "private"),
    (f"{CLUSTER}-nope.localhost", 404, "no zone 'nope'"),
    ("ffffffffffffffffffffffffffffffff-shop.localhost", 404, "No zone is served"),
    (f"{CLUSTER}-gone.localhost", 502, "not reachable"),
])
async def test_refuses_what_it_does_not_serve_and_says_why(gateway, host, status, text):
    gw, _ = gateway
    async with httpx.AsyncClient(timeout=10) as http:
        response = await http.get(f"http://127.0.0.1:{gw.port}/", headers={"Host": host})
    assert response.status_code == status and text in response.text
