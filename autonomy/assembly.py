"""Wires the layers above the node runtime into it: the one place that knows them all.

``autonomy.nodes`` imports none of ``autonomy.http``, ``autonomy.agents`` or ``autonomy.models``
(docs/architecture.md); :func:`assemble` gives it, through :data:`autonomy.nodes.extensions.EXTENSIONS`,
the default HTTP server of ``Node.start``, the node controller's agent methods and the clean-up of the
model SDK clients when ``Node.start``'s loop ends. The ``autonomy`` package calls it on import, so
``from autonomy import Node`` and ``from autonomy.nodes import Node`` both get a fully wired node.

Each piece is imported when it is first used, not here: a node process that never starts an agent or
calls a model never loads them (docs/startup.md).
"""

from __future__ import annotations

import sys
from typing import Any

from autonomy.nodes.extensions import EXTENSIONS, NodeExtensions

__all__ = ["assemble", "default_http_server", "start_agent", "start_agents", "close_model_clients"]


def default_http_server() -> Any:
    """A new ``HttpServer()`` (the HTTP server ``Node.start`` runs when it is given none)."""
    from autonomy.http.server import HttpServer

    return HttpServer()


async def start_agent(node: Any, *args: Any, **kwargs: Any) -> str:
    """The node controller's ``start_agent`` (autonomy.agents.remote_start)."""
    from autonomy.agents import remote_start

    return await remote_start.start_agent(node, *args, **kwargs)


async def start_agents(node: Any, *args: Any, **kwargs: Any) -> list[str]:
    """The node controller's ``start_agents`` (autonomy.agents.remote_start)."""
    from autonomy.agents import remote_start

    return await remote_start.start_agents(node, *args, **kwargs)


async def close_model_clients() -> None:
    """Close the model SDK clients of the ending loop; there are none if no model module was loaded."""
    clients = sys.modules.get("autonomy.models.clients")
    if clients is not None:
        await clients.aclose_clients()


def assemble(extensions: NodeExtensions = EXTENSIONS) -> None:
    """Fill ``extensions`` (idempotent: a second call changes nothing)."""
    extensions.default_http_server = default_http_server
    extensions.controller_methods.update(start_agent=start_agent, start_agents=start_agents)
    extensions.loop_closers["models"] = close_model_clients
