"""The Kubernetes backend: zones rendered as plain manifests and applied with server-side apply.

Modules, one concept each: :mod:`.config` (what enroll records), :mod:`.labels`, :mod:`.fabric` (zone
users, the NATS config), :mod:`.render` (a zone's manifests, pure), :mod:`.system` (the system
namespace, pure), :mod:`.manifests` (redacted YAML), :mod:`.api` (requests through the official client),
:mod:`.rollout` (waiting, failing fast), :mod:`.images` and :mod:`.registry` (pinned image refs),
:mod:`.enroll`, :mod:`.deployer` (the :class:`~autonomy.cluster.deployer.Deployer`). See docs/kubernetes.md.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from autonomy.cluster.kubernetes.config import KIND, KubeCluster
from autonomy.errors import ClusterError, ConfigError

__all__ = ["KIND", "KubeCluster", "load_record", "open_deployer"]


def load_record(home: Path) -> KubeCluster:
    path = home / "cluster.json"
    try:
        return KubeCluster.from_record(json.loads(path.read_text()))
    except (OSError, ValueError, TypeError) as exc:
        if isinstance(exc, ConfigError):
            raise
        raise ClusterError(f"{path} is not a Kubernetes cluster record ({exc}): enroll again with "
                           "`autonomy cluster enroll --kubernetes ...`") from exc


def open_deployer(home: Path, *, api: Any = None, **options: Any) -> Any:
    """The :class:`~autonomy.cluster.kubernetes.deployer.KubernetesDeployer` of the cluster enrolled in
    ``home`` (``api``: a :class:`~autonomy.cluster.kubernetes.api.KubeApi`, default from the recorded
    kubeconfig and context). Refuses when the context now points at another API server."""
    from autonomy.cluster.kubernetes.api import KubeApi
    from autonomy.cluster.kubernetes.deployer import KubernetesDeployer
    from autonomy.transport.credentials import ClusterCredentials

    cluster = load_record(home)
    if api is None:
        api = KubeApi.from_kubeconfig(cluster.kubeconfig, cluster.context)
    if cluster.server and api.server.rstrip("/") != cluster.server.rstrip("/"):
        raise ClusterError(f"context {cluster.context or '(current)'} now points at {api.server}, not at "
                           f"{cluster.server} where cluster {cluster.id} was enrolled: switch back, or enroll again")
    try:
        credentials = ClusterCredentials.load(home / "fabric" / "credentials")
    except ConfigError as exc:
        raise ClusterError(f"{exc}: enroll again with `autonomy cluster enroll --kubernetes ...` (it adopts the "
                           "cluster)") from exc
    return KubernetesDeployer(cluster, api, credentials, **options)
