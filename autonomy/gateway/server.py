"""Serve the gateway app in the caller's event loop; ``start`` returns once listening."""

from __future__ import annotations

from fastapi import FastAPI

from autonomy.serving import ServedApp, bind_tcp

__all__ = ["GatewayServer"]


class GatewayServer:
    """Serves ``app`` on ``host:port`` (port 0: any free port). ``url`` is set once started.

    The server task is owned here: if it dies, :meth:`wait` raises its error.
    """

    def __init__(self, app: FastAPI, host: str = "127.0.0.1", port: int = 0) -> None:
        self.app = app
        self.host = host
        self.port = port
        self.url = ""
        self._served: ServedApp | None = None

    async def start(self) -> str:
        """Bind, serve in the background, return the base URL (``http://host:port``) once listening."""
        sock = bind_tcp(self.host, self.port, "the model gateway", "choose a free port")
        self._served = await ServedApp.start(self.app, sock)
        self.port = self._served.address[1]
        self.url = self._served.url
        return self.url

    async def wait(self) -> None:
        """Wait until the server stops."""
        if self._served is not None:
            await self._served.wait()

    async def stop(self) -> None:
        """Stop serving (providers are closed by the app's lifespan); returns when closed."""
        served, self._served = self._served, None
        if served is not None:
            await served.stop()
