"""Serve the gateway app with uvicorn in the caller's event loop; ``start`` returns once listening."""

from __future__ import annotations

import asyncio
import contextlib
import socket
from collections.abc import Iterator

import uvicorn
from fastapi import FastAPI

__all__ = ["GatewayServer"]


class _Server(uvicorn.Server):
    """uvicorn without signal handling (the owner of the loop handles signals), plus a ready event."""

    def __init__(self, config: uvicorn.Config) -> None:
        super().__init__(config)
        self.ready = asyncio.Event()

    async def startup(self, sockets: list[socket.socket] | None = None) -> None:
        await super().startup(sockets=sockets)
        self.ready.set()

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        yield


class GatewayServer:
    """Serves ``app`` on ``host:port`` (port 0: any free port). ``url`` is set once started.

    The server task is owned here: if it dies, :meth:`stop` (or :meth:`wait`) raises its error.
    """

    def __init__(self, app: FastAPI, host: str = "127.0.0.1", port: int = 0) -> None:
        self.app = app
        self.host = host
        self.port = port
        self.url = ""
        self._server: _Server | None = None
        self._task: asyncio.Task[None] | None = None

    async def start(self) -> str:
        """Bind, serve in the background, return the base URL (``http://host:port``) once listening."""
        family = socket.AF_INET6 if ":" in self.host else socket.AF_INET
        # proto=IPPROTO_TCP matters: asyncio sets TCP_NODELAY only on sockets whose proto says TCP, and
        # accepted sockets inherit proto 0 from a socket made without it: every response then waits
        # ~40 ms for the client's delayed ACK (Nagle between the header and body writes).
        sock = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((self.host, self.port))
        except OSError as exc:
            sock.close()
            raise OSError(exc.errno, f"Cannot serve the model gateway on {self.host}:{self.port} "
                                     f"({exc.strerror}): choose a free port") from exc
        sock.listen(1024)
        sock.setblocking(False)
        host, port = sock.getsockname()[:2]
        config = uvicorn.Config(self.app, log_level="warning", access_log=False, lifespan="on",
                                timeout_graceful_shutdown=2)
        self._server = server = _Server(config)
        self._task = task = asyncio.create_task(server.serve(sockets=[sock]))
        ready = asyncio.ensure_future(server.ready.wait())
        await asyncio.wait({task, ready}, return_when=asyncio.FIRST_COMPLETED)
        if not ready.done() or not server.started:
            ready.cancel()
            sock.close()
            if task.done():
                task.result()  # raises why uvicorn did not start
            raise RuntimeError("model gateway stopped before it started listening")
        self.port = port
        self.url = f"http://{host if family == socket.AF_INET else f'[{host}]'}:{port}"
        return self.url

    async def wait(self) -> None:
        """Wait until the server stops."""
        if self._task is not None:
            await self._task

    async def stop(self) -> None:
        """Stop serving (providers are closed by the app's lifespan); returns when closed."""
        if self._server is None or self._task is None:
            return
        self._server.should_exit = True
        await self._task
        self._server = self._task = None
