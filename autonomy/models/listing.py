"""``Model.list()`` / ``Model.list_by_provider()``: ask each configured endpoint for its models.

Blocking (sync SDK clients, one request per provider), like upstream's static methods. Providers are
the ones ``backends.py`` would use for a ``claude*`` name and for any other name: the gateway in
gateway mode; otherwise Anthropic (if ``ANTHROPIC_API_KEY`` is set) and the first OpenAI-compatible one.
"""

from __future__ import annotations

import os

from autonomy.errors import MissingExtra, ModelError
from autonomy.models.backends import HOW_TO_CONFIGURE, Backend, resolve_backend

__all__ = ["list_by_provider"]


def _configured() -> list[Backend]:
    names = ["any-model"]
    if os.environ.get("ANTHROPIC_API_KEY") or os.environ.get(
        "AUTONOMY_EXTERNAL_APIS_GATEWAY_USE_ANTHROPIC_SDK", ""
    ).strip().lower() in {"1", "true", "yes", "on"}:
        names.append("claude-any")
    backends: dict[tuple[object, ...], Backend] = {}
    for name in names:
        try:
            backend = resolve_backend(name)
        except ModelError:
            continue
        backends.setdefault(backend.client_key, backend)
    return list(backends.values())


def _names(backend: Backend) -> list[str]:
    headers = dict(backend.headers)
    try:
        if backend.kind == "anthropic":
            try:
                import anthropic
            except ImportError as exc:
                raise MissingExtra("Listing claude models", "anthropic") from exc
            with anthropic.Anthropic(base_url=backend.base_url, api_key=backend.api_key, max_retries=0,
                                     timeout=30.0, default_headers=headers) as client:
                return [m.id for m in client.models.list()]
        import openai

        with openai.OpenAI(base_url=backend.base_url, api_key=backend.api_key, max_retries=0, timeout=30.0,
                           default_headers=headers) as client:
            return [m.id for m in client.models.list()]
    except (ImportError, ModelError):
        raise
    except Exception as exc:
        raise ModelError(f"Cannot list the models at {backend.base_url} (provider {backend.provider}, configured "
                         f"by {backend.configured_by}): {type(exc).__name__}: {exc}", url=backend.base_url) from exc


def list_by_provider() -> dict[str, list[str]]:
    """``{provider: sorted unique model names}``; ModelError when nothing is configured."""
    backends = _configured()
    if not backends:
        raise ModelError(f"No model endpoint is configured: {HOW_TO_CONFIGURE}")
    result: dict[str, list[str]] = {}
    for backend in backends:
        result.setdefault(backend.provider, [])
        result[backend.provider] = sorted(set(result[backend.provider]) | set(_names(backend)))
    return result
