"""One pod instance as Docker containers: a pause container holding the network, and the pod's
containers joined to it (``network_mode: container:<pause>``), so they share ``localhost`` as the
containers of a Kubernetes pod do.

Every container is hardened the same way (:func:`hardening`): its zone's own unprivileged uid
(:func:`autonomy.cluster.zone_uid.zone_uid`, the same as under the process runtime), no capabilities,
``no-new-privileges``, a read-only root filesystem with a private writable ``/tmp`` (tmpfs), an init
process as PID 1 (so SIGTERM stops Python promptly), and the pod's ``size`` as a CPU quota and memory
limit (a quota, not ``--cpus``: the engine refuses ``--cpus 4`` on a 2-CPU host, the quota is
accepted and enforced the same way).
"""

from __future__ import annotations

from typing import Any

__all__ = ["LABEL", "hardening", "labels", "container_name", "limits"]

LABEL = "computer.autonomy"  # every label of ours starts with it; ``LABEL.cluster`` selects a cluster's
_PERIOD = 100_000  # microseconds: the CFS period the quota is expressed in
# (CPUs, bytes) per pod size, the Runtime Architecture's: the same figures as the process runtime's
# cgroups (not imported from it: backends do not import each other)
SIZES: dict[str, tuple[float, int]] = {"regular": (0.25, 256 * 2**20), "big": (4.0, 2 * 2**30)}


def limits(size: str) -> dict[str, Any]:
    """``cpu_period``/``cpu_quota``/``mem_limit`` (and no swap beyond it) for a pod ``size``."""
    cpu, memory = SIZES[size]
    return {"cpu_period": _PERIOD, "cpu_quota": int(cpu * _PERIOD), "mem_limit": memory, "memswap_limit": memory}


def hardening(uid: int) -> dict[str, Any]:
    """The options every container of a pod gets, the pause container included; ``uid`` is its zone's."""
    return {
        "user": f"{uid}:{uid}",
        "cap_drop": ["ALL"],
        "security_opt": ["no-new-privileges"],
        "read_only": True,
        "tmpfs": {"/tmp": "rw,nosuid,nodev,size=64m"},
        "init": True,
        "pids_limit": 512,
    }


def labels(cluster: str, zone: str, pod: str, clone: int, container: str) -> dict[str, str]:
    return {f"{LABEL}.cluster": cluster, f"{LABEL}.zone": zone, f"{LABEL}.pod": pod,
            f"{LABEL}.clone": str(clone), f"{LABEL}.container": container}


def container_name(cluster: str, zone: str, pod: str, clone: int, container: str) -> str:
    """``autonomy-{cluster[:8]}-{zone}-{pod}-{clone}-{container}``: unique per engine and cluster."""
    return f"autonomy-{cluster[:8]}-{zone}-{pod}-{clone}-{container}"
