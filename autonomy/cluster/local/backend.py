"""The local backend's host side: orphan clean-up, cgroups, the pod network, and its deployer.

``AUTONOMY_NETWORK=namespace|host`` chooses the pod network (default: namespaces when this process may
create them, else the host network with a warning). Seen by the controller only as an
:class:`autonomy.cluster.backends.Backend`.
"""

from __future__ import annotations

import asyncio
import logging
import os
from pathlib import Path

from autonomy.cluster.deployer import DeployerSettings
from autonomy.cluster.local.adoption import AdoptionPlan, forget, plan_adoption, stop_shims
from autonomy.cluster.local.cgroups import CgroupManager
from autonomy.cluster.local.deployer import LocalDeployer, read_secrets
from autonomy.cluster.local.isolation import Isolation
from autonomy.cluster.local.netns import NetnsNetwork, namespaces_available
from autonomy.cluster.local.supervisor import kill_orphans
from autonomy.cluster.state import ClusterState
from autonomy.errors import ClusterError, ConfigError

__all__ = ["LocalBackend", "choose_network"]

log = logging.getLogger("autonomy.cluster")


class LocalBackend:
    """Pods as supervised processes on this machine, in network namespaces or on the host network."""

    def __init__(self, home: Path, cluster_id: str, state: ClusterState) -> None:
        self.home = home
        self.cluster_id = cluster_id
        self.state = state
        self.network = "host"
        self.limits: str | None = None
        self.netns: NetnsNetwork | None = None
        self.cgroups: CgroupManager | None = None
        self.sandboxing: Isolation | None = None
        self.adoption = AdoptionPlan()

    async def prepare(self) -> str:
        self.network = choose_network()
        # Shims a killed controller left: those of stored, unchanged zones are adopted, the others stopped
        # (adoption.py); only what belongs to no adopted pod is cleaned up below.
        self.adoption = plan = plan_adoption(self.home, self.state.zones(), self.network)
        await stop_shims(plan.stale)
        forget(plan.dead)
        killed = kill_orphans(self.cluster_id, keep=plan.groups)
        if killed:
            log.warning("killed %d container process group(s) left by a previous controller", killed)
        if plan.zones:
            log.info("adopting the running pods of zone(s) %s", ", ".join(sorted(plan.zones)))
        self.cgroups = CgroupManager(self.cluster_id)
        self.cgroups.remove_all()  # groups with processes (the adopted pods') cannot be removed: they stay
        self.limits = self.cgroups.mechanism
        if self.network != "namespace":
            return "127.0.0.1"
        self.netns = NetnsNetwork(self.cluster_id)
        kept = await asyncio.to_thread(self.netns.setup, plan.namespaces)
        if plan.namespaces and not kept:  # their bridge was gone: those pods are cut off, start them again
            await stop_shims([r for records in plan.zones.values() for r in records])
            plan.zones.clear()
        return self.netns.gateway

    async def create_deployer(self, settings: DeployerSettings) -> LocalDeployer:
        if self.cgroups is None:
            raise ClusterError("the local backend is not prepared: call prepare() first")
        self.sandboxing = isolation = await Isolation.open(
            self.cluster_id, self.state, self.netns,
            [settings.fabric_url, settings.gateway_url, *settings.service_urls], self.adoption.pods)
        return LocalDeployer(
            self.home, self.cluster_id, self.state, fabric_url=settings.fabric_url,
            credentials_file=settings.credentials_file, network=self.network, netns=self.netns,
            cgroups=self.cgroups, public_url_template=settings.public_url_template,
            gateway_env=settings.gateway_env, isolation=isolation, fabric=settings.fabric,
            adoptable=self.adoption.zones)

    @property
    def isolation(self) -> str:
        return self.sandboxing.summary if self.sandboxing is not None else "not set up yet"

    def stored_secrets(self, zone: str) -> dict[str, str]:
        return read_secrets(self.home / "zones" / zone / "secrets.json")

    async def close(self) -> None:
        if self.sandboxing is not None:
            await self.sandboxing.close()
        if self.netns is not None:
            await asyncio.to_thread(self.netns.teardown)
        if self.cgroups is not None:
            self.cgroups.remove_all()


def choose_network() -> str:
    """``"namespace"`` or ``"host"``, from ``AUTONOMY_NETWORK`` and what this process may do."""
    wanted = os.environ.get("AUTONOMY_NETWORK", "").strip().lower()
    ok, why = namespaces_available()
    if wanted not in ("", "namespace", "host"):
        raise ConfigError(f"AUTONOMY_NETWORK={wanted!r}: use 'namespace' or 'host'")
    if wanted == "namespace" and not ok:
        raise ClusterError(f"AUTONOMY_NETWORK=namespace but {why}; unset it to use the host network")
    if wanted == "host" or not ok:
        if not ok:
            log.warning("pods use the host network: %s", why)
        return "host"
    return "namespace"
