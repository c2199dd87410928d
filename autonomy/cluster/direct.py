"""Clusters without a controller on this machine (kind ``kubernetes``): the CLI's one door to them.

The local cluster is reached through its controller (:class:`autonomy.cluster.client.ClusterClient`).
A Kubernetes cluster has no daemon: the CLI drives its backend in-process, through the
:class:`~autonomy.cluster.deployer.Deployer` protocol plus the two things a controller would otherwise
answer (:class:`DirectDeployer`). This module is the factory keyed by the kind recorded in
``AUTONOMY_HOME/cluster.json``; it imports a backend's package only when that kind is enrolled, and
:class:`DirectClient` gives the CLI the same calls as ``ClusterClient``.
"""

from __future__ import annotations

import asyncio
import json
import queue
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any, Protocol

from autonomy.cluster.deployer import Deployer
from autonomy.errors import ClusterError

__all__ = ["DIRECT_KINDS", "DirectClient", "DirectDeployer", "enroll", "enrolled_kind", "open_direct", "render"]

DIRECT_KINDS = ("kubernetes",)


class DirectDeployer(Deployer, Protocol):
    def describe(self) -> dict[str, Any]:
        """What ``cluster show`` prints: id, kind, where it is, the health of its system services, zones."""
        ...

    def logs(self, name: str, pod: str | None = None, container: str | None = None, follow: bool = False,
             tail: int = 100) -> Iterator[str]:
        """Log lines of zone ``name``'s containers (prefixed ``[pod-clone/container]`` when several)."""
        ...

    def dry_run(self, zone: Any, secrets: dict[str, str], source_dir: Path) -> str:
        """The manifests a deploy would apply, as YAML with secret values redacted; contacts nothing."""
        ...


def enrolled_kind(home: Path) -> str | None:
    """The ``kind`` in ``home/cluster.json`` (None when no cluster is enrolled there)."""
    try:
        record = json.loads((home / "cluster.json").read_text())
    except FileNotFoundError:
        return None
    except (OSError, ValueError) as exc:
        raise ClusterError(f"{home / 'cluster.json'} is unreadable ({exc}): fix or remove it") from exc
    return str(record.get("kind", "local")) if isinstance(record, dict) else None


def open_direct(home: Path, *, offline: bool = False, **options: Any) -> DirectDeployer | None:
    """The backend of the cluster enrolled in ``home`` when it has no controller, else None.
    ``offline``: only render (no API server is contacted)."""
    kind = enrolled_kind(home)
    if kind == "kubernetes":
        from autonomy.cluster.kubernetes import open_deployer  # imported only when such a cluster is enrolled

        return open_deployer(home, offline=offline, **options)
    return None


def enroll(kind: str, home: Path, progress: Any, **options: Any) -> dict[str, Any]:
    """Enroll a cluster of ``kind`` (``kubernetes``) in ``home``; returns what ``cluster show`` prints."""
    if kind != "kubernetes":
        raise ClusterError(f"cluster kind {kind!r} has no direct enrollment (known: {', '.join(DIRECT_KINDS)})")
    from autonomy.cluster.kubernetes import enroll_cluster

    return enroll_cluster(home, progress, **options)


def render(home: Path, zone: Any, secrets: dict[str, str], source_dir: Path) -> str:
    deployer = open_direct(home, offline=True)
    if deployer is None:
        raise ClusterError(f"-o yaml shows the manifests of a Kubernetes cluster, and none is enrolled in {home}: "
                           "run `autonomy cluster enroll --kubernetes ...` first (or use -o text/json)")
    return deployer.dry_run(zone, secrets, source_dir)


class DirectClient:
    """``ClusterClient``'s calls, served in-process by a :class:`DirectDeployer`."""

    def __init__(self, deployer: DirectDeployer) -> None:
        self.deployer = deployer

    def show(self) -> dict[str, Any]:
        return self.deployer.describe()

    def enroll(self) -> dict[str, Any]:
        return self.show()

    def stop(self) -> dict[str, Any]:
        return {"stopped": False, "message": "nothing runs on this machine for this cluster"}

    def list_zones(self) -> list[dict[str, Any]]:
        return self.deployer.zones()

    def zone_status(self, name: str) -> dict[str, Any]:
        return self.deployer.status(name)

    def delete_zone(self, name: str) -> dict[str, Any]:
        return asyncio.run(self.deployer.delete(name))

    def zone_logs(self, name: str, pod: str | None = None, container: str | None = None, follow: bool = False,
                  tail: int = 100) -> Iterator[str]:
        return self.deployer.logs(name, pod=pod, container=container, follow=follow, tail=tail)

    def list_models(self, *args: Any, **kwargs: Any) -> dict[str, Any]:
        raise ClusterError("model providers of a Kubernetes cluster are not managed by the CLI yet: edit the "
                           "Secret model-gateway-config of the system namespace (docs/kubernetes.md)")

    add_model = remove_model = list_models

    def deploy(self, zone: Any, secrets: dict[str, str], source_dir: Path) -> Iterator[dict[str, Any]]:
        """``{"event":"progress","step","detail"}`` as the deploy advances, then ``{"event":"done","result"}``."""
        events: queue.Queue[dict[str, Any] | BaseException] = queue.Queue()

        def progress(step: str, detail: str) -> None:
            events.put({"event": "progress", "step": step, "detail": detail})

        def run() -> None:
            try:
                result = asyncio.run(self.deployer.deploy(zone, secrets, Path(source_dir), progress))
                events.put({"event": "done", "result": result})
            except BaseException as exc:  # handed to the caller's thread: no lost failure
                events.put(exc)

        worker = threading.Thread(target=run, name="deploy", daemon=True)
        worker.start()
        while True:
            event = events.get()
            if isinstance(event, BaseException):
                worker.join()
                raise event
            yield event
            if event.get("event") == "done":
                worker.join()
                return
