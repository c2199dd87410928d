"""Re-adoption: a controller that starts again finds the shims a killed one left, and keeps what it can.

Every container's shim (:mod:`.shim`) keeps a state file at ``{home}/zones/{zone}/shims/{pod}-{clone}-
{container}.json`` whose ``meta`` holds the pod facts (zone, pod, clone, container, node, address, port,
namespace, veth, size, image, whether it is a node, the network mode) and the zone's **generation**: a
digest of the stored spec and its deploy time. At start (:meth:`LocalBackend.prepare`) the controller

1. reads every state file and keeps the shims that are alive and ours: the pid runs and its start time
   is the one the shim wrote (a later process that got the same pid is not taken for it);
2. adopts a zone when it is stored, every container of its spec has a live shim of the zone's current
   generation, and the pod network mode is the one this controller chose; the zone's namespaces, cgroups
   and nft rules are kept, its shims and containers keep running (same pids, in-memory state kept);
3. stops every other shim (its zone is gone, changed, incomplete or in another network mode) and forgets
   dead ones' files; those zones are redeployed from scratch as before.

Decision: a zone is adopted whole or not at all. A zone missing one container's shim is redeployed, so a
half-adopted zone never mixes two generations of pods.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from autonomy.cluster.local.shim import process_start_time
from autonomy.cluster.local.supervisor import ContainerProcess
from autonomy.cluster.pod_basics import zone_generation

__all__ = ["ShimRecord", "AdoptionPlan", "find_shims", "plan_adoption", "zone_generation", "stop_shims"]

log = logging.getLogger("autonomy.cluster")


@dataclass
class ShimRecord:
    """One shim's state file (``path``) and what it holds (``state``)."""

    path: Path
    state: dict[str, Any]

    @property
    def meta(self) -> dict[str, Any]:
        return dict(self.state.get("meta") or {})

    @property
    def alive(self) -> bool:
        """The shim runs and is the process that wrote this file (pid and start time)."""
        pid, start = self.state.get("shim_pid"), self.state.get("shim_start")
        return isinstance(pid, int) and start is not None and process_start_time(pid) == start

    @property
    def groups(self) -> set[int]:
        """The process groups this shim owns: its own session and its container's."""
        return {int(p) for p in (self.state.get("shim_pid"), self.state.get("pid")) if p}


@dataclass
class AdoptionPlan:
    zones: dict[str, list[ShimRecord]] = field(default_factory=dict)  # zone -> shims of its containers
    stale: list[ShimRecord] = field(default_factory=list)  # live shims to stop
    dead: list[ShimRecord] = field(default_factory=list)  # files of shims that are gone

    @property
    def groups(self) -> set[int]:
        return {g for records in self.zones.values() for r in records for g in r.groups}

    @property
    def namespaces(self) -> set[str]:
        return {r.meta["namespace"] for rs in self.zones.values() for r in rs if r.meta.get("namespace")}

    @property
    def pods(self) -> dict[str, str]:
        """Host-side veth -> zone of the adopted pods (for the zone rules)."""
        return {r.meta["veth"]: z for z, rs in self.zones.items() for r in rs if r.meta.get("veth")}


def find_shims(home: Path) -> list[ShimRecord]:
    """Every shim state file under the cluster's ``home`` (unreadable ones are skipped)."""
    records = []
    for path in sorted((home / "zones").glob("*/shims/*.json")):
        if path.name.startswith("."):
            continue
        try:
            state = json.loads(path.read_text())
        except (OSError, ValueError):
            continue
        if isinstance(state, dict):
            records.append(ShimRecord(path, state))
    return records


def plan_adoption(home: Path, stored: list[Any], network: str) -> AdoptionPlan:
    """Which shims under ``home`` to adopt for the ``stored`` zones (``ClusterState.zones()``) in
    pod network mode ``network``, which to stop, which are gone (see the module docstring)."""
    plan = AdoptionPlan()
    by_zone: dict[str, list[ShimRecord]] = {}
    for record in find_shims(home):
        if record.alive:
            by_zone.setdefault(str(record.meta.get("zone")), []).append(record)
        else:
            plan.dead.append(record)
    for zone in stored:
        records = by_zone.pop(zone["name"], [])
        if not records:
            continue
        generation = zone_generation(zone["spec"], zone["deployed_at"])
        expected = {(p["name"], i, c["name"]) for p in zone["spec"]["pods"] for i in range(p.get("clones", 1))
                    for c in p["containers"]}
        found = {(r.meta.get("pod"), r.meta.get("clone"), r.meta.get("container")) for r in records}
        same = all(r.meta.get("generation") == generation and r.meta.get("network") == network for r in records)
        if same and found == expected and len(records) == len(expected):
            plan.zones[zone["name"]] = records
        else:
            log.warning("zone %s: its running containers are not those of its stored spec: redeploying it",
                        zone["name"])
            plan.stale += records
    for records in by_zone.values():  # zones no longer in the state
        plan.stale += records
    return plan


async def stop_shims(records: list[ShimRecord]) -> None:
    """Stop the shims of ``records`` (their containers first) and remove their files."""
    async def stop(record: ShimRecord) -> None:
        await ContainerProcess.adopt(record.state, record.path).stop()

    await asyncio.gather(*(stop(r) for r in records))


def forget(records: list[ShimRecord]) -> None:
    """Remove the state files of shims that are gone."""
    for record in records:
        for path in (record.path, record.path.with_suffix(".err")):
            with contextlib.suppress(FileNotFoundError):
                path.unlink()
