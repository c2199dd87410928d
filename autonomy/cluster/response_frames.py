"""Responses copied one by one, so the gateway knows where each ends (only when it traces requests).

The untraced gateway pipes response bytes as they come. To end each request's span when its response is
complete, with its status, :func:`pipe_responses` reads each response head, copies its body by its framing
(``Content-Length``, ``chunked``, none for ``HEAD``/``204``/``304``/``1xx``, else until the upstream
closes) and then calls ``spans.end(status)``. Every byte is still forwarded as soon as it arrives (a chunk
of a streamed response is written when read), so streaming, server-sent events and WebSocket upgrades
(``101``: bytes as they are from then on) behave as without tracing. A response head the gateway cannot
read (over 64 KiB, malformed framing) ends the span without status and the rest is piped as it is.
"""

from __future__ import annotations

import asyncio

from autonomy.cluster.gateway_spans import ConnectionSpans

__all__ = ["pipe_responses"]

CHUNK = 64 * 1024


async def pipe_responses(up_reader: asyncio.StreamReader, writer: asyncio.StreamWriter, spans: ConnectionSpans,
                         first_head: bytes | None = None) -> None:
    """Copy responses from ``up_reader`` to ``writer`` until the upstream closes, ending a span per response.
    ``first_head``: the first response's head when the caller has read it already."""
    head = first_head
    while True:
        if head is None:
            try:
                head = await up_reader.readuntil(b"\r\n\r\n")
            except asyncio.IncompleteReadError as exc:
                writer.write(exc.partial)
                return
            except asyncio.LimitOverrunError:
                spans.end(None)
                await _rest(up_reader, writer)
                return
        writer.write(head)
        framing = _framing(head, spans.method())
        head = None
        if framing is None:  # unreadable: pass the rest as it is
            spans.end(None)
            await _rest(up_reader, writer)
            return
        status, kind, length = framing
        if kind == "interim":  # 100 Continue, 103 Early Hints: the final response follows
            continue
        if kind == "length":
            await _exactly(up_reader, writer, length)
        elif kind == "chunked":
            await _chunked(up_reader, writer)
        elif kind in ("until-close", "upgrade"):
            if kind == "upgrade":
                spans.end(status)
            await _rest(up_reader, writer)
            if kind == "until-close":
                spans.end(status)
            return
        await writer.drain()
        spans.end(status)


def _framing(head: bytes, method: str) -> tuple[int, str, int] | None:
    """``(status, kind, length)``; kind ``interim``, ``upgrade``, ``length``, ``chunked`` or ``until-close``."""
    lines = head[:-4].split(b"\r\n")
    parts = lines[0].split(b" ", 2)
    if len(parts) < 2 or not parts[1].isdigit():
        return None
    status = int(parts[1])
    if status == 101:
        return status, "upgrade", 0
    if 100 <= status < 200:
        return status, "interim", 0
    if method == "HEAD" or status in (204, 304):
        return status, "length", 0
    length: int | None = None
    for line in lines[1:]:
        name, _, value = line.partition(b":")
        name = name.strip().lower()
        if name == b"transfer-encoding" and b"chunked" in value.lower():
            return status, "chunked", 0
        if name == b"content-length":
            if not value.strip().isdigit():
                return None
            length = int(value.strip())
    return (status, "until-close", 0) if length is None else (status, "length", length)


async def _exactly(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, n: int) -> None:
    while n > 0:
        chunk = await reader.read(min(n, CHUNK))
        if not chunk:
            raise asyncio.IncompleteReadError(b"", n)
        writer.write(chunk)
        await writer.drain()
        n -= len(chunk)


async def _chunked(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    while True:
        line = await reader.readuntil(b"\r\n")
        writer.write(line)
        try:
            size = int(line.split(b";", 1)[0].strip(), 16)
        except ValueError:
            raise asyncio.IncompleteReadError(line, None) from None  # not HTTP: the connection ends
        if size == 0:
            while (trailer := await reader.readuntil(b"\r\n")) != b"\r\n":
                writer.write(trailer)
            writer.write(trailer)
            return
        await _exactly(reader, writer, size + 2)


async def _rest(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    while chunk := await reader.read(CHUNK):
        writer.write(chunk)
        await writer.drain()
