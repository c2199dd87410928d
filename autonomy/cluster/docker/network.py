"""The Docker runtime's pod network: one Docker bridge network per zone, and the cluster's service address.

Address plan (docs/security.md, "Docker runtime"):

- each cluster takes one /20 of ``10.224.0.0/12`` (256 blocks), chosen from its id and moved on while
  it overlaps an address or route of the host or a Docker network's subnet;
- the block's first address is the cluster's **service address**: a /32 on a port-less bridge
  ``ad<8 hex of the cluster id>`` that this module creates. The cluster's NATS, model gateway and trace
  collector listen there; every zone's pods reach it through their own bridge (the default route via
  the zone bridge's gateway ends on the host, where the address is local), so one address serves every
  zone and nothing listens on 0.0.0.0;
- each zone gets a /26 of the block (the first /26 is the service address's): a Docker network
  ``autonomy-<8 hex>-<zone>`` whose Linux bridge is named ``az<10 hex of sha1(cluster/zone)>``
  (``com.docker.network.bridge.name``), so the nftables rules can name it. Up to 63 zones per cluster
  and 61 pod instances per zone.

Networks carry the labels ``computer.autonomy.cluster``/``.zone``: :meth:`ZoneNetworks.setup` removes
what a killed controller left (after its containers are gone), :meth:`ZoneNetworks.teardown` removes
everything at cluster stop.
"""

from __future__ import annotations

import hashlib
import ipaddress
import subprocess
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from autonomy.cluster.docker.pod import LABEL
from autonomy.errors import ClusterError

if TYPE_CHECKING:
    import docker

__all__ = ["ZoneNetwork", "ZoneNetworks", "RANGE"]

RANGE = ipaddress.IPv4Network("10.224.0.0/12")
BLOCK_PREFIX = 20
ZONE_PREFIX = 26


@dataclass(frozen=True)
class ZoneNetwork:
    zone: str
    name: str  # the Docker network's name
    bridge: str  # its Linux bridge
    subnet: ipaddress.IPv4Network


def _ip(*args: str) -> str:
    proc = subprocess.run(["ip", *args], capture_output=True, text=True)
    if proc.returncode != 0:
        raise ClusterError(f"`ip {' '.join(args)}` failed: {proc.stderr.strip()}")
    return proc.stdout


class ZoneNetworks:
    """The zone networks of cluster ``cluster_id`` in the Docker Engine ``client``."""

    def __init__(self, cluster_id: str, client: docker.DockerClient) -> None:
        self.cluster_id = cluster_id
        self.client = client
        self.service_bridge = f"ad{cluster_id[:8]}"
        self.block: ipaddress.IPv4Network | None = None
        self._zones: dict[str, ZoneNetwork] = {}

    @property
    def service_address(self) -> str:
        if self.block is None:
            raise ClusterError("the Docker runtime's pod network is not set up yet")
        return str(self.block.network_address + 1)

    # --- life cycle (blocking) ---------------------------------------------------------------------
    def setup(self, keep: set[str] | frozenset[str] = frozenset()) -> bool:
        """Remove what a previous controller of this cluster left, choose the block, create the service address.

        ``keep``: zones whose running containers are adopted (:mod:`.adoption`): their networks, the
        service address and its block stay as they are; only the other zones' networks are removed. Returns
        whether they were kept (False: no service bridge was left; the caller removes those zones'
        containers before calling again with nothing to keep)."""
        if keep:
            return self._adopt(keep)
        self.cleanup_stale()
        self.block = self._choose_block()
        _ip("link", "add", self.service_bridge, "type", "bridge")
        try:
            _ip("addr", "add", f"{self.service_address}/32", "dev", self.service_bridge)
            _ip("link", "set", self.service_bridge, "up")
        except ClusterError:
            subprocess.run(["ip", "link", "del", self.service_bridge], capture_output=True)
            raise
        return False

    def teardown(self) -> None:
        """Remove every zone network of this cluster and the service address (its containers are gone)."""
        self.cleanup_stale()
        self._zones.clear()
        self.block = None

    def _adopt(self, keep: set[str] | frozenset[str]) -> bool:
        """Keep the service bridge and the networks of the zones in ``keep``; False if there is no bridge."""
        out = subprocess.run(["ip", "-o", "-4", "addr", "show", "dev", self.service_bridge], capture_output=True,
                             text=True).stdout
        words = [w for w in out.split() if "/" in w and w[0].isdigit()]
        if not words:
            return False
        address = ipaddress.IPv4Interface(words[0]).ip
        self.block = ipaddress.IPv4Network(f"{address - 1}/{BLOCK_PREFIX}", strict=False)
        for network in self.client.networks.list(filters={"label": f"{LABEL}.cluster={self.cluster_id}"}):
            zone = network.attrs.get("Labels", {}).get(f"{LABEL}.zone", "")
            pools = (network.attrs.get("IPAM") or {}).get("Config") or []
            bridge = (network.attrs.get("Options") or {}).get("com.docker.network.bridge.name", "")
            if zone in keep and pools and bridge:
                self._zones[zone] = ZoneNetwork(zone, network.name, bridge, ipaddress.IPv4Network(pools[0]["Subnet"]))
            else:
                network.remove()
        return True

    def cleanup_stale(self) -> None:
        for network in self.client.networks.list(filters={"label": f"{LABEL}.cluster={self.cluster_id}"}):
            network.remove()
        subprocess.run(["ip", "link", "del", self.service_bridge], capture_output=True)

    def _taken(self) -> list[ipaddress.IPv4Network | ipaddress.IPv6Network]:
        taken: list[ipaddress.IPv4Network | ipaddress.IPv6Network] = []
        for line in _ip("-o", "-4", "addr").splitlines():
            for word in line.split():
                if "/" in word and word[0].isdigit():
                    taken.append(ipaddress.ip_interface(word).network)
        for line in _ip("-4", "route").splitlines():
            word = line.split()[0] if line.split() else ""
            if word[:1].isdigit():
                taken.append(ipaddress.ip_network(word, strict=False))
        for network in self.client.networks.list():
            for pool in (network.attrs.get("IPAM") or {}).get("Config") or []:
                if pool.get("Subnet") and ":" not in pool["Subnet"]:
                    taken.append(ipaddress.ip_network(pool["Subnet"], strict=False))
        return taken

    def _choose_block(self) -> ipaddress.IPv4Network:
        taken = self._taken()
        blocks = list(RANGE.subnets(new_prefix=BLOCK_PREFIX))
        start = int(self.cluster_id[:4], 16) % len(blocks)
        for i in range(len(blocks)):
            block = blocks[(start + i) % len(blocks)]
            if not any(block.overlaps(t) for t in taken):
                return block
        raise ClusterError(f"no free /{BLOCK_PREFIX} in {RANGE} for the Docker runtime's zone networks: "
                           "remove unused bridges or Docker networks")

    # --- zones (blocking) --------------------------------------------------------------------------
    def get(self, zone: str) -> ZoneNetwork | None:
        return self._zones.get(zone)

    def create(self, zone: str) -> ZoneNetwork:
        """Zone ``zone``'s network (created when it does not exist yet)."""
        from docker.types import IPAMConfig, IPAMPool

        if zone in self._zones:
            return self._zones[zone]
        if self.block is None:
            raise ClusterError("the Docker runtime's pod network is not set up yet")
        used = {n.subnet for n in self._zones.values()}
        subnet = next((s for s in list(self.block.subnets(new_prefix=ZONE_PREFIX))[1:] if s not in used), None)
        if subnet is None:
            raise ClusterError(f"the cluster's zone networks ({self.block}) are all used: delete a zone first")
        name = f"autonomy-{self.cluster_id[:8]}-{zone}"
        bridge = "az" + hashlib.sha1(f"{self.cluster_id}/{zone}".encode()).hexdigest()[:10]
        for stale in self.client.networks.list(names=[name]):
            if stale.name == name:
                stale.remove()
        ipam = IPAMConfig(pool_configs=[IPAMPool(subnet=str(subnet), gateway=str(subnet.network_address + 1))])
        self.client.networks.create(
            name, driver="bridge", ipam=ipam, check_duplicate=True,
            options={"com.docker.network.bridge.name": bridge,
                     "com.docker.network.bridge.enable_ip_masquerade": "false"},
            labels={f"{LABEL}.cluster": self.cluster_id, f"{LABEL}.zone": zone})
        network = self._zones[zone] = ZoneNetwork(zone, name, bridge, subnet)
        return network

    def remove(self, zone: str) -> ZoneNetwork | None:
        """Remove zone ``zone``'s network (its containers are gone); returns it, or None if it had none."""
        network = self._zones.pop(zone, None)
        for found in self.client.networks.list(filters={"label": [f"{LABEL}.cluster={self.cluster_id}",
                                                                   f"{LABEL}.zone={zone}"]}):
            found.remove()
        return network

    def zones(self) -> list[ZoneNetwork]:
        return list(self._zones.values())


def pod_address(container: Any, network: ZoneNetwork) -> str:
    """The address the engine gave (pause) ``container`` on ``network`` (after ``reload``)."""
    container.reload()
    address = (container.attrs["NetworkSettings"]["Networks"].get(network.name) or {}).get("IPAddress")
    if not address:
        raise ClusterError(f"container {container.name} has no address on {network.name}")
    return str(address)
