"""The zone spec: the typed model of ``autonomy.yaml``.

A zone is pods of containers. These models are what the CLI sends to the control plane
(``ZoneSpec.model_dump()`` / ``ZoneSpec.model_validate()``); reading a user's file, with every
problem collected and reported by field path, is :mod:`autonomy.zones.loading`.

Naming rules (decisions):

- zone names are 1-10 of ``a-z 0-9`` (upstream's rule; the zone name is part of host names and of
  every node name).
- pod and container names are DNS labels: 1-63 of ``a-z 0-9 -``, starting and ending with a letter
  or digit. Upstream's CLI says "<= 10 characters" but its own examples use ``main-pod`` and
  ``runner-pod``; a DNS label is what Kubernetes accepts for the names we derive from them.
- ``main-pod`` is required when a zone has several pods (upstream's rule): it is the pod that
  ``public`` serves and the one the examples treat as the entry point.
"""

from __future__ import annotations

import re
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

__all__ = [
    "ZONE_NAME_RE",
    "DNS_LABEL_RE",
    "ENV_NAME_RE",
    "SECRET_NAME_RE",
    "SECRET_PREFIX",
    "SecretRef",
    "ContainerSpec",
    "PodSpec",
    "ZoneSpec",
]

ZONE_NAME_RE = re.compile(r"^[a-z0-9]{1,10}$")
DNS_LABEL_RE = re.compile(r"^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$")
ENV_NAME_RE = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
# Kubernetes Secret keys: [-._a-zA-Z0-9]+
SECRET_NAME_RE = re.compile(r"^[-._a-zA-Z0-9]+$")
SECRET_PREFIX = "secrets."

ZONE_NAME_RULE = "must be 1 to 10 characters of a-z and 0-9"
DNS_LABEL_RULE = (
    "must be 1 to 63 characters of a-z, 0-9 and '-', starting and ending with a letter or digit"
)


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=False)


class SecretRef(_Model):
    """A reference to ``NAME`` in the zone's ``secrets.yaml`` (written ``secrets.NAME`` in env)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str

    @field_validator("name")
    @classmethod
    def _check_name(cls, value: str) -> str:
        if not SECRET_NAME_RE.match(value):
            raise ValueError(f"secret name {value!r} must be made of a-z, A-Z, 0-9, '-', '_' and '.'")
        return value

    def __str__(self) -> str:
        return f"{SECRET_PREFIX}{self.name}"


class ContainerSpec(_Model):
    """One container of a pod.

    ``image`` without ``/`` is a local image built from ``images/<image>/Dockerfile``; with ``/`` it
    is an external reference such as ``ghcr.io/build-trust/mcp-proxy``. ``env`` values are literal
    strings or :class:`SecretRef`; the string ``"secrets.NAME"`` is read as a reference, as upstream
    does. ``extra`` keeps keys this model does not know (upstream sends them to the platform).
    """

    name: str
    image: str
    env: dict[str, str | SecretRef] = Field(default_factory=dict)
    args: list[str] = Field(default_factory=list)
    extra: dict[str, Any] = Field(default_factory=dict)

    @field_validator("name")
    @classmethod
    def _check_name(cls, value: str) -> str:
        if not DNS_LABEL_RE.match(value):
            raise ValueError(f"container name {value!r} {DNS_LABEL_RULE}")
        return value

    @field_validator("image")
    @classmethod
    def _check_image(cls, value: str) -> str:
        if not value or any(c.isspace() for c in value):
            raise ValueError(f"image {value!r} must be a non-empty name without spaces")
        return value

    @field_validator("env", mode="before")
    @classmethod
    def _read_secret_refs(cls, value: Any) -> Any:
        if isinstance(value, dict):
            return {
                key: SecretRef(name=v[len(SECRET_PREFIX):])
                if isinstance(v, str) and v.startswith(SECRET_PREFIX)
                else v
                for key, v in value.items()
            }
        return value

    @property
    def is_local_image(self) -> bool:
        """True when ``image`` names a folder under ``images/`` (no ``/`` in it)."""
        return "/" not in self.image

    @property
    def secret_names(self) -> list[str]:
        """The secrets this container's env refers to, in env order."""
        return [v.name for v in self.env.values() if isinstance(v, SecretRef)]


class PodSpec(_Model):
    """A group of containers that share ``localhost``; ``clones`` copies of it run."""

    name: str
    public: bool = False
    size: Literal["regular", "big"] = "regular"
    clones: int = Field(default=1, ge=1)
    containers: list[ContainerSpec] = Field(min_length=1)
    extra: dict[str, Any] = Field(default_factory=dict)

    @field_validator("name")
    @classmethod
    def _check_name(cls, value: str) -> str:
        if not DNS_LABEL_RE.match(value):
            raise ValueError(f"pod name {value!r} {DNS_LABEL_RULE}")
        return value

    @model_validator(mode="after")
    def _unique_containers(self) -> PodSpec:
        names = [c.name for c in self.containers]
        duplicates = sorted({n for n in names if names.count(n) > 1})
        if duplicates:
            raise ValueError(f"pod {self.name!r} has containers with the same name: {', '.join(duplicates)}")
        return self

    def node_names(self, cluster: str, zone: str) -> list[str]:
        """The ``NODE`` names of this pod's clones: ``{cluster}-{zone}-{pod}`` or ``...-{pod}-{i}``."""
        base = f"{cluster}-{zone}-{self.name}"
        if self.clones == 1:
            return [base]
        return [f"{base}-{i}" for i in range(self.clones)]


class ZoneSpec(_Model):
    """A deployed application: a name and one or more pods.

    ``notes`` are things the loader accepted but does not act on (``portals``, unknown keys); the
    CLI shows them. ``extra`` keeps unknown top-level keys.
    """

    name: str
    pods: list[PodSpec] = Field(min_length=1)
    extra: dict[str, Any] = Field(default_factory=dict)
    notes: list[str] = Field(default_factory=list)

    @model_validator(mode="before")
    @classmethod
    def _zone_name_alias(cls, data: Any) -> Any:
        if isinstance(data, dict) and "zone_name" in data and "name" not in data:
            data = dict(data)
            data["name"] = data.pop("zone_name")
        return data

    @field_validator("name")
    @classmethod
    def _check_name(cls, value: str) -> str:
        if not ZONE_NAME_RE.match(value):
            raise ValueError(f"zone name {value!r} {ZONE_NAME_RULE}")
        return value

    @model_validator(mode="after")
    def _check_pods(self) -> ZoneSpec:
        names = [p.name for p in self.pods]
        duplicates = sorted({n for n in names if names.count(n) > 1})
        if duplicates:
            raise ValueError(f"zone has pods with the same name: {', '.join(duplicates)}")
        if len(self.pods) > 1 and "main-pod" not in names:
            raise ValueError("a zone with several pods needs one named 'main-pod'")
        return self

    def pod(self, name: str) -> PodSpec:
        """The pod called ``name``; ``KeyError`` if there is none."""
        for pod in self.pods:
            if pod.name == name:
                return pod
        raise KeyError(name)

    @property
    def secret_names(self) -> list[str]:
        """Every secret name the zone's containers refer to, sorted, without repeats."""
        return sorted({n for p in self.pods for c in p.containers for n in c.secret_names})
