"""Shared inputs of the Kubernetes tests: an enrolled cluster record, credentials, pinned image refs."""

from __future__ import annotations

from pathlib import Path

from autonomy.cluster.kubernetes.config import KubeCluster
from autonomy.cluster.kubernetes.render import ZoneRender
from autonomy.transport.credentials import ClusterCredentials
from autonomy.zones import ZoneSpec

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
CLUSTER_ID = "d2c25cc3" * 4


def cluster(**overrides: object) -> KubeCluster:
    fields: dict[str, object] = {"id": CLUSTER_ID, "registry": "127.0.0.1:5000", "domain": "apps.example.com",
                                 "cluster_issuer": "letsencrypt", "ingress_class": "nginx"}
    fields.update(overrides)
    return KubeCluster(**fields)  # type: ignore[arg-type]


def images_of(spec: ZoneSpec) -> dict[str, str]:
    names = sorted({c.image for p in spec.pods for c in p.containers if c.is_local_image})
    return {n: f"127.0.0.1:5000/d2c25cc3-{spec.name}/{n}@sha256:{(n * 64)[:64].encode().hex()[:64]}" for n in names}


def inputs(spec: ZoneSpec, creds: ClusterCredentials, secrets: dict[str, str] | None = None) -> ZoneRender:
    return ZoneRender(images=images_of(spec), secrets=secrets or {}, credentials=creds)
