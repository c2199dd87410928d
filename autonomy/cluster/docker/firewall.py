"""nftables rules of the Docker runtime: a zone's bridge is the zone, static rules, nothing per pod.

One ``table inet autonomy_<8 hex>`` (the cluster's own; :mod:`autonomy.cluster.nftables` loads it whole
in one transaction, so a killed controller's table is replaced and ``cluster stop`` deletes it):

- ``set zone_bridges`` holds the Linux bridge of every zone network, ``set same_bridge`` the pairs
  ``bridge . bridge``;
- ``input``: from a zone bridge the host accepts only replies (ct established) and new TCP connections
  to the cluster's service address on the NATS, model gateway and trace collector ports; the rest
  (other host ports and addresses, another cluster's services) is dropped;
- ``forward``: frames bridged within one zone's bridge pass (with br_netfilter they show up here with
  the bridge as both interfaces); nothing is routed out of or into a zone bridge (other zones, other
  clusters, egress);
- ``output``: only root's processes (the controller: public gateway, readiness checks) open
  connections to pods.

dockerd runs with ``iptables: false``: these rules are the only ones about zone traffic.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterable

from autonomy.cluster.nftables import aload, delete_tables, load, nft_set, table_name

__all__ = ["ZoneFirewall"]


class ZoneFirewall:
    """The rules of cluster ``cluster_id`` whose services listen on ``service_address``."""

    def __init__(self, cluster_id: str, service_address: str) -> None:
        self.table = table_name(cluster_id)
        self.service_address = service_address
        self.ports: tuple[int, ...] = ()
        self._bridges: set[str] = set()
        self._lock = asyncio.Lock()

    def setup(self, ports: Iterable[int], bridges: Iterable[str] = ()) -> None:
        """Load the table letting pods reach ``ports`` on the service address (blocking), with the bridges
        of zones adopted from a previous controller already under the rules (replaced atomically)."""
        self.ports = tuple(sorted(set(ports)))
        self._bridges = set(bridges)
        load(self.render())

    def teardown(self) -> None:
        self._bridges.clear()
        delete_tables(self.table)

    async def add_zone(self, bridge: str) -> None:
        """Put a zone's bridge under the rules (before any of its pods starts)."""
        async with self._lock:
            if bridge not in self._bridges:
                self._bridges.add(bridge)
                await aload(self.render())

    async def remove_zone(self, bridge: str) -> None:
        async with self._lock:
            if bridge in self._bridges:
                self._bridges.discard(bridge)
                await aload(self.render())

    def render(self) -> str:
        t = self.table
        bridges = sorted(self._bridges)
        lines = [f"table inet {t}", f"delete table inet {t}", f"table inet {t} {{",
                 "  set zone_bridges {", "    type ifname;"]
        if bridges:
            lines.append(f"    elements = {nft_set(bridges)}")
        lines += ["  }", "  set same_bridge {", "    type ifname . ifname;"]
        if bridges:
            lines.append("    elements = { " + ", ".join(f'"{b}" . "{b}"' for b in bridges) + " }")
        lines += ["  }",
                  "  chain input {", "    type filter hook input priority 0; policy accept;",
                  "    iifname @zone_bridges ct state established,related accept"]
        if self.ports:
            lines.append(f"    iifname @zone_bridges ip daddr {self.service_address} tcp dport "
                         f"{nft_set(str(p) for p in self.ports)} accept")
        lines += ["    iifname @zone_bridges drop", "  }",
                  "  chain forward {", "    type filter hook forward priority 0; policy accept;",
                  "    iifname . oifname @same_bridge accept",
                  "    iifname @zone_bridges drop", "    oifname @zone_bridges drop", "  }",
                  "  chain output {", "    type filter hook output priority 0; policy accept;",
                  "    oifname @zone_bridges ct state established,related accept",
                  "    oifname @zone_bridges meta skuid 0 accept", "    oifname @zone_bridges drop", "  }", "}"]
        return "\n".join(lines) + "\n"
