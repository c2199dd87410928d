"""The node's HTTP server (upstream ``HttpServer``): FastAPI served by uvicorn in the node's loop.

FastAPI is imported when the app is built: at start when the user gave an app (``app=`` or ``api=``),
otherwise on the first request (autonomy/http/deferred.py): a node nobody calls over HTTP never loads it.
"""

from __future__ import annotations

import logging
import os
from typing import TYPE_CHECKING, Any

from autonomy.http.deferred import DeferredApp
from autonomy.nodes.address import parse_socket_address
from autonomy.nodes.node import Node
from autonomy.serving import ServedApp, bind_tcp

if TYPE_CHECKING:
    from fastapi import FastAPI

    from autonomy.http.deps import NodeDep, WebSocketNodeDep, get_node, get_websocket_node

__all__ = ["HttpServer", "NodeDep", "WebSocketNodeDep", "get_node", "get_websocket_node"]

logger = logging.getLogger("autonomy.http")


def __getattr__(name: str) -> object:
    # The FastAPI dependencies live in autonomy.http.deps; importable from here as before.
    if name in ("NodeDep", "WebSocketNodeDep", "get_node", "get_websocket_node"):
        from autonomy.http import deps

        return getattr(deps, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


class HttpServer:
    """Serves the node's HTTP API and the user's routes on ``listen_address`` (default 0.0.0.0:8000).

    ``app``: the user's FastAPI app; built-in routes are added to it (routes the user defined first
    win). ``api``: an object with ``routes(node)`` and a FastAPI ``api`` attribute, mounted at ``/``
    after the built-ins. Without ``app``, a new app is made and, when ``API_KEY`` is set, every route
    requires ``?api_key=``; that app is built on the first request. ``start`` returns once the server
    listens; ``address`` is then the bound ``(host, port)``.
    """

    def __init__(self, listen_address: str | None = None, app: FastAPI | None = None, api: Any = None) -> None:
        host = os.environ.get("DEFAULT_HOST_HTTP", "0.0.0.0")
        port = os.environ.get("DEFAULT_PORT_HTTP", "8000")
        self.listen_address = listen_address or f"{host}:{port}"
        self.app = app
        self.api = api
        self.address: tuple[str, int] | None = None
        self._node: Node | None = None
        self._served: ServedApp | None = None

    def get_node(self) -> Node | None:
        return self._node

    def build_app(self, node: Node) -> FastAPI:
        """The app this server serves for ``node``: the user's (or a new one) plus the built-in routes."""
        from autonomy.http.app import build_node_app

        return build_node_app(node, self.app, self.api)

    async def start(self, node: Node) -> None:
        """Bind, start serving in the background, and return once listening."""
        self._node = node
        host, port = parse_socket_address(self.listen_address, default_host="0.0.0.0")
        sock = bind_tcp(host, port, "HTTP",
                        "set DEFAULT_PORT_HTTP to a free port, or pass HttpServer(listen_address=...)", backlog=2048)
        user_app = self.app is not None or self.api is not None
        app: Any = self.build_app(node) if user_app else DeferredApp(lambda: self.build_app(node))
        # Kept-alive connections stay open longer (90 s) than the public gateway keeps an idle one (75 s):
        # the gateway, which never closes in the middle of a request, is the side that closes, so a
        # request is never sent on a connection the node is closing (a "dropped" request under load).
        self._served = await ServedApp.start(app, sock, lifespan="on" if self.app is not None else "off",
                                             timeout_keep_alive=90)
        self.address = self._served.address
        logger.info("node %s serves HTTP on http://%s:%d", node.name, *self.address)

    async def serve(self) -> None:
        """Upstream compatibility: wait until the server stops."""
        if self._served is not None:
            await self._served.wait()

    async def stop(self) -> None:
        """Stop serving; returns when the server has closed."""
        served, self._served = self._served, None
        if served is not None:
            await served.stop()
