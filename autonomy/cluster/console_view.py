"""The local controller as the console's :class:`~autonomy.console.ClusterView`, and serving the console.

The console app runs in the controller's event loop on ``AUTONOMY_HOME/console.sock`` (mode 0600); the
public gateway relays to it (see :mod:`.gateway_routes`). The token for non-loopback clients is
``AUTONOMY_HOME/console.token`` (0600, created at the first start).
"""

from __future__ import annotations

import contextlib
import os
import socket
from collections.abc import AsyncIterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

from autonomy.cluster.logs import follow_logs
from autonomy.errors import AutonomyError, ClusterError
from autonomy.serving import ServedApp

if TYPE_CHECKING:
    from autonomy.cluster.controller import Controller

__all__ = ["ControllerView", "serve_console", "provider_of"]


def provider_of(config: Any, model: str) -> str:
    """``provider`` or ``provider (as NAME)``: who serves ``model`` under today's gateway config."""
    from autonomy.gateway.routing import resolve

    try:
        route = resolve(config, model)
    except AutonomyError:
        return "no provider (not routed)"
    name = route.provider.name
    return name if route.upstream_model == model else f"{name} (as {route.upstream_model})"


class ControllerView:
    """What the console sees of ``controller``."""

    def __init__(self, controller: Controller) -> None:
        self.controller = controller
        self.cluster_id = controller.identity.id if controller.identity else ""

    def _deployer(self) -> Any:
        if self.controller.deployer is None:
            raise ClusterError("the controller is starting or stopping")
        return self.controller.deployer

    def cluster(self) -> dict[str, Any]:
        return self.controller.show()

    def zones(self) -> list[dict[str, Any]]:
        return list(self._deployer().zones())

    def zone_status(self, name: str) -> dict[str, Any]:
        return dict(self._deployer().status(name))

    def usage(self) -> list[dict[str, Any]]:
        models = self.controller.models
        if models is None:
            return []
        models.flush()
        rows = []
        for zone, by_model in models.state.usage().items():
            for model, counters in by_model.items():
                rows.append({"zone": zone, "model": model, "provider": provider_of(models.config, model), **counters})
        return rows

    def traces(self, zone: str) -> list[dict[str, Any]] | None:
        collector = self.controller.traces
        return None if collector is None else collector.traces(zone)

    async def log_lines(self, zone: str, pod: str | None, container: str | None, tail: int,
                        follow: bool) -> AsyncIterator[str]:
        deployer = self._deployer()
        files = deployer.log_files(zone, pod, container)

        def alive() -> bool:
            return follow and not self.controller.stopping and zone in {z["zone"] for z in deployer.zones()}
        async for line in follow_logs(files, tail, alive):
            yield line


async def serve_console(controller: Controller, home: Path) -> tuple[ServedApp, Path]:
    """Serve the console on ``home/console.sock``; returns the served app and the socket's path."""
    from autonomy.console import build_console_app, load_or_create_token

    token = load_or_create_token(home / "console.token")
    path = home / "console.sock"
    with contextlib.suppress(FileNotFoundError):
        path.unlink()
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    old = os.umask(0o177)
    try:
        sock.bind(str(path))
    finally:
        os.umask(old)
    os.chmod(path, 0o600)
    sock.listen(256)
    sock.setblocking(False)
    served = await ServedApp.start(build_console_app(ControllerView(controller), token), sock)
    return served, path
