"""Serve an ASGI app with uvicorn inside the running event loop.

Used by the node's HTTP server, the MCP server, the model gateway and the cluster controller (so it sits
beside errors and logs at the bottom of the layers, see docs/architecture.md): one
place that binds the socket (so the bound address is known and the bind error is clear), starts
uvicorn without its signal handling (the owner of the loop handles signals), and returns once the
server listens.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
from collections.abc import Iterator
from typing import Any, Literal

import uvicorn

__all__ = ["ServedApp", "bind_tcp"]


class _Uvicorn(uvicorn.Server):
    def __init__(self, config: uvicorn.Config) -> None:
        super().__init__(config)
        self.ready = asyncio.Event()

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        yield

    async def startup(self, sockets: list[socket.socket] | None = None) -> None:
        await super().startup(sockets=sockets)
        self.ready.set()


def bind_tcp(host: str, port: int, what: str, fix: str, backlog: int = 1024) -> socket.socket:
    """A listening, non-blocking TCP socket on ``host:port``; OSError naming ``what`` and ``fix`` if busy."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    # proto=IPPROTO_TCP: asyncio sets TCP_NODELAY only on sockets that say they are TCP, and accepted
    # sockets inherit the listener's proto; without it every response waits ~40 ms for a delayed ACK.
    sock = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
    except OSError as exc:
        sock.close()
        raise OSError(exc.errno, f"Cannot serve {what} on {host}:{port} ({exc.strerror}): {fix}") from exc
    sock.listen(backlog)
    sock.setblocking(False)
    return sock


class ServedApp:
    """An ASGI app being served. ``address`` is the bound ``(host, port)``; ``url`` its base URL."""

    def __init__(self, server: _Uvicorn, task: asyncio.Task[None], sock: socket.socket) -> None:
        self._server = server
        self._task = task
        self.address: tuple[str, int] = sock.getsockname()[:2] if sock.family != socket.AF_UNIX else ("", 0)
        host = self.address[0]
        self.url = f"http://{f'[{host}]' if ':' in host else host}:{self.address[1]}"

    @classmethod
    async def start(cls, app: Any, sock: socket.socket, *, lifespan: Literal["auto", "on", "off"] = "on",
                    graceful_seconds: float = 2.0, **config: Any) -> ServedApp:
        """Serve ``app`` on the listening ``sock``; return once listening, or raise why it could not."""
        server = _Uvicorn(uvicorn.Config(app, log_level="warning", access_log=False, lifespan=lifespan,
                                         ws_ping_interval=None,
                                         # uvicorn annotates an int; any seconds work (asyncio.wait_for)
                                         timeout_graceful_shutdown=graceful_seconds,  # type: ignore[arg-type]
                                         **config))
        task = asyncio.ensure_future(server.serve(sockets=[sock]))
        ready = asyncio.ensure_future(server.ready.wait())
        await asyncio.wait({task, ready}, return_when=asyncio.FIRST_COMPLETED)
        if not ready.done() or not server.started:
            ready.cancel()
            sock.close()
            if task.done():
                task.result()  # raises why uvicorn did not start
            raise RuntimeError("the server stopped before it started listening")
        return cls(server, task, sock)

    async def wait(self) -> None:
        """Wait until the server stops; raises if it died."""
        await self._task

    async def stop(self, timeout: float = 5.0) -> None:
        """Stop serving; returns when closed (connections still open after ``timeout`` are cut)."""
        self._server.should_exit = True
        try:
            await asyncio.wait_for(asyncio.shield(self._task), timeout)
        except TimeoutError:
            self._server.force_exit = True
            self._task.cancel()
            with contextlib.suppress(BaseException):
                await self._task
