"""The Docker runtime's host side, shaped as main's ``autonomy.cluster.deployer.Backend`` protocol.

``prepare`` removes the containers and zone networks a previous controller of this cluster left in the
engine (a controller that was killed cannot remove them) and returns where pods reach the cluster's
services. As root with ``ip`` and ``nft`` (:func:`zone_networks_available`): the cluster's service
address (:mod:`.network`), reachable from every zone's bridge and guarded by the cluster's nftables
table (:mod:`.firewall`, loaded by ``create_deployer``). Otherwise pods use the host network and reach
the services on ``127.0.0.1`` (``zone status``: ``network: none (<why>)``).
"""

from __future__ import annotations

import asyncio
import json
import logging
import shutil
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from autonomy.cluster.deployer import DeployerSettings
from autonomy.cluster.docker.adoption import plan_adoption
from autonomy.cluster.docker.deployer import DockerDeployer
from autonomy.cluster.docker.firewall import ZoneFirewall
from autonomy.cluster.docker.network import ZoneNetworks
from autonomy.cluster.nftables import firewall_available
from autonomy.cluster.state import ClusterState

__all__ = ["DockerBackend", "zone_networks_available"]

log = logging.getLogger("autonomy.cluster")
CONTAINER = ("container (the zone's own uid, no capabilities, no-new-privileges, read-only root, "
             "own PID namespace)")


def zone_networks_available() -> tuple[bool, str]:
    """Whether this process can give each zone its own network with rules between them, and if not, why."""
    if shutil.which("ip") is None:
        return False, "the `ip` command (iproute2) is not installed"
    return firewall_available()


class DockerBackend:
    """Pods as Docker Engine containers on this machine: one bridge network per zone (as root)."""

    limits: str | None = "docker (CPU quota, memory limit)"

    def __init__(self, home: Path, cluster_id: str, state: ClusterState) -> None:
        self.home = home
        self.cluster_id = cluster_id
        self.state = state
        self.deployer: DockerDeployer | None = None
        self.networks: ZoneNetworks | None = None
        self.firewall: ZoneFirewall | None = None
        self.network = "docker-host"
        self.network_reason = ""
        self.adoptable: dict[str, list[Any]] = {}  # zone -> its running containers a killed controller left

    async def prepare(self) -> str:
        from autonomy.images import connect

        client = await asyncio.to_thread(connect)
        self.deployer = DockerDeployer(self.home, self.cluster_id, self.state, fabric_url="", credentials_file=Path(),
                                       public_url_template="", client=client)
        ok, why = zone_networks_available()
        # Containers a killed controller left: those of stored, unchanged zones are adopted (adoption.py).
        found = await asyncio.to_thread(self.deployer.cluster_containers)
        self.adoptable, stale = plan_adoption(found, self.state.zones(), "docker-zone" if ok else "docker-host")
        for container in stale:
            await asyncio.to_thread(container.remove, force=True)
        if stale:
            log.warning("removed %d container(s) left in the Docker Engine by a previous controller", len(stale))
        if self.adoptable:
            log.info("adopting the running containers of zone(s) %s", ", ".join(sorted(self.adoptable)))
        if not ok:
            self.network_reason = why
            log.warning("pods of the Docker runtime use the host network, zones are not apart: %s", why)
            return "127.0.0.1"
        networks = ZoneNetworks(self.cluster_id, client)
        if not await asyncio.to_thread(networks.setup, set(self.adoptable)):
            # no service bridge left: the adoptable zones' pods are cut off; remove them, start anew
            for container in [c for found in self.adoptable.values() for c in found]:
                await asyncio.to_thread(container.remove, force=True)
            self.adoptable.clear()
            await asyncio.to_thread(networks.setup)
        self.networks, self.network = networks, "docker-zone"
        return networks.service_address

    async def create_deployer(self, settings: DeployerSettings) -> DockerDeployer:
        from autonomy.images import connect

        client = self.deployer.client if self.deployer is not None else await asyncio.to_thread(connect)
        if self.networks is not None:
            firewall = ZoneFirewall(self.cluster_id, self.networks.service_address)
            urls = [settings.fabric_url, settings.gateway_url, *settings.service_urls]
            ports = [urlsplit(url).port for url in urls if url]
            await asyncio.to_thread(firewall.setup, [p for p in ports if p], [n.bridge for n in self.networks.zones()])
            self.firewall = firewall
        self.deployer = DockerDeployer(
            self.home, self.cluster_id, self.state, fabric_url=settings.fabric_url,
            credentials_file=settings.credentials_file, public_url_template=settings.public_url_template,
            gateway_env=settings.gateway_env, client=client, networks=self.networks, firewall=self.firewall,
            fabric=settings.fabric, isolation=self.isolation, adoptable=self.adoptable)
        return self.deployer

    @property
    def isolation(self) -> str:
        if self.networks is not None:
            return f"{CONTAINER}; network: a bridge per zone, nftables"
        return f"{CONTAINER}; network: none ({self.network_reason or 'pods share the host network'})"

    def stored_secrets(self, zone: str) -> dict[str, str]:
        path = self.home / "zones" / zone / "secrets.json"
        secrets: dict[str, str] = json.loads(path.read_text()) if path.exists() else {}
        return secrets

    async def close(self) -> None:
        """Delete the rules and the zone networks (the deployer removed the containers), close the client."""
        if self.firewall is not None:
            await asyncio.to_thread(self.firewall.teardown)
        if self.deployer is not None:
            if self.networks is not None:
                await asyncio.to_thread(self.deployer.remove_all_containers)
                await asyncio.to_thread(self.networks.teardown)
            await asyncio.to_thread(self.deployer.client.close)
