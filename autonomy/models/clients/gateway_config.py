"""Where the cluster's model gateway is and how a node authenticates to it (upstream's
``autonomy.models.clients.gateway_config``, used by apps that open their own connections to the gateway,
e.g. for realtime voice).

The values come from the same variables as :func:`autonomy.models.backends.resolve_backend`:
``AUTONOMY_EXTERNAL_APIS_GATEWAY_URL`` (or ``..._URL_FILE``) and ``..._API_KEY`` (or ``..._API_KEY_FILE``,
re-read on every call, so a rotated key file is picked up; there is no cache to clear).
"""

from __future__ import annotations

import base64
import binascii
import json
import os
import time

from autonomy.models.backends import _flag, _value_or_file

__all__ = [
    "DEFAULT_GATEWAY_URL", "DEFAULT_GATEWAY_API_KEY", "get_gateway_url", "get_gateway_api_key",
    "get_client_metadata_headers", "use_anthropic_sdk", "clear_token_cache", "get_token_expiration",
    "get_token_time_remaining",
]

DEFAULT_GATEWAY_URL = "http://localhost:8000"
DEFAULT_GATEWAY_API_KEY = "test_key"


def get_gateway_url() -> str:
    """The gateway's base URL, without a trailing ``/`` (append ``/v1/...``)."""
    return _value_or_file("AUTONOMY_EXTERNAL_APIS_GATEWAY_URL", DEFAULT_GATEWAY_URL)[0].rstrip("/")


def get_gateway_api_key() -> str:
    """The key (or token) this node presents to the gateway."""
    return _value_or_file("AUTONOMY_EXTERNAL_APIS_GATEWAY_API_KEY", DEFAULT_GATEWAY_API_KEY)[0]


def get_client_metadata_headers() -> dict[str, str]:
    """``X-Client-Cluster/Zone/Node`` from ``CLUSTER``, ``ZONE``, ``NODE`` (those that are set)."""
    pairs = (("X-Client-Cluster", "CLUSTER"), ("X-Client-Zone", "ZONE"), ("X-Client-Node", "NODE"))
    return {header: os.environ[var] for header, var in pairs if os.environ.get(var)}


def use_anthropic_sdk() -> bool:
    """``AUTONOMY_EXTERNAL_APIS_GATEWAY_USE_ANTHROPIC_SDK`` is set to a true value."""
    return _flag("AUTONOMY_EXTERNAL_APIS_GATEWAY_USE_ANTHROPIC_SDK")


def clear_token_cache() -> None:
    """Nothing to clear: the key file is read on every call (kept for upstream's callers)."""


def get_token_expiration() -> float | None:
    """The ``exp`` (seconds since the epoch) of the key when it is a JWT, else ``None``."""
    parts = get_gateway_api_key().split(".")
    if len(parts) != 3:
        return None
    try:
        claims = json.loads(base64.urlsafe_b64decode(parts[1] + "=" * (-len(parts[1]) % 4)))
    except (binascii.Error, ValueError):
        return None
    exp = claims.get("exp") if isinstance(claims, dict) else None
    return float(exp) if isinstance(exp, int | float) else None


def get_token_time_remaining() -> float | None:
    """Seconds until the key (a JWT) expires (negative once expired), or ``None`` when it has no expiry."""
    exp = get_token_expiration()
    return None if exp is None else exp - time.time()
