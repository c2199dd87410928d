"""``autonomy cluster enroll --kubernetes``: check the cluster, create or adopt its system namespace, record it.

Checks first, changes after: the server's version (:data:`MIN_MINOR`), then every permission the
backend needs (SelfSubjectAccessReview per verb and resource; one error lists all that are missing).

Adopt or create: a namespace labelled ``app.kubernetes.io/managed-by=autonomy`` and
``autonomy.computer/role=system`` holds the ConfigMap ``autonomy-cluster`` (the id) and the Secret
``autonomy-fabric`` (the fabric credentials): a second workstation enrolling the same cluster adopts
them and changes nothing. Otherwise a new id and credentials are made, the system namespace's objects
applied, and enroll waits (with progress) until NATS and the model gateway are ready.

Recorded in ``AUTONOMY_HOME``: ``cluster.json`` (kind ``kubernetes``, no secret) and a 0600 copy of the
credentials under ``fabric/credentials``.
"""

from __future__ import annotations

import base64
import json
import os
import secrets
from collections.abc import Callable
from pathlib import Path
from typing import Any

from autonomy.cluster.kubernetes import labels as L
from autonomy.cluster.kubernetes.api import KubeApi
from autonomy.cluster.kubernetes.config import KubeCluster
from autonomy.cluster.kubernetes.rollout import wait_for_sets
from autonomy.cluster.kubernetes.system import nats_hosts, render_system
from autonomy.errors import ClusterError
from autonomy.transport.credentials import ClusterCredentials, TlsMaterial

__all__ = ["MIN_MINOR", "REQUIRED", "check_access", "enroll", "load_credentials", "save_record"]

MIN_MINOR = 28  # the apps.kubernetes.io/pod-index label, SSA everywhere
_NAMESPACED = ["secrets", "configmaps", "services", "statefulsets", "deployments", "ingresses", "networkpolicies",
               "poddisruptionbudgets"]
_GROUPS = {"statefulsets": "apps", "deployments": "apps", "ingresses": "networking.k8s.io",
           "networkpolicies": "networking.k8s.io", "poddisruptionbudgets": "policy"}
# (verb, resource, subresource): what enroll, deploy, status, logs and delete use.
REQUIRED: list[tuple[str, str, str]] = [
    *[(verb, "namespaces", "") for verb in ("get", "list", "create", "patch", "delete")],
    *[(verb, r, "") for r in _NAMESPACED for verb in ("get", "list", "create", "patch", "delete")],
    *[(verb, "pods", "") for verb in ("get", "list", "delete")],
    ("get", "pods", "log"),
    ("list", "events", ""),
]


def check_access(api: KubeApi) -> None:
    """ClusterError listing every permission (cluster-wide) the kubeconfig's user lacks."""
    missing = []
    for verb, resource, subresource in REQUIRED:
        review = {"apiVersion": "authorization.k8s.io/v1", "kind": "SelfSubjectAccessReview",
                  "spec": {"resourceAttributes": {"verb": verb, "resource": resource,
                                                  "group": _GROUPS.get(resource, ""),
                                                  **({"subresource": subresource} if subresource else {})}}}
        answer = api.request("POST", "/apis/authorization.k8s.io/v1/selfsubjectaccessreviews", body=review)
        if not (answer.get("status") or {}).get("allowed"):
            missing.append(f"{verb} {resource}{'/' + subresource if subresource else ''}")
    if missing:
        raise ClusterError("the Kubernetes user of this kubeconfig may not: " + ", ".join(missing)
                           + ". Ask for a ClusterRole granting these (docs/kubernetes.md lists them) or use "
                           "another --context")


def load_credentials(api: KubeApi, namespace: str) -> ClusterCredentials:
    secret = api.get("Secret", namespace, "autonomy-fabric")
    if secret is None:
        raise ClusterError(f"namespace {namespace} has no Secret autonomy-fabric: the cluster's system namespace "
                           "is incomplete; delete it (kubectl delete namespace ...) and enroll again")
    data = {k: base64.b64decode(v).decode() for k, v in (secret.get("data") or {}).items()}
    try:
        meta = json.loads(data["cluster.json"])
        tls = TlsMaterial(ca_cert_pem=data["ca.crt"], ca_key_pem=data["ca.key"], server_cert_pem=data["tls.crt"],
                          server_key_pem=data["tls.key"], hosts=tuple(meta.get("hosts", ())))
        return ClusterCredentials(cluster=meta["cluster"], account=meta["account"], user=meta["user"],
                                  password=meta["password"], tls=tls)
    except (KeyError, ValueError) as exc:
        raise ClusterError(f"Secret {namespace}/autonomy-fabric is incomplete ({exc.__class__.__name__}: {exc})") \
            from None


def _existing(api: KubeApi) -> tuple[str, str] | None:
    systems = api.list("Namespace", labels=f"{L.MANAGED_BY}=autonomy,{L.ROLE}=system")
    found = []
    for ns in systems:
        name = ns["metadata"]["name"]
        config = api.get("ConfigMap", name, "autonomy-cluster")
        if config and (config.get("data") or {}).get("id"):
            found.append((name, config["data"]["id"]))
    if len(found) > 1:
        raise ClusterError("this Kubernetes cluster holds several autonomy clusters ("
                           + ", ".join(f"{i} in {n}" for n, i in found) + "): delete the ones not used")
    return found[0] if found else None


def enroll(api: KubeApi, home: Path, *, registry: str, progress: Callable[[str, str], None],
           wait: bool = True, timeout: float = 300.0, poll: float = 1.0, **options: Any) -> tuple[KubeCluster, bool]:
    """Enroll the cluster ``api`` reaches; returns ``(cluster, adopted)``. ``options``: the other fields of
    :class:`KubeCluster` (domain, ingress_class, tls_secret, cluster_issuer, insecure_http, pull_registry,
    runtime_image, context, kubeconfig)."""
    KubeCluster(id="0" * 32, registry=registry, **options)  # refuse bad options before contacting anything
    major, minor, git_version = api.version()
    if major != 1 or minor < MIN_MINOR:
        raise ClusterError(f"the Kubernetes API server {api.server} runs {git_version or f'{major}.{minor}'}; "
                           f"autonomy needs 1.{MIN_MINOR} or later")
    progress("check", f"Kubernetes {git_version or f'1.{minor}'} at {api.server}")
    check_access(api)
    progress("check", "permissions")
    existing = _existing(api)
    if existing is not None:
        namespace, cluster_id = existing
        cluster = KubeCluster(id=cluster_id, registry=registry, server=api.server, server_minor=minor, **options)
        credentials = load_credentials(api, namespace)
        progress("adopt", f"cluster {cluster_id} (namespace {namespace})")
    else:
        cluster = KubeCluster(id=secrets.token_hex(16), registry=registry, server=api.server, server_minor=minor,
                              **options)
        credentials = ClusterCredentials.generate(cluster.id, hosts=nats_hosts(cluster))
        for doc in render_system(cluster, credentials):
            api.apply(doc)
            progress("apply", f"{doc['kind']}/{doc['metadata']['name']}")
        if wait:
            ns = cluster.system_namespace
            wait_for_sets(api, ns, "app=nats", ["nats"], progress=progress, timeout=timeout, poll=poll)
            wait_for_sets(api, ns, "app=model-gateway", ["model-gateway"], progress=progress, timeout=timeout,
                          poll=poll, kind="Deployment")
    save_record(home, cluster, credentials)
    return cluster, existing is not None


def save_record(home: Path, cluster: KubeCluster, credentials: ClusterCredentials) -> None:
    home.mkdir(parents=True, exist_ok=True, mode=0o700)
    credentials.save(home / "fabric" / "credentials")
    path = home / "cluster.json"
    tmp = path.with_suffix(".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as file:
        file.write(cluster.dumps() + "\n")
    os.replace(tmp, path)
