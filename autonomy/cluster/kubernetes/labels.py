"""Labels every rendered object carries; prune, list and delete select by them."""

from __future__ import annotations

__all__ = ["MANAGED_BY", "CLUSTER", "ZONE", "POD", "ROLE", "CONFIG_HASH", "common", "selector"]

MANAGED_BY = "app.kubernetes.io/managed-by"
CLUSTER = "autonomy.computer/cluster"
ZONE = "autonomy.computer/zone"
POD = "autonomy.computer/pod"
ROLE = "autonomy.computer/role"
CONFIG_HASH = "autonomy.computer/config-hash"
FIELD_MANAGER = "autonomy"


def common(cluster: str, zone: str | None = None, pod: str | None = None, role: str | None = None) -> dict[str, str]:
    labels = {MANAGED_BY: "autonomy", CLUSTER: cluster}
    if zone is not None:
        labels[ZONE] = zone
    if pod is not None:
        labels[POD] = pod
    if role is not None:
        labels[ROLE] = role
    return labels


def selector(labels: dict[str, str]) -> str:
    """``k=v,k=v``: a label selector for ``labels``."""
    return ",".join(f"{k}={v}" for k, v in labels.items())
