"""The deployer interface: what the controller needs from a backend that runs zones.

The local backend (:class:`autonomy.cluster.local.LocalDeployer`) runs pods as processes in network
namespaces on this machine; a Kubernetes backend implements the same protocol later. A backend also
implements :class:`Backend` (set up its pod network before the cluster's services start, make its
deployer, tear down); :func:`autonomy.cluster.backends.open_backend` chooses one. Every method
is a coroutine of the controller's event loop except the read-only ones.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

__all__ = ["Deployer", "Progress", "Backend", "DeployerSettings", "ZoneFabric"]

# progress(step, detail): called as a deploy advances; the controller streams each call to the client.
Progress = Callable[[str, str], None]


class ZoneFabric(Protocol):
    """What a deployer needs of the cluster's fabric: per-zone NATS users (``ClusterFabric``)."""

    def zone_credentials(self, zone: str, names: Iterable[str]) -> bytes: ...

    def forget_zone(self, zone: str) -> None: ...


class Deployer(Protocol):
    network: str  # how pods are networked: "namespace", "host", "kubernetes"
    # Set by the controller: why the fabric is down right now (None while it is up); status shows it.
    fabric_problem: Callable[[], str | None] | None

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

    def zone_sources(self, zone: str) -> set[str] | None:
        """The addresses zone ``zone``'s pods send from (the model gateway takes its key only from them),
        or None where pods share the host's addresses."""
        ...

    def public_target(self, zone: str) -> tuple[str, int] | str:
        """Where the public gateway sends zone ``zone``'s traffic, or why it does not (a message)."""
        ...


@dataclass(frozen=True)
class DeployerSettings:
    """What the controller has ready for a backend's deployer once the cluster's services run."""

    fabric_url: str  # the NATS fabric the nodes join
    credentials_file: Path  # the cluster's fabric credentials (per-zone ones are derived from it)
    public_url_template: str  # e.g. ``http://{cluster}-{zone}.localhost:32100/``
    gateway_env: Callable[[str], dict[str, str]] | None = None  # model gateway URL and key of a zone
    gateway_url: str = ""  # the model gateway pods reach (its port is let through the zone rules)
    fabric: Any = None  # the cluster's fabric (autonomy.cluster.fabric.ClusterFabric): per-zone NATS users
    service_urls: list[str] = field(default_factory=list)  # other cluster services pods may reach (traces)


class Backend(Protocol):
    """Where a cluster's pods run: set up before the cluster's services start, torn down after."""

    network: str  # how pods are networked: "namespace", "host", "kubernetes"
    limits: str | None  # how pod sizes are enforced (e.g. "cgroup2"), for ``cluster show``

    async def prepare(self) -> str:
        """Clean up what a previous controller left, set up the pod network; return the address on
        which pods reach the cluster's services (the fabric, the model gateway)."""
        ...

    async def create_deployer(self, settings: DeployerSettings) -> Deployer:
        """The deployer that runs zones on this backend (called once, after :meth:`prepare`); sets up
        what isolates zones from each other (sandbox, network rules)."""
        ...

    def stored_secrets(self, zone: str) -> dict[str, str]:
        """The secrets of zone ``zone``'s last deploy, as the backend kept them (to restore it)."""
        ...

    @property
    def isolation(self) -> str:
        """How zones are isolated: ``sandbox`` or ``none (<why>)`` (and the network's state)."""
        ...

    async def close(self) -> None:
        """Tear down what :meth:`prepare` and :meth:`create_deployer` set up (after the deployer stopped)."""
        ...
