"""What is recorded about an enrolled Kubernetes cluster (``AUTONOMY_HOME/cluster.json``, kind ``kubernetes``).

:class:`KubeCluster` is plain data: the renderer takes it as an input, enroll writes it, every other
command reads it. It holds no secret (fabric credentials live in the cluster's system namespace and in
a 0600 copy under ``AUTONOMY_HOME/fabric/credentials``).

Decisions (docs/kubernetes.md):
- ``registry`` is where the workstation pushes; ``pull_registry`` (default: the same) is the name the
  cluster's nodes pull from (kind/minikube see a local registry under another name).
- Public zones are served over HTTPS: either a TLS Secret (``tls_secret``, ``[NAMESPACE/]NAME``, copied
  into each public zone's namespace as ``public-tls``) or a cert-manager ``cluster_issuer``. Plain HTTP
  only with ``insecure_http``. Without ``domain`` no zone is public on Kubernetes.
- ``server_minor``: the API server's minor version read at enroll; from 34 on a pod's ``size`` is a
  pod-level resources budget (like the local backend's cgroup per pod), before that it sits on the
  pod's first container.
"""

from __future__ import annotations

import json
import re
from dataclasses import asdict, dataclass, fields
from typing import Any

from autonomy.errors import ConfigError

__all__ = ["KIND", "KubeCluster"]

KIND = "kubernetes"
_ID = re.compile(r"^[0-9a-f]{32}$")
_DNS_NAME = re.compile(r"^(?=.{1,253}$)[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$")
_REGISTRY = re.compile(r"^[a-zA-Z0-9][-a-zA-Z0-9.]*(:[0-9]{1,5})?(/[a-z0-9][-a-z0-9._/]*)?$")
_SECRET_REF = re.compile(r"^([a-z0-9]([-a-z0-9]*[a-z0-9])?/)?[a-z0-9]([-.a-z0-9]*[a-z0-9])?$")


@dataclass(frozen=True)
class KubeCluster:
    id: str
    registry: str
    domain: str | None = None
    ingress_class: str | None = None
    tls_secret: str | None = None
    cluster_issuer: str | None = None
    insecure_http: bool = False
    pull_registry: str | None = None
    runtime_image: str | None = None
    context: str | None = None
    kubeconfig: str | None = None
    server: str | None = None
    server_minor: int = 30

    def __post_init__(self) -> None:
        if not isinstance(self.id, str) or not _ID.match(self.id):
            raise ConfigError(f"cluster id {self.id!r} must be 32 lowercase hex characters")
        for name in ("registry", "pull_registry"):
            value = getattr(self, name)
            if value is not None and not _REGISTRY.match(value):
                raise ConfigError(f"--{name.replace('_', '-')} {value!r} must be a registry host[:port][/path], "
                                  "e.g. registry.example.com/team or 127.0.0.1:5000")
        if self.domain is not None and not _DNS_NAME.match(self.domain):
            raise ConfigError(f"--domain {self.domain!r} must be a DNS name such as apps.example.com")
        if self.tls_secret is not None and not _SECRET_REF.match(self.tls_secret):
            raise ConfigError(f"--tls-secret {self.tls_secret!r} must be [NAMESPACE/]NAME of a TLS Secret")
        chosen = [n for n, v in (("--tls-secret", self.tls_secret), ("--cluster-issuer", self.cluster_issuer),
                                 ("--insecure-http", self.insecure_http)) if v]
        if len(chosen) > 1:
            raise ConfigError(f"choose one of {', '.join(chosen)}: they are different ways to serve public zones")
        if self.domain and not chosen:
            raise ConfigError("--domain needs how public zones are served: --tls-secret NAME (a wildcard "
                              "certificate), --cluster-issuer NAME (cert-manager) or --insecure-http")

    # --- derived names ---------------------------------------------------------------------------
    @property
    def id8(self) -> str:
        return self.id[:8]

    @property
    def system_namespace(self) -> str:
        return f"autonomy-{self.id8}"

    def zone_namespace(self, zone: str) -> str:
        return f"{self.id8}-{zone}"

    def public_host(self, zone: str) -> str | None:
        return f"{self.id}-{zone}.{self.domain}" if self.domain else None

    def public_url(self, zone: str) -> str | None:
        host = self.public_host(zone)
        if host is None:
            return None
        return f"{'http' if self.insecure_http else 'https'}://{host}/"

    @property
    def image_pull_registry(self) -> str:
        return self.pull_registry or self.registry

    @property
    def runtime_image_ref(self) -> str:
        """The image NATS and the model gateway run: our base image (``autonomy image build-base``)."""
        return self.runtime_image or f"{self.image_pull_registry.rstrip('/')}/autonomy/runtime:latest"

    @property
    def pod_level_resources(self) -> bool:
        return self.server_minor >= 34

    # --- the record --------------------------------------------------------------------------------
    def to_record(self) -> dict[str, Any]:
        return {"kind": KIND, **asdict(self)}

    @classmethod
    def from_record(cls, record: dict[str, Any]) -> KubeCluster:
        if record.get("kind") != KIND:
            raise ConfigError(f"cluster.json: kind {record.get('kind')!r} is not {KIND!r}")
        known = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in record.items() if k in known})

    def dumps(self) -> str:
        return json.dumps(self.to_record(), indent=2)
