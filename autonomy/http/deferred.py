"""An ASGI app built on its first request.

A node started without an app of the user's serves only the built-in routes; building them imports
FastAPI, pydantic and the agents' routes (~0.5 s of CPU). Most nodes of a zone (runner clones, worker
nodes) never get an HTTP request beyond the deployer's TCP readiness probe, so the server listens at
once and the app is built when the first HTTP or WebSocket request arrives (that request waits for the
build, once). The build runs in the event loop without awaiting, so two first requests cannot build it
twice. Decision and figures: docs/startup.md.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

__all__ = ["DeferredApp"]

logger = logging.getLogger("autonomy.http")

Asgi = Callable[[dict[str, Any], Any, Any], Any]


class DeferredApp:
    """Calls ``build()`` on the first HTTP or WebSocket request, then hands every request to its result.

    Lifespan events are acknowledged here and never reach the built app (serve it with ``lifespan="off"``
    or let this answer them). A failed build fails that request (the server answers 500) and is logged
    with its traceback; the next request tries again.
    """

    def __init__(self, build: Callable[[], Asgi]) -> None:
        self._build = build
        self.app: Asgi | None = None

    def built(self) -> Asgi:
        """The app, built now if it was not yet."""
        if self.app is None:
            try:
                self.app = self._build()
            except Exception:
                logger.exception("building the node's HTTP app failed")
                raise
        return self.app

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] == "lifespan":
            message = await receive()
            while message["type"] != "lifespan.shutdown":
                await send({"type": "lifespan.startup.complete"})
                message = await receive()
            await send({"type": "lifespan.shutdown.complete"})
            return
        await self.built()(scope, receive, send)
