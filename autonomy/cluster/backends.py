"""Choosing a cluster backend: the one module that imports a backend's package.

The controller (and later the CLI, for backends without a controller) sees a backend only as the
protocols of :mod:`autonomy.cluster.deployer` (``Backend``, ``Deployer``); import-linter keeps it so
(docs/architecture.md). A new backend lives in its own package (``autonomy.cluster.<kind>``),
implements both protocols, and gets one branch in :func:`open_backend`.
"""

from __future__ import annotations

from pathlib import Path

from autonomy.cluster.deployer import Backend
from autonomy.cluster.state import ClusterState
from autonomy.errors import ConfigError

__all__ = ["open_backend", "BACKENDS"]

BACKENDS = ("local", "docker")


def open_backend(kind: str, home: Path, cluster_id: str, state: ClusterState) -> Backend:
    """The backend ``kind`` (one of :data:`BACKENDS`) of cluster ``cluster_id`` whose home is ``home``."""
    if kind == "local":
        from autonomy.cluster.local.backend import LocalBackend  # imported only when chosen

        return LocalBackend(home, cluster_id, state)
    if kind == "docker":
        from autonomy.cluster.docker.backend import DockerBackend

        return DockerBackend(home, cluster_id, state)
    raise ConfigError(f"cluster backend {kind!r} is unknown: use one of {', '.join(BACKENDS)}")
