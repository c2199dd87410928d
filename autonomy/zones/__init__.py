"""Zones: the ``autonomy.yaml`` model and its loading, ``secrets.yaml``, and image plans."""

from autonomy.zones.images import ContainerPlan, plan_container, plan_zone
from autonomy.zones.loading import load_zone, parse_zone
from autonomy.zones.secrets import check_secrets, load_secrets, parse_secrets, resolve_env
from autonomy.zones.spec import ContainerSpec, PodSpec, SecretRef, ZoneSpec

__all__ = [
    "ZoneSpec",
    "PodSpec",
    "ContainerSpec",
    "SecretRef",
    "load_zone",
    "parse_zone",
    "load_secrets",
    "parse_secrets",
    "resolve_env",
    "check_secrets",
    "ContainerPlan",
    "plan_container",
    "plan_zone",
]
