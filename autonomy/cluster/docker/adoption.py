"""Re-adoption in the Docker runtime: a restarted controller keeps the containers of its unchanged zones.

Every container of a zone (pause containers included) carries, besides the cluster/zone/pod/clone/container
labels (:mod:`.pod`), ``computer.autonomy.generation`` (the zone's stored spec digest and deploy time,
:func:`autonomy.cluster.pod_basics.zone_generation`), ``computer.autonomy.network`` (the
network mode it was started in) and ``computer.autonomy.port`` (its pod's HTTP port). At start the
controller adopts a stored zone's containers when every container its spec asks for (and each pod
instance's pause container) is there, of the zone's current generation and network mode, and not
exited; the engine keeps restarting them as before (``on-failure``). Every other container of the
cluster is removed, as before. A zone is adopted whole or not at all (as in the process runtime).
"""

from __future__ import annotations

from typing import Any

from autonomy.cluster.docker.pod import LABEL
from autonomy.cluster.pod_basics import zone_generation

__all__ = ["GENERATION", "NETWORK", "PORT", "plan_adoption"]

GENERATION = f"{LABEL}.generation"
NETWORK = f"{LABEL}.network"
PORT = f"{LABEL}.port"


def plan_adoption(containers: list[Any], stored: list[Any], network: str) -> tuple[dict[str, list[Any]], list[Any]]:
    """``(zone -> its containers to adopt, containers to remove)`` among the cluster's ``containers``
    (docker ``Container`` objects) for the ``stored`` zones (``ClusterState.zones()``)."""
    by_zone: dict[str, list[Any]] = {}
    for container in containers:
        by_zone.setdefault(container.labels.get(f"{LABEL}.zone", ""), []).append(container)
    adopt: dict[str, list[Any]] = {}
    for zone in stored:
        found = by_zone.get(zone["name"], [])
        if not found:
            continue
        wanted = zone_generation(zone["spec"], zone["deployed_at"])
        expected = {(p["name"], str(i), c) for p in zone["spec"]["pods"] for i in range(p.get("clones", 1))
                    for c in [*(c["name"] for c in p["containers"]), "pause"]}
        have = {(c.labels.get(f"{LABEL}.pod"), c.labels.get(f"{LABEL}.clone"), c.labels.get(f"{LABEL}.container"))
                for c in found}
        fits = all(c.labels.get(GENERATION) == wanted and c.labels.get(NETWORK) == network
                   and c.status not in ("exited", "dead", "created") for c in found)
        if fits and have == expected and len(found) == len(expected):
            adopt[zone["name"]] = by_zone.pop(zone["name"])
    remove = [c for containers in by_zone.values() for c in containers]
    return adopt, remove
