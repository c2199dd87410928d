"""The Docker runtime's host side, shaped as main's ``autonomy.cluster.deployer.Backend`` protocol.

``prepare`` removes the containers a previous controller of this cluster left in the engine (a
controller that was killed cannot remove them) and returns where pods reach the cluster's services:
``127.0.0.1``, since pods of this runtime use the host network (docs/images.md, "Docker runtime").
``open_backend("docker", ...)`` is meant to return it (one branch in ``autonomy/cluster/backends.py``).
"""

from __future__ import annotations

import asyncio
import json
import logging
from pathlib import Path

from autonomy.cluster.deployer import DeployerSettings
from autonomy.cluster.docker.deployer import DockerDeployer
from autonomy.cluster.state import ClusterState

__all__ = ["DockerBackend"]

log = logging.getLogger("autonomy.cluster")


class DockerBackend:
    """Pods as Docker Engine containers on this machine's host network."""

    network = DockerDeployer.network
    limits: str | None = "docker (CPU quota, memory limit)"

    def __init__(self, home: Path, cluster_id: str, state: ClusterState) -> None:
        self.home = home
        self.cluster_id = cluster_id
        self.state = state
        self.deployer: DockerDeployer | None = None

    async def prepare(self) -> str:
        from autonomy.images import connect

        client = await asyncio.to_thread(connect)
        self.deployer = DockerDeployer(self.home, self.cluster_id, self.state, fabric_url="", credentials_file=Path(),
                                       public_url_template="", client=client)
        removed = await asyncio.to_thread(self.deployer.remove_all_containers)
        if removed:
            log.warning("removed %d container(s) left in the Docker Engine by a previous controller", removed)
        return "127.0.0.1"

    async def create_deployer(self, settings: DeployerSettings) -> DockerDeployer:
        from autonomy.images import connect

        client = self.deployer.client if self.deployer is not None else await asyncio.to_thread(connect)
        self.deployer = DockerDeployer(
            self.home, self.cluster_id, self.state, fabric_url=settings.fabric_url,
            credentials_file=settings.credentials_file, public_url_template=settings.public_url_template,
            gateway_env=settings.gateway_env, client=client)
        return self.deployer

    @property
    def isolation(self) -> str:
        return ("container (uid 10001, no capabilities, read-only root); network: none (pods share the host "
                "network in this runtime)")

    def stored_secrets(self, zone: str) -> dict[str, str]:
        path = self.home / "zones" / zone / "secrets.json"
        secrets: dict[str, str] = json.loads(path.read_text()) if path.exists() else {}
        return secrets

    async def close(self) -> None:
        if self.deployer is not None:
            await asyncio.to_thread(self.deployer.client.close)
