"""The deployer interface: what the controller needs from a backend that runs zones.

The local backend (:class:`autonomy.cluster.local.LocalDeployer`) runs pods as processes in network
namespaces on this machine; a Kubernetes backend implements the same protocol later. Every method
is a coroutine of the controller's event loop except the read-only ones.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any, Protocol

__all__ = ["Deployer", "Progress"]

# progress(step, detail): called as a deploy advances; the controller streams each call to the client.
Progress = Callable[[str, str], None]


class Deployer(Protocol):
    network: str  # how pods are networked: "namespace", "host", "kubernetes"

    async def deploy(self, zone: Any, secrets: dict[str, str], source_dir: Path, progress: Progress,
                     *, restore: bool = False) -> dict[str, Any]:
        """Run ``zone`` (a ZoneSpec), replacing a running zone of the same name; return
        ``{"zone","url","pods"}`` once every node container is up. ``restore``: ``source_dir`` is the
        backend's own stored copy (controller start), so nothing is copied again."""
        ...

    async def delete(self, name: str) -> dict[str, Any]:
        """Stop and remove zone ``name`` and everything it used; ClusterError if unknown."""
        ...

    async def stop(self) -> None:
        """Stop every zone's processes (the zones stay in the state and come back on the next start)."""
        ...

    def zones(self) -> list[dict[str, Any]]:
        """A summary per running zone."""
        ...

    def status(self, name: str) -> dict[str, Any]:
        """Pods, clones, containers, states, restarts, node names, network mode, limits."""
        ...

    def log_files(self, name: str, pod: str | None, container: str | None) -> list[tuple[str, Path]]:
        """``(label, path)`` of the selected containers' logs."""
        ...

    def public_target(self, zone: str) -> tuple[str, int] | str:
        """Where the public gateway sends zone ``zone``'s traffic, or why it does not (a message)."""
        ...
