"""The node's HTTP server (upstream ``HttpServer``): FastAPI served by uvicorn in the node's loop."""

from __future__ import annotations

import logging
import os
from pathlib import Path
from typing import Annotated, Any

from fastapi import Depends, FastAPI, HTTPException, Query, Request, WebSocket
from fastapi.responses import FileResponse

import autonomy.tracing as tracing
from autonomy.http.guard import InputGuard
from autonomy.nodes.address import parse_socket_address
from autonomy.nodes.node import Node
from autonomy.serving import ServedApp, bind_tcp

__all__ = ["HttpServer", "NodeDep", "WebSocketNodeDep", "get_node", "get_websocket_node"]

logger = logging.getLogger("autonomy.http")


# Dependencies are `async def` so FastAPI calls them inline instead of in its thread pool.
async def get_node(request: Request) -> Node:
    """FastAPI dependency: the node serving this request."""
    return request.state.node


async def get_websocket_node(websocket: WebSocket) -> Node:
    """FastAPI dependency: the node serving this WebSocket."""
    return websocket.state.node


NodeDep = Annotated[Node, Depends(get_node)]
WebSocketNodeDep = Annotated[Node, Depends(get_websocket_node)]


class _NodeMiddleware:
    """Puts the node into ``request.state.node`` / ``websocket.state.node``."""

    def __init__(self, app: Any, node: Node) -> None:
        self.app = app
        self.node = node

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] in ("http", "websocket"):
            scope.setdefault("state", {})["node"] = self.node
            if tracing.enabled() and _traced(scope):  # a span per request: what it causes elsewhere joins it
                attributes = {"http.request.method": scope.get("method"), "url.path": scope.get("path"),
                              "autonomy.node": getattr(self.node, "name", None)}
                # A caller's W3C traceparent (the public gateway's span) is the parent: one trace from there.
                carried = {k.decode("latin-1"): v.decode("latin-1") for k, v in scope.get("headers", ())
                           if k in (b"traceparent", b"tracestate")}
                with tracing.attached(tracing.extract(carried) if carried else None), \
                        tracing.span(f"HTTP {scope.get('method', 'WS')} {scope.get('path')}", attributes):
                    await self.app(scope, receive, send)
                return
        await self.app(scope, receive, send)


_UNTRACED = ("/agents", "/workers", "/tools", "/logs/levels", "/flows")


def _traced(scope: dict[str, Any]) -> bool:
    """Every request but the built-in listings (GET ``/agents...``, ``/workers``, ...): a console polling
    them would bury the traces that matter under its own."""
    return not (scope.get("method") in ("GET", "HEAD") and str(scope.get("path", "")).startswith(_UNTRACED))


async def _api_key_check(api_key: str | None = Query(default=None)) -> None:
    expected = os.environ.get("API_KEY")
    if expected and api_key != expected:
        raise HTTPException(status_code=401, detail="Invalid or missing API key")


class HttpServer:
    """Serves the node's HTTP API and the user's routes on ``listen_address`` (default 0.0.0.0:8000).

    ``app``: the user's FastAPI app; built-in routes are added to it (routes the user defined first
    win). ``api``: an object with ``routes(node)`` and a FastAPI ``api`` attribute, mounted at ``/``
    after the built-ins. Without ``app``, a new app is made and, when ``API_KEY`` is set, every route
    requires ``?api_key=``. ``start`` returns once the server listens; ``address`` is then the bound
    ``(host, port)``.
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
        if self.app is not None:
            app = self.app
        else:
            app = FastAPI(title="autonomy node", dependencies=[Depends(_api_key_check)]
                          if os.environ.get("API_KEY") else [])
        from autonomy.http.routes import add_builtin_routes

        add_builtin_routes(app)
        index = Path.cwd() / "index.html"
        if index.is_file() and not any(getattr(r, "path", None) == "/" for r in app.routes):
            app.add_api_route("/", lambda: FileResponse(index), methods=["GET"], include_in_schema=False)
        if self.api is not None:
            self.api.routes(node)
            app.mount("/", self.api.api)
        app.add_middleware(_NodeMiddleware, node=node)
        app.add_middleware(InputGuard)  # body limit, admin routes closed on the public URL (see guard.py)
        return app

    async def start(self, node: Node) -> None:
        """Bind, start serving in the background, and return once listening."""
        self._node = node
        host, port = parse_socket_address(self.listen_address, default_host="0.0.0.0")
        sock = bind_tcp(host, port, "HTTP",
                        "set DEFAULT_PORT_HTTP to a free port, or pass HttpServer(listen_address=...)", backlog=2048)
        # Kept-alive connections stay open longer (90 s) than the public gateway keeps an idle one (75 s):
        # the gateway, which never closes in the middle of a request, is the side that closes, so a
        # request is never sent on a connection the node is closing (a "dropped" request under load).
        self._served = await ServedApp.start(self.build_app(node), sock,
                                             lifespan="on" if self.app is not None else "off",
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
