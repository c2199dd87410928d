"""The public gateway: ``http://{cluster}-{zone}.localhost:{port}/`` -> port 8000 of the zone's main pod.

An HTTP/1.1 reverse proxy on raw asyncio streams, in the gateway daemon (:mod:`.gateways`). It reads one request
head, routes by its ``Host`` (``{cluster}-{zone}.localhost``, any port), adds ``X-Forwarded-For``/``-Host``/
``-Proto`` and then pipes bytes both ways until either side closes: request and response bodies stream through
unbuffered (chunked responses, server-sent events, slow uploads, WebSocket upgrades all pass as they
are) and the overhead is a copy per chunk. Decision: a client connection is bound to the zone of its
first request (HTTP clients keep one connection per origin, and the origin includes the host name);
a later request on it with another ``Host`` still goes to that zone.

Unknown hosts, unknown zones and zones whose main pod is not ``public: true`` get ``404`` with a plain
text message saying why; an unreachable pod, or one that closes the connection without a byte of answer,
gets ``502``; the console while the controller is down ``503``.

Every request head on a connection is checked before it is forwarded (``request_heads``): a malformed
head gets ``400``, a head over 64 KiB ``431``, a head not complete within ``AUTONOMY_HEAD_TIMEOUT``
seconds ``408`` and the connection closed, a body over ``AUTONOMY_MAX_BODY_BYTES`` (1 MiB) ``413``.
A refusal after earlier requests of the connection waits for their responses, then answers and closes.

The same port also serves the path form ``http://127.0.0.1:{port}/z/{zone}/...`` (for clients that do not
resolve ``*.localhost``) and the cluster console on ``127.0.0.1``, ``localhost`` and ``{cluster}.localhost``
(:mod:`.gateway_routes` decides; those connections carry one request each). The console runs in the
controller on a Unix socket (``console_socket``). When a zone's app answers ``404`` to ``GET /`` (it
defines no page there), the client is redirected to the zone's console page instead (first request of a
connection only: later ones are not parsed).

With a ``tracer`` (:mod:`.gateway_spans`, set by the controller when the cluster collects traces) each request
forwarded to a zone gets a span, its ``traceparent`` goes up in the request head, and responses are copied
one by one (:mod:`.response_frames`) to end each span with its status; without one, none of that runs.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable
from pathlib import Path
from typing import Any, cast

from autonomy.cluster.gateway_routes import Route, route_request
from autonomy.cluster.gateway_spans import ConnectionSpans, GatewayTracer
from autonomy.cluster.request_heads import MAX_HEAD, Head, Limits, RequestRefused, forward_body, read_head
from autonomy.cluster.response_frames import pipe_responses

__all__ = ["PublicGateway"]

log = logging.getLogger("autonomy.cluster")

CHUNK = 64 * 1024
WHOLE_BODY = 64 * 1024  # request bodies up to this size are sent up together with their head
CONSOLE_DOWN = ("the cluster console is unavailable: the cluster controller is not running right now (it is "
                "restarted within seconds); retry in a moment\n")

# resolve(zone) -> (host, port) of the zone's main pod, or a message saying why it is not served
Resolver = Callable[[str], "tuple[str, int] | str"]


class PublicGateway:
    """Serves zones of cluster ``cluster_id`` on ``host:port`` (port 0 picks a free port)."""

    def __init__(self, cluster_id: str, resolve: Resolver, host: str = "127.0.0.1", port: int = 32100,
                 limits: Limits | None = None, console_socket: Path | None = None) -> None:
        self.limits = limits or Limits.from_env()
        self.console_socket = console_socket
        self.cluster_id = cluster_id
        self.resolve = resolve
        self.host = host
        self.port = port
        self._server: asyncio.Server | None = None
        #: spans per proxied zone request (:mod:`.gateway_spans`); None: no spans, the plain byte pipe
        self.tracer: GatewayTracer | None = None
        self._connections: set[asyncio.Task[None]] = set()

    async def start(self) -> int:
        """Listen; returns the bound port once accepting connections."""
        # A deep backlog: a burst of new connections (200 clients at once) waits in it instead of being
        # refused or retried after a second.
        self._server = await asyncio.start_server(self._serve, self.host, self.port, limit=MAX_HEAD, backlog=2048)
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
        except asyncio.CancelledError:
            pass  # the gateway stops: this connection task ends here, quietly
        except Exception:
            log.exception("public gateway: connection failed")
        finally:
            self._connections.discard(task)
            writer.close()

    async def _proxy(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            head = await read_head(reader, self.limits, first=True)
            if head is not None and head.content_length is not None and head.content_length > self.limits.max_body:
                await forward_body(head, reader, writer, self.limits)  # raises 413 before reading anything
        except RequestRefused as exc:
            await _answer(writer, exc.status, exc.message + "\n")
            return
        if head is None:
            return
        route = route_request(head.raw, self.cluster_id, self.port)
        if route.kind == "none":
            await _answer(writer, 404, route.reason + "\n")
            return
        if route.kind == "console":
            if self.console_socket is None:
                await _answer(writer, 404, "this cluster serves no console\n")
                return
            try:
                up_reader, up_writer = await asyncio.open_unix_connection(str(self.console_socket), limit=CHUNK)
            except OSError as exc:  # the console runs in the controller, which may be down (restarting) meanwhile
                log.warning("the console cannot be reached: %s", exc)
                await _answer(writer, 503, CONSOLE_DOWN)
                return
        else:
            zone = route.zone or ""
            target = self.resolve(zone)
            if isinstance(target, str):
                await _answer(writer, 404, target + "\n")
                return
            try:
                up_reader, up_writer = await asyncio.open_connection(*target, limit=CHUNK)
            except OSError as exc:
                await _answer(writer, 502, f"zone {zone!r}: its main pod at {target[0]}:{target[1]} is not "
                                           f"reachable ({exc}); see `autonomy zone status {zone}`\n")
                return
        peer = writer.get_extra_info("peername")
        forwarded = (f"X-Forwarded-For: {peer[0] if peer else ''}\r\nX-Forwarded-Host: {route.host}\r\n"
                     "X-Forwarded-Proto: http\r\n").encode("latin-1")
        # The path form and the console rewrite the head and ask for one request per connection.
        single = route.kind == "console" or bool(route.prefix)
        spans = self.tracer.connection(route.zone or "") if self.tracer is not None and route.kind == "zone" else None
        upload = asyncio.ensure_future(self._upload(head, route.head, forwarded, reader, up_writer, single, spans))
        counted = _Counting(writer)  # a pod or console that closes without a byte of answer: the client is told
        download = asyncio.ensure_future(self._download(route, up_reader, cast(asyncio.StreamWriter, counted), spans))
        try:
            await asyncio.wait({upload, download}, return_when=asyncio.FIRST_COMPLETED)
            refused = upload.result() if upload.done() and not upload.exception() else None
            if refused is not None:
                # Let the pod finish the responses to the earlier requests, then answer and close.
                if up_writer.can_write_eof():
                    with contextlib.suppress(OSError):
                        up_writer.write_eof()
                with contextlib.suppress(TimeoutError, ConnectionError):
                    await asyncio.wait_for(asyncio.shield(download), self.limits.head_timeout)
                download.cancel()
                await _answer(writer, refused.status, refused.message + "\n")
            else:
                with contextlib.suppress(asyncio.IncompleteReadError, ConnectionError):  # reset by a dying upstream
                    await download
                if not counted.written:
                    if route.kind == "console":
                        log.warning("the console closed a connection without answering")
                        await _answer(writer, 503, CONSOLE_DOWN)
                    else:
                        await _answer(writer, 502, f"zone {route.zone!r}: its main pod closed the connection "
                                                   "without answering (it may be restarting); see "
                                                   f"`autonomy zone status {route.zone}`\n")
        finally:
            for task in (upload, download):
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError, ConnectionError, asyncio.IncompleteReadError):
                    await task
            up_writer.close()
            if spans is not None:
                spans.close()

    async def _download(self, route: Route, up_reader: asyncio.StreamReader, writer: asyncio.StreamWriter,
                        spans: ConnectionSpans | None = None) -> None:
        """The responses, to the client; a 404 to a zone's ``GET /`` becomes a redirect to its console page.
        With ``spans``, response by response, ending each request's span (:mod:`.response_frames`)."""
        response: bytes | None = None
        if route.root and route.kind == "zone":
            response = await up_reader.readuntil(b"\r\n\r\n")
            if response.split(b" ", 2)[1:2] == [b"404"]:
                if spans is not None:
                    spans.end(307)
                await _redirect(writer, self._console_page(route))
                return
            if spans is None:
                writer.write(response)
        if spans is not None:
            await pipe_responses(up_reader, writer, spans, response)
            return
        await _pipe(up_reader, writer, eof=False)

    def _console_page(self, route: Route) -> str:
        """The console page of ``route``'s zone, on the host form the client used."""
        if route.prefix:  # path form: same host, the console lives at its root
            return f"/zones/{route.zone}"
        return f"http://{self.cluster_id}.localhost:{self.port}/zones/{route.zone}"

    async def _upload(self, head: Head | None, first_raw: bytes, forwarded: bytes, reader: asyncio.StreamReader,
                      up_writer: asyncio.StreamWriter, single: bool,
                      spans: ConnectionSpans | None = None) -> RequestRefused | None:
        """Forward the connection's requests, each head checked (the first as routed: ``first_raw``); returns
        the refusal that ended it, or None when the client finished (the pod's side is then half-closed).
        ``single``: forward only the first request (the upstream closes after its response). ``spans``: start
        a span per request, its ``traceparent`` in the head sent up."""
        first = True
        try:
            while head is not None:
                if head.content_length is not None and head.content_length > self.limits.max_body:
                    await forward_body(head, reader, up_writer, self.limits)  # raises 413
                raw = first_raw if first else head.raw
                if spans is not None:
                    raw = spans.begin(head.raw, raw)
                end_of_request_line = raw.index(b"\r\n") + 2
                # A small body goes up with its head in one write: an upstream that answers from the head
                # alone (a 403, a 413) and closes before reading the body would otherwise make our write of
                # the body fail, and a failed write closes the connection before its answer is read.
                whole = head.content_length is not None and head.content_length <= WHOLE_BODY
                body = await reader.readexactly(head.content_length) if whole and head.content_length else b""
                up_writer.write(raw[:end_of_request_line] + forwarded + raw[end_of_request_line:] + body)
                if not whole:
                    await forward_body(head, reader, up_writer, self.limits)
                if head.upgrade:  # another protocol from here on: bytes as they are
                    await _pipe(reader, up_writer)
                    return None
                if single:  # no half-close: a server seeing EOF (uvicorn) drops a request still being answered
                    return None
                first = False
                head = await read_head(reader, self.limits, first)
        except RequestRefused as exc:
            return exc
        except asyncio.LimitOverrunError:
            return RequestRefused(431, f"the request head is larger than {MAX_HEAD // 1024} KiB")
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        if up_writer.can_write_eof():
            with contextlib.suppress(OSError):
                up_writer.write_eof()
        return None


class _Counting:
    """The client's writer, counting what the gateway wrote to it (the rest passes through)."""

    def __init__(self, writer: asyncio.StreamWriter) -> None:
        self._writer = writer
        self.written = 0

    def write(self, data: bytes) -> None:
        self.written += len(data)
        self._writer.write(data)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._writer, name)


async def _pipe(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, eof: bool = True) -> None:
    """Copy until EOF, then (``eof``) half-close the other side; each chunk is sent as soon as it arrives."""
    while chunk := await reader.read(CHUNK):
        writer.write(chunk)
        await writer.drain()
    if eof and writer.can_write_eof():
        with contextlib.suppress(OSError):
            writer.write_eof()


async def _redirect(writer: asyncio.StreamWriter, location: str) -> None:
    body = f"This app defines no page at /: its zone's console is at {location}\n".encode()
    writer.write(f"HTTP/1.1 307 Temporary Redirect\r\nLocation: {location}\r\n"
                 f"Content-Type: text/plain; charset=utf-8\r\nContent-Length: {len(body)}\r\n"
                 "Connection: close\r\n\r\n".encode("latin-1") + body)
    await writer.drain()


async def _answer(writer: asyncio.StreamWriter, status: int, message: str) -> None:
    reason = {400: "Bad Request", 404: "Not Found", 408: "Request Timeout", 413: "Content Too Large",
              431: "Request Header Fields Too Large", 502: "Bad Gateway", 503: "Service Unavailable"}[status]
    body = message.encode()
    writer.write(f"HTTP/1.1 {status} {reason}\r\nContent-Type: text/plain; charset=utf-8\r\n"
                 f"Content-Length: {len(body)}\r\nConnection: close\r\n\r\n".encode() + body)
    await writer.drain()
