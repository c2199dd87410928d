"""The public gateway: ``http://{cluster}-{zone}.localhost:{port}/`` -> port 8000 of the zone's main pod.

An HTTP/1.1 reverse proxy on raw asyncio streams, in the controller. It reads one request head, routes by
its ``Host`` (``{cluster}-{zone}.localhost``, any port), adds ``X-Forwarded-For``/``-Host``/``-Proto`` and
then pipes bytes both ways until either side closes: request and response bodies stream through
unbuffered (chunked responses, server-sent events, slow uploads, WebSocket upgrades all pass as they
are) and the overhead is a copy per chunk. Decision: a client connection is bound to the zone of its
first request (HTTP clients keep one connection per origin, and the origin includes the host name);
a later request on it with another ``Host`` still goes to that zone.

Unknown hosts, unknown zones and zones whose main pod is not ``public: true`` get ``404`` with a plain
text message saying why; an unreachable pod gets ``502``.

The same port also serves the path form ``http://127.0.0.1:{port}/z/{zone}/...`` (for clients that do not
resolve ``*.localhost``) and the cluster console on ``127.0.0.1``, ``localhost`` and ``{cluster}.localhost``
(:mod:`.gateway_routes` decides). The console runs in the controller on a Unix socket (``console_socket``).
When a zone's app answers ``404`` to ``GET /`` (it defines no page there), the client is redirected to the
zone's console page instead (first request of a connection only: later ones are not parsed).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable
from pathlib import Path

from autonomy.cluster.gateway_routes import Route, route_request

__all__ = ["PublicGateway"]

log = logging.getLogger("autonomy.cluster")

MAX_HEAD = 64 * 1024
CHUNK = 64 * 1024

# resolve(zone) -> (host, port) of the zone's main pod, or a message saying why it is not served
Resolver = Callable[[str], "tuple[str, int] | str"]


class PublicGateway:
    """Serves zones of cluster ``cluster_id`` on ``host:port`` (port 0 picks a free port)."""

    def __init__(self, cluster_id: str, resolve: Resolver, host: str = "127.0.0.1", port: int = 32100,
                 console_socket: Path | None = None) -> None:
        self.cluster_id = cluster_id
        self.resolve = resolve
        self.console_socket = console_socket
        self.host = host
        self.port = port
        self._server: asyncio.Server | None = None
        self._connections: set[asyncio.Task[None]] = set()

    async def start(self) -> int:
        """Listen; returns the bound port once accepting connections."""
        self._server = await asyncio.start_server(self._serve, self.host, self.port, limit=MAX_HEAD)
        self.port = self._server.sockets[0].getsockname()[1]
        return self.port

    async def stop(self) -> None:
        if self._server is not None:
            self._server.close()
            for task in list(self._connections):
                task.cancel()
            await asyncio.gather(*self._connections, return_exceptions=True)
            await self._server.wait_closed()
            self._server = None

    def zone_of(self, host_header: str) -> str | None:
        """``{cluster}-{zone}.localhost[:port]`` -> ``zone``; None for any other host."""
        name = host_header.strip().lower().rsplit(":", 1)[0] if "]" not in host_header else ""
        prefix, suffix = f"{self.cluster_id}-", ".localhost"
        if name.startswith(prefix) and name.endswith(suffix):
            zone = name[len(prefix):-len(suffix)]
            return zone or None
        return None

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._connections.add(task)
        try:
            await self._proxy(reader, writer)
        except (ConnectionError, asyncio.IncompleteReadError, asyncio.LimitOverrunError):
            pass  # the client went away or sent a malformed head: nothing to answer
        except Exception:
            log.exception("public gateway: connection failed")
        finally:
            self._connections.discard(task)
            writer.close()

    async def _proxy(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        head = await reader.readuntil(b"\r\n\r\n")
        route = route_request(head, self.cluster_id, self.port)
        if route.kind == "none":
            await _answer(writer, 404, route.reason + "\n")
            return
        if route.kind == "console":
            if self.console_socket is None:
                await _answer(writer, 404, "this cluster serves no console\n")
                return
            try:
                up_reader, up_writer = await asyncio.open_unix_connection(str(self.console_socket), limit=CHUNK)
            except OSError as exc:
                await _answer(writer, 502, f"the cluster console is not reachable ({exc})\n")
                return
            await self._relay(route, reader, writer, up_reader, up_writer)
            return
        assert route.zone is not None
        target = self.resolve(route.zone)
        if isinstance(target, str):
            await _answer(writer, 404, target + "\n")
            return
        try:
            up_reader, up_writer = await asyncio.open_connection(*target, limit=CHUNK)
        except OSError as exc:
            await _answer(writer, 502, f"zone {route.zone!r}: its main pod at {target[0]}:{target[1]} is not "
                                       f"reachable ({exc}); see `autonomy zone status {route.zone}`\n")
            return
        await self._relay(route, reader, writer, up_reader, up_writer)

    async def _relay(self, route: Route, reader: asyncio.StreamReader, writer: asyncio.StreamWriter,
                     up_reader: asyncio.StreamReader, up_writer: asyncio.StreamWriter) -> None:
        head = route.head
        peer = writer.get_extra_info("peername")
        forwarded = (f"X-Forwarded-For: {peer[0] if peer else ''}\r\nX-Forwarded-Host: {route.host}\r\n"
                     "X-Forwarded-Proto: http\r\n").encode("latin-1")
        end_of_request_line = head.index(b"\r\n") + 2
        up_writer.write(head[:end_of_request_line] + forwarded + head[end_of_request_line:])
        upload = asyncio.ensure_future(_pipe(reader, up_writer))
        try:
            if route.root and route.kind == "zone":
                response = await up_reader.readuntil(b"\r\n\r\n")
                if response.split(b" ", 2)[1:2] == [b"404"]:
                    await _redirect(writer, self._console_page(route))
                    return
                writer.write(response)
            await _pipe(up_reader, writer)
        finally:
            upload.cancel()
            with contextlib.suppress(asyncio.CancelledError, ConnectionError):
                await upload
            up_writer.close()

    def _console_page(self, route: Route) -> str:
        """The console page of ``route``'s zone, on the host form the client used."""
        if route.prefix:  # path form: same host, the console lives at its root
            return f"/zones/{route.zone}"
        return f"http://{self.cluster_id}.localhost:{self.port}/zones/{route.zone}"


async def _pipe(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    """Copy until EOF, then half-close the other side; each chunk is sent as soon as it arrives."""
    while chunk := await reader.read(CHUNK):
        writer.write(chunk)
        await writer.drain()
    if writer.can_write_eof():
        with contextlib.suppress(OSError):
            writer.write_eof()


async def _redirect(writer: asyncio.StreamWriter, location: str) -> None:
    body = f"This app defines no page at /: its zone's console is at {location}\n".encode()
    writer.write(f"HTTP/1.1 307 Temporary Redirect\r\nLocation: {location}\r\n"
                 f"Content-Type: text/plain; charset=utf-8\r\nContent-Length: {len(body)}\r\n"
                 "Connection: close\r\n\r\n".encode("latin-1") + body)
    await writer.drain()


async def _answer(writer: asyncio.StreamWriter, status: int, message: str) -> None:
    reason = {404: "Not Found", 502: "Bad Gateway"}[status]
    body = message.encode()
    writer.write(f"HTTP/1.1 {status} {reason}\r\nContent-Type: text/plain; charset=utf-8\r\n"
                 f"Content-Length: {len(body)}\r\nConnection: close\r\n\r\n".encode() + body)
    await writer.drain()
