"""What the layers above the node runtime plug into it, wired by the app-facing ``autonomy`` package.

The node runtime knows nothing of HTTP, agents or models (docs/architecture.md). What ``Node.start``
and the node controller need from them comes from here, filled by :mod:`autonomy.assembly` when the
``autonomy`` package is imported (which any ``import autonomy.<module>`` does first):

- ``default_http_server``: makes the HTTP server ``Node.start`` runs when none is given (``HttpServer``);
- ``controller_methods``: node controller methods beyond the runtime's own (``start_agent``,
  ``start_agents``), each ``async fn(node, *args, **kwargs)``;
- ``loop_closers``: coroutines run when ``Node.start``'s event loop ends, after the node stopped
  (closing the model SDK clients cached for that loop), by name so wiring twice changes nothing.

An embedding that wants a bare runtime (or a test) may assign or clear the fields of ``EXTENSIONS``.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

__all__ = ["NodeExtensions", "EXTENSIONS"]


@dataclass
class NodeExtensions:
    default_http_server: Callable[[], Any] | None = None
    controller_methods: dict[str, Callable[..., Awaitable[Any]]] = field(default_factory=dict)
    loop_closers: dict[str, Callable[[], Awaitable[None]]] = field(default_factory=dict)


EXTENSIONS = NodeExtensions()
