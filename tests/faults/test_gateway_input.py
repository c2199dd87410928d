"""Faults at the public gateway: malformed, huge and slow heads, bodies over the limit, on fresh and
kept-alive connections. Each gets its status (400, 431, 408, 413) and nothing bad reaches the pod."""

from __future__ import annotations

import asyncio

import pytest

from autonomy.cluster.public_gateway import PublicGateway
from autonomy.cluster.request_heads import Limits

CLUSTER = "0123456789abcdef0123456789abcdef"
HOST = f"Host: {CLUSTER}-shop.localhost\r\n"


async def _keep_alive_pod(seen: list[bytes]):
    """A pod stand-in answering every request of a connection (Content-Length bodies) with its body size."""

    async def serve(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                seen.append(head)
                length = next((int(line.split(b":")[1]) for line in head.split(b"\r\n")
                               if line.lower().startswith(b"content-length:")), 0)
                body = await reader.readexactly(length)
                if b"transfer-encoding: chunked" in head.lower():
                    while size := int((await reader.readuntil(b"\r\n")).strip(), 16):
                        body += (await reader.readexactly(size + 2))[:-2]
                    await reader.readuntil(b"\r\n")
                answer = b"got %d" % len(body)
                writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n%s" % (len(answer), answer))
                await writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        finally:
            writer.close()

    server = await asyncio.start_server(serve, "127.0.0.1", 0)
    return server, server.sockets[0].getsockname()[1]


@pytest.fixture
async def gateway():
    seen: list[bytes] = []
    server, port = await _keep_alive_pod(seen)
    gw = PublicGateway(CLUSTER, lambda zone: ("127.0.0.1", port) if zone == "shop" else "no",
                       port=0, limits=Limits(max_body=1000, head_timeout=0.5, idle_timeout=5))
    await gw.start()
    yield gw, seen
    await gw.stop()
    server.close()
    await server.wait_closed()


async def _exchange(gw: PublicGateway, data: bytes, wait: float = 10) -> bytes:
    reader, writer = await asyncio.open_connection("127.0.0.1", gw.port)
    try:
        writer.write(data)
        await writer.drain()
        async with asyncio.timeout(wait):
            return await reader.read()  # until the gateway closes
    finally:
        writer.close()


def _status(response: bytes) -> int:
    return int(response.split(b" ", 2)[1])


MALFORMED = [
    b"GARBAGE\r\n" + HOST.encode() + b"\r\n",
    b"GET / HTTP/1.1 extra\r\n" + HOST.encode() + b"\r\n",
    b"GET / HTTP/9.9\r\n" + HOST.encode() + b"\r\n",
    b"GET /\x00 HTTP/1.1\r\n" + HOST.encode() + b"\r\n",
    b"GET / HTTP/1.1\r\n" + HOST.encode() + b"no colon here\r\n\r\n",
    b"GET / HTTP/1.1\r\n" + HOST.encode() + b" folded: header\r\n\r\n",
    b"GET / HTTP/1.1\r\n" + HOST.encode() + b"Bad Name: x\r\n\r\n",
    b"GET / HTTP/1.1\r\n\r\n",  # no Host
    b"GET / HTTP/1.1\r\n" + HOST.encode() + HOST.encode() + b"\r\n",
    b"POST / HTTP/1.1\r\n" + HOST.encode() + b"Content-Length: 12x\r\n\r\n",
    b"POST / HTTP/1.1\r\n" + HOST.encode() + b"Content-Length: 1\r\nContent-Length: 2\r\n\r\n",
    b"POST / HTTP/1.1\r\n" + HOST.encode() + b"Transfer-Encoding: gzip\r\n\r\n",
    b"POST / HTTP/1.1\r\n" + HOST.encode() + b"Content-Length: 1\r\nTransfer-Encoding: chunked\r\n\r\n",
    b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03\r\n\r\n",  # TLS on the plain HTTP port
]


@pytest.mark.parametrize("head", MALFORMED, ids=range(len(MALFORMED)))
async def test_a_malformed_head_gets_400_and_never_reaches_the_pod(gateway, head):
    gw, seen = gateway
    response = await _exchange(gw, head)
    assert _status(response) == 400, response
    assert seen == []


async def test_a_huge_head_gets_431(gateway):
    gw, seen = gateway
    response = await _exchange(gw, b"GET / HTTP/1.1\r\n" + HOST.encode() + b"X-Big: " + b"a" * 70_000 + b"\r\n\r\n")
    assert _status(response) == 431 and seen == []


async def test_slow_heads_are_answered_408_and_closed(gateway):
    gw, seen = gateway

    async def slow(data: bytes) -> bytes:
        reader, writer = await asyncio.open_connection("127.0.0.1", gw.port)
        try:
            writer.write(data)
            async with asyncio.timeout(10):  # the gateway's head timeout is 0.5 s
                return await reader.read()
        finally:
            writer.close()

    answers = await asyncio.gather(*(slow(b"GET / HTTP/1.1\r\nHo" if i % 2 else b"") for i in range(50)))
    assert all(_status(a) == 408 for a in answers)
    assert seen == []


async def test_a_body_over_the_limit_gets_413_and_the_pod_sees_nothing(gateway):
    gw, seen = gateway
    response = await _exchange(gw, b"POST / HTTP/1.1\r\n" + HOST.encode() + b"Content-Length: 5000000\r\n\r\n")
    assert _status(response) == 413 and b"AUTONOMY_MAX_BODY_BYTES" in response
    assert seen == []


async def test_a_chunked_body_over_the_limit_gets_413(gateway):
    gw, _ = gateway
    chunks = b"".join(b"%x\r\n%s\r\n" % (300, b"x" * 300) for _ in range(5)) + b"0\r\n\r\n"
    response = await _exchange(gw, b"POST / HTTP/1.1\r\n" + HOST.encode() + b"Transfer-Encoding: chunked\r\n\r\n"
                               + chunks)
    # Chunked bodies stream through: the pod got the head and the chunks under the limit, then the
    # gateway closed its side; the client's answer is the 413.
    assert _status(response) == 413


async def test_a_bad_request_later_on_a_kept_alive_connection_is_refused_after_the_good_ones(gateway):
    gw, seen = gateway
    good = b"POST / HTTP/1.1\r\n" + HOST.encode() + b"Content-Length: 3\r\n\r\nabc"
    response = await _exchange(gw, good + good + b"POST / HTTP/1.1\r\n" + HOST.encode()
                               + b"Content-Length: 999999\r\n\r\n")
    assert response.count(b"HTTP/1.1 200 OK") == 2 and response.count(b"got 3") == 2
    assert response.rsplit(b"HTTP/1.1 ", 1)[1].startswith(b"413")
    assert len(seen) == 2


async def test_requests_within_the_limits_pass_on_one_connection(gateway):
    gw, seen = gateway
    body = b"y" * 1000
    chunked = (b"POST / HTTP/1.1\r\n" + HOST.encode() + b"Transfer-Encoding: chunked\r\n\r\n3e8\r\n" + body
               + b"\r\n0\r\n\r\n")
    reader, writer = await asyncio.open_connection("127.0.0.1", gw.port)
    try:
        writer.write(b"POST / HTTP/1.1\r\n" + HOST.encode() + b"Content-Length: 1000\r\n\r\n" + body)
        async with asyncio.timeout(10):
            assert (await reader.readuntil(b"got 1000")).startswith(b"HTTP/1.1 200")
        writer.write(chunked)
        async with asyncio.timeout(10):
            assert (await reader.readuntil(b"\r\n\r\n")).startswith(b"HTTP/1.1 200")
    finally:
        writer.close()
    assert len(seen) == 2 and b"x-forwarded-for" in seen[1].lower()
