"""Manifests as YAML for people (``zone deploy --dry-run -o yaml``): Secret data redacted."""

from __future__ import annotations

import copy
from collections.abc import Iterable
from typing import Any

import yaml

__all__ = ["REDACTED", "redact", "to_yaml"]

REDACTED = "<redacted>"


def redact(doc: dict[str, Any]) -> dict[str, Any]:
    """A copy of ``doc`` with every Secret value replaced by ``<redacted>`` (the keys stay visible)."""
    if doc.get("kind") != "Secret":
        return doc
    out = copy.deepcopy(doc)
    for field in ("data", "stringData"):
        if field in out:
            out[field] = dict.fromkeys(out[field], REDACTED)
    return out


def to_yaml(docs: Iterable[dict[str, Any]], *, redacted: bool = True) -> str:
    return yaml.safe_dump_all([redact(d) if redacted else d for d in docs], sort_keys=False,
                              default_flow_style=False)
