"""HTTP/1.1 request heads and bodies as the public gateway checks them before they reach a pod.

:func:`read_head` reads one request head within its time limits and refuses what a pod must never
see; :func:`forward_body` copies the request's body (``Content-Length`` or chunked) and refuses one
over the size limit. Refusals are :class:`RequestRefused` carrying the HTTP status to answer:

- 400 a malformed head (request line, header syntax, conflicting or bad framing headers);
- 408 a head not complete within ``head_timeout`` seconds (the connection is then closed);
- 413 a body larger than ``max_body`` bytes;
- 431 a head larger than ``MAX_HEAD`` bytes.
"""

from __future__ import annotations

import asyncio
import os
import re
from dataclasses import dataclass

from autonomy.errors import AutonomyError, ConfigError

__all__ = ["Head", "Limits", "MAX_HEAD", "RequestRefused", "forward_body", "read_head"]

MAX_HEAD = 64 * 1024
CHUNK = 64 * 1024
DEFAULT_MAX_BODY = 1024 * 1024

_REQUEST_LINE = re.compile(rb"[!#$%&'*+\-.^_`|~0-9A-Za-z]+ [\x21-\x7e]+ HTTP/1\.[01]")
_HEADER = re.compile(rb"[!#$%&'*+\-.^_`|~0-9A-Za-z]+:[\t\x20-\x7e\x80-\xff]*")


class RequestRefused(AutonomyError):
    """A request the gateway answers itself with ``status`` and ``message`` (then closes)."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


@dataclass(frozen=True)
class Limits:
    """``max_body`` bytes per request body; ``head_timeout`` seconds for a head once it started;
    ``idle_timeout`` seconds a kept-alive connection may wait for its next request."""

    max_body: int = DEFAULT_MAX_BODY
    head_timeout: float = 10.0
    idle_timeout: float = 75.0

    @classmethod
    def from_env(cls) -> Limits:
        """``AUTONOMY_MAX_BODY_BYTES`` (default 1 MiB), ``AUTONOMY_HEAD_TIMEOUT`` (10 s),
        ``AUTONOMY_IDLE_TIMEOUT`` (75 s); ConfigError naming a malformed one."""
        values = []
        for name, default, kind in (("AUTONOMY_MAX_BODY_BYTES", DEFAULT_MAX_BODY, int),
                                    ("AUTONOMY_HEAD_TIMEOUT", 10.0, float), ("AUTONOMY_IDLE_TIMEOUT", 75.0, float)):
            raw = os.environ.get(name, "").strip()
            try:
                value = kind(raw) if raw else default
            except ValueError:
                value = -1
            if value <= 0:
                raise ConfigError(f"{name} must be a positive number, not {raw!r}")
            values.append(value)
        return cls(int(values[0]), float(values[1]), float(values[2]))


@dataclass(frozen=True)
class Head:
    raw: bytes  # the whole head, CRLF CRLF included
    host: str
    content_length: int | None
    chunked: bool
    upgrade: bool  # after this request the connection carries another protocol (WebSocket)


async def read_head(reader: asyncio.StreamReader, limits: Limits, first: bool) -> Head | None:
    """The next request head; None when the client closed (or stayed idle past ``idle_timeout``)
    between requests. Raises RequestRefused."""
    try:
        async with asyncio.timeout(limits.idle_timeout if not first else limits.head_timeout):
            start = await reader.read(1)
            for _ in range(4):  # empty lines before a request line are ignored (RFC 9112 §2.2)
                if start not in (b"\r", b"\n"):
                    break
                start = await reader.read(1)
    except TimeoutError:
        if first:
            raise RequestRefused(408, "the request head did not arrive in time") from None
        return None
    if not start:
        return None
    try:
        async with asyncio.timeout(limits.head_timeout):
            rest = await reader.readuntil(b"\r\n\r\n")
    except TimeoutError:
        raise RequestRefused(408, f"the request head was not complete within {limits.head_timeout:g} s") from None
    except asyncio.LimitOverrunError:
        raise RequestRefused(431, f"the request head is larger than {MAX_HEAD // 1024} KiB") from None
    except asyncio.IncompleteReadError:
        return None  # the client went away in the middle of a head
    return parse_head(start + rest)


def parse_head(raw: bytes) -> Head:
    """Check ``raw`` (a request head ending with CRLF CRLF); raises RequestRefused(400) naming the problem."""
    if len(raw) > MAX_HEAD:
        raise RequestRefused(431, f"the request head is larger than {MAX_HEAD // 1024} KiB")
    lines = raw[:-4].split(b"\r\n")
    if not _REQUEST_LINE.fullmatch(lines[0]):
        raise RequestRefused(400, "malformed request line: expected 'METHOD /path HTTP/1.1'")
    host: str | None = None
    length: int | None = None
    chunked = upgrade = False
    for line in lines[1:]:
        if not _HEADER.fullmatch(line):
            raise RequestRefused(400, f"malformed header line {line[:40]!r}: expected 'Name: value'")
        name, value = line.split(b":", 1)
        name, value = name.lower(), value.strip()
        if name == b"host":
            if host is not None:
                raise RequestRefused(400, "more than one Host header")
            host = value.decode("latin-1")
        elif name == b"content-length":
            if not value.isdigit() or (length is not None and length != int(value)):
                raise RequestRefused(400, f"bad Content-Length {value[:20]!r}")
            length = int(value)
        elif name == b"transfer-encoding":
            if value.lower() != b"chunked":
                raise RequestRefused(400, f"unsupported Transfer-Encoding {value[:20]!r}: only chunked")
            chunked = True
        elif name == b"upgrade":
            upgrade = True
    if host is None:
        raise RequestRefused(400, "the request has no Host header")
    if chunked and length is not None:
        raise RequestRefused(400, "a request cannot have both Content-Length and Transfer-Encoding")
    return Head(raw, host, length, chunked, upgrade)


async def forward_body(head: Head, reader: asyncio.StreamReader, writer: asyncio.StreamWriter,
                       limits: Limits) -> None:
    """Copy the body of the request ``head`` from ``reader`` to ``writer`` as it arrives. Raises
    RequestRefused(413) before forwarding a body over the limit (a chunked one: at the chunk that
    crosses it), 400 for bad chunk framing, IncompleteReadError when the client goes away."""
    too_big = RequestRefused(413, f"the request body is larger than {limits.max_body} bytes "
                                  "(AUTONOMY_MAX_BODY_BYTES)")
    if head.content_length is not None:
        if head.content_length > limits.max_body:
            raise too_big
        left = head.content_length
        while left:
            chunk = await reader.read(min(left, CHUNK))
            if not chunk:
                raise asyncio.IncompleteReadError(b"", left)
            writer.write(chunk)
            await writer.drain()
            left -= len(chunk)
        return
    if not head.chunked:
        return
    total = 0
    while True:
        size_line = await reader.readuntil(b"\r\n")
        size_text = size_line.split(b";", 1)[0].strip()
        try:
            size = int(size_text, 16)
        except ValueError:
            raise RequestRefused(400, f"bad chunk size {size_text[:20]!r}") from None
        total += size
        if total > limits.max_body:
            raise too_big
        writer.write(size_line)
        if size == 0:
            while True:  # trailers, then the empty line
                line = await reader.readuntil(b"\r\n")
                writer.write(line)
                if line == b"\r\n":
                    await writer.drain()
                    return
        writer.write(await reader.readexactly(size + 2))
        await writer.drain()
