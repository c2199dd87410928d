"""FastAPI dependencies that give a route the node serving it (upstream's ``NodeDep``, ``WebSocketNodeDep``)."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request, WebSocket

from autonomy.nodes.node import Node

__all__ = ["NodeDep", "WebSocketNodeDep", "get_node", "get_websocket_node"]


# Dependencies are `async def` so FastAPI calls them inline instead of in its thread pool.
async def get_node(request: Request) -> Node:
    """FastAPI dependency: the node serving this request."""
    return request.state.node


async def get_websocket_node(websocket: WebSocket) -> Node:
    """FastAPI dependency: the node serving this WebSocket."""
    return websocket.state.node


NodeDep = Annotated[Node, Depends(get_node)]
WebSocketNodeDep = Annotated[Node, Depends(get_websocket_node)]
