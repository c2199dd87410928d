"""A zone's Kubernetes manifests: a pure function of (cluster, zone spec, image refs, secrets, fabric).

Per zone: a Namespace ``{id8}-{zone}``; Secrets ``zone-secrets`` (the values ``secrets.NAME`` refers
to) and ``autonomy-runtime`` (the zone's fabric credentials ``node.json`` and model-gateway key); per
pod a StatefulSet (replicas = clones) and a headless Service of the pod's name; a NetworkPolicy
``zone-isolation``; for the public pod a Service ``public`` and an Ingress ``public``. See
docs/kubernetes.md for every decision; the short version:

- Node names are the local backend's: ``{cluster}-{zone}-{pod}`` for one clone, else
  ``{cluster}-{zone}-{pod}-{i}`` with ``i`` the StatefulSet ordinal (``NODE=$(CLUSTER)-$(ZONE)-$(POD_NAME)``).
  A StatefulSet replaces ordinal i only after the old pod is gone: two nodes never share a name.
- Literal env values are escaped (``$`` -> ``$$``) so Kubernetes' ``$(VAR)`` expansion leaves them as
  written; ``secrets.NAME`` becomes a ``secretKeyRef``: secret values appear in the Secrets only, as
  base64 ``data`` (never ``stringData``), and the pod template's checksum annotation (an HMAC, not a
  plain hash of low-entropy values) rolls the pods when they change.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from autonomy.cluster.kubernetes import labels as L
from autonomy.cluster.kubernetes.config import KubeCluster
from autonomy.cluster.kubernetes.fabric import NATS_CLIENT_PORT, zone_gateway_key, zone_user
from autonomy.errors import ConfigError
from autonomy.transport.credentials import ClusterCredentials
from autonomy.zones.spec import ContainerSpec, PodSpec, SecretRef, ZoneSpec

__all__ = ["ZoneRender", "render_zone", "SIZES", "NODE_PORT", "GATEWAY_PORT", "node_names", "public_pod"]

NODE_PORT = 8000
GATEWAY_PORT = 8080
SIZES: dict[str, dict[str, str]] = {"regular": {"cpu": "250m", "memory": "256Mi"},
                                    "big": {"cpu": "4", "memory": "2Gi"}}
CREDENTIALS_DIR = "/var/run/autonomy"
RUNTIME_SECRET = "autonomy-runtime"
ZONE_SECRET = "zone-secrets"
PUBLIC_TLS_SECRET = "public-tls"
_RESERVED_ENV = ("CLUSTER", "ZONE", "POD_NAME", "NODE", "AUTONOMY_FABRIC_URL", "AUTONOMY_FABRIC_CREDENTIALS")


@dataclass(frozen=True)
class ZoneRender:
    """The inputs of :func:`render_zone` besides the cluster and the spec."""

    images: Mapping[str, str]          # local image name -> pinned reference (repo@sha256:...)
    secrets: Mapping[str, str]         # secrets.yaml values (only those the spec refers to are used)
    credentials: ClusterCredentials    # the cluster's fabric credentials (zone users derive from them)
    public_tls: Mapping[str, str] | None = None  # tls.crt / tls.key copied from the enrolled --tls-secret


def node_names(cluster: KubeCluster, zone: ZoneSpec) -> list[str]:
    return [n for pod in zone.pods for n in pod.node_names(cluster.id, zone.name)]


def public_pod(zone: ZoneSpec) -> PodSpec | None:
    """The pod public traffic goes to: ``main-pod`` (or the only pod) when it is public, as locally."""
    main = zone.pod("main-pod") if len(zone.pods) > 1 else zone.pods[0]
    return main if main.public else None


def render_zone(cluster: KubeCluster, zone: ZoneSpec, inputs: ZoneRender) -> list[dict[str, Any]]:
    """Every object of ``zone`` in apply order (Namespace, Secrets, Services, workloads, policy, Ingress)."""
    ns = cluster.zone_namespace(zone.name)
    zone_secrets = {name: inputs.secrets[name] for name in zone.secret_names if name in inputs.secrets}
    missing = [n for n in zone.secret_names if n not in inputs.secrets]
    if missing:
        raise ConfigError(f"secrets.yaml: {', '.join(missing)} missing: the zone's env refers to them")
    user = zone_user(inputs.credentials, zone.name, node_names(cluster, zone))
    runtime = {"node.json": user.node_credentials(inputs.credentials).to_json(),
               "gateway-key": zone_gateway_key(inputs.credentials, zone.name)}
    config_hash = _config_hash(inputs.credentials, zone_secrets, runtime)
    docs: list[dict[str, Any]] = [
        _namespace(cluster, zone.name, ns),
        _secret(cluster, zone.name, ns, ZONE_SECRET, zone_secrets),
        _secret(cluster, zone.name, ns, RUNTIME_SECRET, runtime),
    ]
    public = public_pod(zone)
    if public is not None and cluster.domain and cluster.tls_secret:
        if inputs.public_tls is None:
            raise ConfigError(f"--tls-secret {cluster.tls_secret}: its tls.crt and tls.key are needed to serve "
                              f"zone {zone.name} publicly")
        docs.append(_secret(cluster, zone.name, ns, PUBLIC_TLS_SECRET, dict(inputs.public_tls),
                            kind="kubernetes.io/tls"))
    for pod in zone.pods:
        docs.append(_headless_service(cluster, zone.name, ns, pod))
    if public is not None and cluster.domain:
        docs.append(_public_service(cluster, zone.name, ns, public))
    for pod in zone.pods:
        docs.append(_stateful_set(cluster, zone, ns, pod, inputs.images, config_hash))
    docs.append(_network_policy(cluster, zone.name, ns, public is not None and bool(cluster.domain)))
    if public is not None and cluster.domain:
        docs.append(_ingress(cluster, zone.name, ns))
    return docs


# --- objects ---------------------------------------------------------------------------------------
def _meta(cluster: KubeCluster, zone: str, name: str, ns: str | None, pod: str | None = None) -> dict[str, Any]:
    meta: dict[str, Any] = {"name": name, "labels": L.common(cluster.id, zone, pod)}
    if ns is not None:
        meta["namespace"] = ns
    return meta


def _namespace(cluster: KubeCluster, zone: str, ns: str) -> dict[str, Any]:
    meta = _meta(cluster, zone, ns, None)
    meta["labels"]["pod-security.kubernetes.io/enforce"] = "baseline"
    return {"apiVersion": "v1", "kind": "Namespace", "metadata": meta}


def _secret(cluster: KubeCluster, zone: str, ns: str, name: str, data: Mapping[str, str],
            kind: str = "Opaque") -> dict[str, Any]:
    encoded = {k: base64.b64encode(v.encode()).decode() for k, v in sorted(data.items())}
    return {"apiVersion": "v1", "kind": "Secret", "metadata": _meta(cluster, zone, name, ns), "type": kind,
            "data": encoded}


def _pod_labels(cluster: KubeCluster, zone: str, pod: str) -> dict[str, str]:
    return {L.ZONE: zone, L.POD: pod}


def _headless_service(cluster: KubeCluster, zone: str, ns: str, pod: PodSpec) -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": "Service", "metadata": _meta(cluster, zone, pod.name, ns, pod.name),
            "spec": {"clusterIP": "None", "selector": _pod_labels(cluster, zone, pod.name),
                     "ports": [{"name": "http", "port": NODE_PORT, "targetPort": NODE_PORT}]}}


def _public_service(cluster: KubeCluster, zone: str, ns: str, pod: PodSpec) -> dict[str, Any]:
    # The first clone serves public traffic, as the local public gateway does.
    selector = {**_pod_labels(cluster, zone, pod.name), "statefulset.kubernetes.io/pod-name": f"{pod.name}-0"}
    return {"apiVersion": "v1", "kind": "Service", "metadata": _meta(cluster, zone, "public", ns, pod.name),
            "spec": {"selector": selector, "ports": [{"name": "http", "port": 80, "targetPort": NODE_PORT}]}}


def _ingress(cluster: KubeCluster, zone: str, ns: str) -> dict[str, Any]:
    host = cluster.public_host(zone)
    meta = _meta(cluster, zone, "public", ns)
    spec: dict[str, Any] = {"rules": [{"host": host, "http": {"paths": [{
        "path": "/", "pathType": "Prefix",
        "backend": {"service": {"name": "public", "port": {"number": 80}}}}]}}]}
    if cluster.ingress_class:
        spec["ingressClassName"] = cluster.ingress_class
    if cluster.cluster_issuer:
        meta["annotations"] = {"cert-manager.io/cluster-issuer": cluster.cluster_issuer}
    if not cluster.insecure_http:
        spec["tls"] = [{"hosts": [host], "secretName": PUBLIC_TLS_SECRET}]
    return {"apiVersion": "networking.k8s.io/v1", "kind": "Ingress", "metadata": meta, "spec": spec}


def _network_policy(cluster: KubeCluster, zone: str, ns: str, public: bool) -> dict[str, Any]:
    system = {"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": cluster.system_namespace}}}
    same_ns: dict[str, Any] = {"podSelector": {}}
    ingress: list[dict[str, Any]] = [{"from": [same_ns]}]
    if public:
        ingress.append({"from": [{"namespaceSelector": {}}], "ports": [{"protocol": "TCP", "port": NODE_PORT}]})
    egress = [
        {"to": [same_ns]},
        {"to": [system], "ports": [{"protocol": "TCP", "port": NATS_CLIENT_PORT},
                                   {"protocol": "TCP", "port": GATEWAY_PORT}]},
        {"to": [{"namespaceSelector": {}, "podSelector": {"matchLabels": {"k8s-app": "kube-dns"}}}],
         "ports": [{"protocol": "UDP", "port": 53}, {"protocol": "TCP", "port": 53}]},
        {"to": [{"ipBlock": {"cidr": "0.0.0.0/0", "except": ["10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16"]}}]},
    ]
    return {"apiVersion": "networking.k8s.io/v1", "kind": "NetworkPolicy",
            "metadata": _meta(cluster, zone, "zone-isolation", ns),
            "spec": {"podSelector": {}, "policyTypes": ["Ingress", "Egress"], "ingress": ingress, "egress": egress}}


def _stateful_set(cluster: KubeCluster, zone: ZoneSpec, ns: str, pod: PodSpec, images: Mapping[str, str],
                  config_hash: str) -> dict[str, Any]:
    labels = {**L.common(cluster.id, zone.name, pod.name)}
    containers = [_container(cluster, zone, pod, c, images, first_node=(c is _first_node(pod)))
                  for c in pod.containers]
    budget = dict(SIZES[pod.size])
    template_spec: dict[str, Any] = {
        "enableServiceLinks": False,
        "automountServiceAccountToken": False,   # nodes never talk to the Kubernetes API
        "terminationGracePeriodSeconds": 10,
        "containers": containers,
        "volumes": [{"name": RUNTIME_SECRET, "secret": {
            "secretName": RUNTIME_SECRET, "defaultMode": 0o440, "items": [{"key": "node.json", "path": "node.json"}]}}],
    }
    if cluster.pod_level_resources:
        template_spec["resources"] = {"requests": budget, "limits": dict(budget)}
    else:
        containers[0]["resources"] = {"requests": budget, "limits": dict(budget)}
    return {
        "apiVersion": "apps/v1", "kind": "StatefulSet", "metadata": _meta(cluster, zone.name, pod.name, ns, pod.name),
        "spec": {
            "replicas": pod.clones,
            "serviceName": pod.name,
            "podManagementPolicy": "Parallel",
            "selector": {"matchLabels": _pod_labels(cluster, zone.name, pod.name)},
            "template": {"metadata": {"labels": labels, "annotations": {L.CONFIG_HASH: config_hash}},
                         "spec": template_spec},
        },
    }


def _first_node(pod: PodSpec) -> ContainerSpec | None:
    return next((c for c in pod.containers if c.is_local_image), None)


def _container(cluster: KubeCluster, zone: ZoneSpec, pod: PodSpec, container: ContainerSpec,
               images: Mapping[str, str], *, first_node: bool) -> dict[str, Any]:
    if container.is_local_image:
        if container.image not in images:
            raise ConfigError(f"pods.{pod.name}.containers.{container.name}.image: no built image "
                              f"{container.image!r} (images/{container.image}/Dockerfile) to deploy")
        image = images[container.image]
    else:
        image = container.image
    out: dict[str, Any] = {"name": container.name, "image": image, "imagePullPolicy": "IfNotPresent",
                           "env": _env(cluster, zone, pod, container),
                           "securityContext": {"allowPrivilegeEscalation": False}}
    if container.args:
        out["args"] = list(container.args)
    if container.is_local_image:
        if first_node:
            out["ports"] = [{"name": "http", "containerPort": NODE_PORT}]
        out["readinessProbe"] = {"tcpSocket": {"port": NODE_PORT}, "periodSeconds": 2}
        out["startupProbe"] = {"tcpSocket": {"port": NODE_PORT}, "periodSeconds": 2, "failureThreshold": 90}
        out["volumeMounts"] = [{"name": RUNTIME_SECRET, "mountPath": CREDENTIALS_DIR, "readOnly": True}]
    return out


def _env(cluster: KubeCluster, zone: ZoneSpec, pod: PodSpec, container: ContainerSpec) -> list[dict[str, Any]]:
    node = pod.node_names(cluster.id, zone.name)[0] if pod.clones == 1 else "$(CLUSTER)-$(ZONE)-$(POD_NAME)"
    env: list[dict[str, Any]] = [
        {"name": "CLUSTER", "value": cluster.id},
        {"name": "ZONE", "value": zone.name},
        {"name": "POD_NAME", "valueFrom": {"fieldRef": {"fieldPath": "metadata.name"}}},
        {"name": "NODE", "value": node},
    ]
    if container.is_local_image:
        sys_ns = cluster.system_namespace
        env += [
            {"name": "AUTONOMY_FABRIC_URL", "value": f"tls://nats.{sys_ns}.svc:{NATS_CLIENT_PORT}"},
            {"name": "AUTONOMY_FABRIC_CREDENTIALS", "value": f"{CREDENTIALS_DIR}/node.json"},
        ]
        gateway: dict[str, dict[str, Any]] = {
            "AUTONOMY_USE_EXTERNAL_APIS_GATEWAY": {"value": "1"},
            "AUTONOMY_EXTERNAL_APIS_GATEWAY_URL": {"value": f"http://model-gateway.{sys_ns}.svc:{GATEWAY_PORT}"},
            "AUTONOMY_EXTERNAL_APIS_GATEWAY_API_KEY": {
                "valueFrom": {"secretKeyRef": {"name": RUNTIME_SECRET, "key": "gateway-key"}}},
        }
        env += [{"name": k, **v} for k, v in gateway.items() if k not in container.env]
    for name, value in container.env.items():
        if name in _RESERVED_ENV:
            continue  # set by the cluster, as locally: the user's value would break the node's identity
        if isinstance(value, SecretRef):
            env.append({"name": name, "valueFrom": {"secretKeyRef": {"name": ZONE_SECRET, "key": value.name}}})
        else:
            env.append({"name": name, "value": value.replace("$", "$$")})
    return env


def _config_hash(creds: ClusterCredentials, *parts: Mapping[str, str]) -> str:
    body = json.dumps([sorted(p.items()) for p in parts]).encode()
    return hmac.new(creds.password.encode(), body, hashlib.sha256).hexdigest()[:16]
