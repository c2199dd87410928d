"""The node's HTTP server."""

from typing import TYPE_CHECKING

from autonomy.http.server import HttpServer

if TYPE_CHECKING:
    from autonomy.http.deps import NodeDep, WebSocketNodeDep


def __getattr__(name: str) -> object:
    # FastAPI's Depends: imported with FastAPI, on first use (autonomy/http/server.py).
    if name in ("NodeDep", "WebSocketNodeDep"):
        from autonomy.http import deps

        return getattr(deps, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = ["HttpServer", "NodeDep", "WebSocketNodeDep"]
