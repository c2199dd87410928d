"""Upstream import path of the node's HTTP server: ``from autonomy.agents.http import HttpServer``."""

from autonomy.http.server import HttpServer, NodeDep, WebSocketNodeDep

__all__ = ["HttpServer", "NodeDep", "WebSocketNodeDep"]
