"""The FastAPI app a node's HTTP server serves: the user's app (or a new one), the built-in routes, the
node and tracing middleware, and the input guard.

Imported only when that app is built (FastAPI and pydantic cost ~0.3 s of CPU to import): at server
start when the user gave an app, otherwise on the first request (autonomy/http/deferred.py).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from fastapi import Depends, FastAPI, HTTPException, Query
from fastapi.responses import FileResponse

import autonomy.tracing as tracing
from autonomy.http.guard import InputGuard
from autonomy.nodes.node import Node

__all__ = ["build_node_app"]


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


def build_node_app(node: Node, app: FastAPI | None, api: Any) -> FastAPI:
    """``app`` (or a new app, which requires ``?api_key=`` when ``API_KEY`` is set) with the built-in
    routes added after the user's own, ``api`` mounted at ``/``, and the node's middleware."""
    if app is None:
        guarded = [Depends(_api_key_check)] if os.environ.get("API_KEY") else []
        app = FastAPI(title="autonomy node", dependencies=guarded)
    from autonomy.http.routes import add_builtin_routes

    add_builtin_routes(app)
    index = Path.cwd() / "index.html"
    if index.is_file() and not any(getattr(r, "path", None) == "/" for r in app.routes):
        app.add_api_route("/", lambda: FileResponse(index), methods=["GET"], include_in_schema=False)
    if api is not None:
        api.routes(node)
        app.mount("/", api.api)
    app.add_middleware(_NodeMiddleware, node=node)
    app.add_middleware(InputGuard)  # body limit, admin routes closed on the public URL (see guard.py)
    return app
