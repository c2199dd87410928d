"""Wires the layers above the node runtime into it: the one place that knows them all.

``autonomy.nodes`` imports none of ``autonomy.http``, ``autonomy.agents`` or ``autonomy.models``
(docs/architecture.md); :func:`assemble` gives it, through :data:`autonomy.nodes.extensions.EXTENSIONS`,
the default HTTP server of ``Node.start``, the node controller's agent methods and the clean-up of the
model SDK clients when ``Node.start``'s loop ends. The ``autonomy`` package calls it on import, so
``from autonomy import Node`` and ``from autonomy.nodes import Node`` both get a fully wired node.
"""

from __future__ import annotations

from autonomy.agents.remote_start import start_agent, start_agents
from autonomy.http.server import HttpServer
from autonomy.models.clients import aclose_clients
from autonomy.nodes.extensions import EXTENSIONS, NodeExtensions

__all__ = ["assemble"]


def assemble(extensions: NodeExtensions = EXTENSIONS) -> None:
    """Fill ``extensions`` (idempotent: a second call changes nothing)."""
    extensions.default_http_server = HttpServer
    extensions.controller_methods.update(start_agent=start_agent, start_agents=start_agents)
    extensions.loop_closers["models"] = aclose_clients
