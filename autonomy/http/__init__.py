"""The node's HTTP server."""

from autonomy.http.server import HttpServer, NodeDep, WebSocketNodeDep

__all__ = ["HttpServer", "NodeDep", "WebSocketNodeDep"]
