"""nftables rules that make the cluster's pod bridge a set of zones, not one flat network.

Everything lives in two tables of the cluster's own (``autonomy_<8 hex of the cluster id>``); the global
ruleset is never flushed, other tables are never touched. Each change (a pod added or removed) renders
both tables whole and loads them with one ``nft -f -`` transaction (``table X; delete table X; table X
{...}``: atomic, and it also replaces what a killed controller left). :meth:`PodFirewall.teardown`
deletes both tables.

- ``table bridge``: frames between two pod ports of the cluster's bridge pass only when both pods are
  of the same zone (a chain per zone, entered through a verdict map keyed by the pod's host-side veth);
  ARP passes; frames of other bridges are not ours and pass untouched.
- ``table inet``:
  - ``input``: from the pod bridge the host accepts only replies (ct established) and new connections
    to the bridge address on the NATS and model gateway ports; everything else from pods is dropped
    (other host ports, the host's other addresses, another cluster's bridge address).
  - ``forward``: nothing is routed out of the pod bridge (no egress, no other bridge, no other
    cluster) and nothing is routed in (other machines, another cluster's pods). br_netfilter shows
    bridged pod-to-pod frames here with the bridge as both interfaces: those are accepted here and
    decided by the bridge table (runtime notes §6, gotcha 1). Connection tracking is only used in this
    family: this kernel has no ``nf_conntrack_bridge`` (gotcha 2).
  - ``output``: only root's processes (the controller: public gateway, readiness checks) open
    connections to pods, so an unprivileged host user cannot reach a private zone's pods.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterable

from autonomy.cluster.nftables import aload as _anft
from autonomy.cluster.nftables import delete_tables, firewall_available
from autonomy.cluster.nftables import load as _nft
from autonomy.cluster.nftables import nft_set as _set
from autonomy.cluster.nftables import quote as _q

__all__ = ["PodFirewall", "delete_tables", "firewall_available"]


class PodFirewall:
    """The rules of cluster ``cluster_id`` whose pods sit on ``bridge`` with the host at ``gateway``."""

    def __init__(self, cluster_id: str, bridge: str, gateway: str) -> None:
        self.table = f"autonomy_{cluster_id[:8]}"
        self.bridge = bridge
        self.gateway = gateway
        self.ports: tuple[int, ...] = ()
        self._pods: dict[str, str] = {}  # host-side veth -> zone
        self._lock = asyncio.Lock()
        self._changes = 0  # changes made to _pods
        self._loaded = 0  # changes the loaded ruleset includes

    # --- life cycle ------------------------------------------------------------------------------
    def setup(self, ports: Iterable[int], pods: dict[str, str] | None = None) -> None:
        """Load the tables allowing pods to reach ``ports`` on the bridge address, with ``pods`` (host-side
        veth -> zone: pods adopted from a previous controller, whose rules are thus replaced atomically,
        never missing) or none yet."""
        self.ports = tuple(sorted(set(ports)))
        self._pods = dict(pods or {})
        _nft(self.render())

    def teardown(self) -> None:
        """Delete both tables (nothing is left behind); safe when they are gone already."""
        self._pods.clear()
        delete_tables(self.table)

    async def add_pod(self, zone: str, veth: str) -> None:
        """Returns once the loaded rules include ``veth`` in ``zone``."""
        self._pods[veth] = zone
        await self._load_changes()

    async def remove_pod(self, veth: str) -> None:
        """Returns once the loaded rules no longer include ``veth``."""
        if self._pods.pop(veth, None) is not None:
            await self._load_changes()

    async def _load_changes(self) -> None:
        """Load the rules as they are now, unless a load that started after this change covered it.

        Pods of a zone start (and stop) concurrently: the first change loads at once, the changes made
        meanwhile are loaded together by the next load, so 50 clones cost two ``nft`` runs, not 50
        (each of which rendered every pod). A failed load raises to the callers whose change it held;
        the next change loads them again."""
        self._changes += 1
        mine = self._changes
        async with self._lock:
            if self._loaded >= mine:
                return
            covered, ruleset = self._changes, self.render()  # no await between: the ruleset holds `covered`
            await _anft(ruleset)
            self._loaded = covered

    # --- rendering -------------------------------------------------------------------------------
    def render(self) -> str:
        t, br = self.table, _q(self.bridge)
        zones: dict[str, list[str]] = {}
        for veth, zone in sorted(self._pods.items()):
            zones.setdefault(zone, []).append(veth)
        lines = [f"table bridge {t}", f"delete table bridge {t}", f"table bridge {t} {{"]
        for zone, veths in zones.items():
            lines += [f"  chain zone_{zone} {{", f"    oifname {_set(veths)} accept", "    drop", "  }"]
        # Frames from ports that are not our pods' (other bridges, ours before its first pod) fall through
        # to the accept policy: this kernel has no ``meta ibrname`` to name the bridge.
        lines += ["  chain forward {", "    type filter hook forward priority 0; policy accept;",
                  "    ether type arp accept"]
        if zones:
            pairs = ", ".join(f"{_q(v)} : jump zone_{z}" for z, vs in zones.items() for v in vs)
            lines.append(f"    iifname vmap {{ {pairs} }}")
        lines += ["  }", "}"]
        ports = _set(str(p) for p in self.ports) if self.ports else None
        lines += [f"table inet {t}", f"delete table inet {t}", f"table inet {t} {{",
                  "  chain input {", "    type filter hook input priority 0; policy accept;",
                  f"    iifname {br} ct state established,related accept"]
        if ports:
            lines.append(f"    iifname {br} ip daddr {self.gateway} tcp dport {ports} accept")
        lines += [f"    iifname {br} drop", "  }",
                  "  chain forward {", "    type filter hook forward priority 0; policy accept;",
                  f"    iifname {br} oifname {br} accept", f"    iifname {br} drop", f"    oifname {br} drop", "  }",
                  "  chain output {", "    type filter hook output priority 0; policy accept;",
                  f"    oifname {br} ct state established,related accept",
                  f"    oifname {br} meta skuid 0 accept", f"    oifname {br} drop", "  }", "}"]
        return "\n".join(lines) + "\n"
