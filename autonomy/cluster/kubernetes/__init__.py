"""The Kubernetes backend: zones rendered as plain manifests and applied with server-side apply.

Modules, one concept each: :mod:`.config` (what enroll records), :mod:`.labels`, :mod:`.fabric` (zone
users, the NATS config), :mod:`.render` (a zone's manifests, pure), :mod:`.system` (the system
namespace, pure), :mod:`.manifests` (redacted YAML), :mod:`.api` (requests through the official client),
:mod:`.rollout` (waiting, failing fast), :mod:`.observe` (list, status, logs), :mod:`.images` and
:mod:`.registry` (pinned image refs), :mod:`.enroll`, :mod:`.deployer` (the
:class:`~autonomy.cluster.deployer.Deployer`), :mod:`.gateway_main` (the model gateway the system
namespace runs). See docs/kubernetes.md.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from autonomy.cluster.kubernetes.config import KIND, KubeCluster
from autonomy.errors import ClusterError, ConfigError

__all__ = ["KIND", "KubeCluster", "enroll_cluster", "load_record", "open_deployer"]


def load_record(home: Path) -> KubeCluster:
    path = home / "cluster.json"
    try:
        return KubeCluster.from_record(json.loads(path.read_text()))
    except (OSError, ValueError, TypeError) as exc:
        if isinstance(exc, ConfigError):
            raise
        raise ClusterError(f"{path} is not a Kubernetes cluster record ({exc}): enroll again with "
                           "`autonomy cluster enroll --kubernetes ...`") from exc


def open_deployer(home: Path, *, api: Any = None, offline: bool = False, **options: Any) -> Any:
    """The :class:`~autonomy.cluster.kubernetes.deployer.KubernetesDeployer` of the cluster enrolled in
    ``home`` (``api``: a :class:`~autonomy.cluster.kubernetes.api.KubeApi`, default from the recorded
    kubeconfig and context; ``offline``: none, for rendering only). Refuses when the context now points
    at another API server."""
    from autonomy.cluster.kubernetes.api import KubeApi
    from autonomy.cluster.kubernetes.deployer import KubernetesDeployer
    from autonomy.transport.credentials import ClusterCredentials

    cluster = load_record(home)
    if api is None and not offline:
        api = KubeApi.from_kubeconfig(cluster.kubeconfig, cluster.context)
    if api is not None and cluster.server and api.server.rstrip("/") != cluster.server.rstrip("/"):
        raise ClusterError(f"context {cluster.context or '(current)'} now points at {api.server}, not at "
                           f"{cluster.server} where cluster {cluster.id} was enrolled: switch back, or enroll again")
    try:
        credentials = ClusterCredentials.load(home / "fabric" / "credentials")
    except ConfigError as exc:
        raise ClusterError(f"{exc}: enroll again with `autonomy cluster enroll --kubernetes ...` (it adopts the "
                           "cluster)") from exc
    return KubernetesDeployer(cluster, api, credentials, **options)


def enroll_cluster(home: Path, progress: Any, *, kubeconfig: str | None = None, context: str | None = None,
                   api: Any = None, wait: bool = True, poll: float = 1.0, **options: Any) -> dict[str, Any]:
    """``cluster enroll --kubernetes``: enroll (create or adopt) and return what ``cluster show`` prints."""
    from autonomy.cluster.kubernetes.api import KubeApi
    from autonomy.cluster.kubernetes.enroll import enroll

    KubeCluster(id="0" * 32, **options)  # refuse bad options before reading any kubeconfig
    if (home / "cluster.json").exists():
        kind = json.loads((home / "cluster.json").read_text()).get("kind", "local")
        if kind != KIND:
            raise ClusterError(f"{home} already holds a {kind} cluster: enroll the Kubernetes cluster in another "
                               "AUTONOMY_HOME (e.g. AUTONOMY_HOME=~/.autonomy-k8s)")
    if api is None:
        api = KubeApi.from_kubeconfig(kubeconfig, context)
    _, adopted = enroll(api, home, progress=progress, wait=wait, poll=poll, kubeconfig=kubeconfig, context=context,
                        **options)
    info = open_deployer(home, api=api, poll=poll).describe()
    return {**info, "adopted": adopted}
