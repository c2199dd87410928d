"""SDK clients shared per (backend, event loop), and SDK errors translated to ``ModelError``.

Agents create a ``Model`` per conversation; each would otherwise open its own connection pool. One
``AsyncOpenAI``/``AsyncAnthropic`` client is kept per (SDK, base URL, key, headers) and event loop
(an httpx client must not be used from another loop). Clients are made with ``max_retries=0``:
``Model`` does its own retries (see ``throttle.py``). :func:`aclose_clients` closes the current loop's.
"""

from __future__ import annotations

import asyncio
import weakref
from typing import Any

from autonomy.errors import MissingExtra, ModelError, ModelTimeout
from autonomy.models.backends import Backend

__all__ = ["ModelUnreachable", "sdk_client", "forget_client", "aclose_clients", "translate_error"]

# Upstream's names of this package (its submodules are at upstream's paths), loaded on first use:
# they import Model, which imports this package.
_UPSTREAM = {
    "DefaultModelClient": "default", "GatewayClient": "gateway_client",
    "AnthropicGatewayClient": "anthropic_gateway_client", "LiteLLMClient": "litellm_client",
    "PROVIDER_ALIASES": "litellm_client", "ALL_PROVIDER_ALLOWED_FULL_NAMES": "litellm_client",
    "normalize_messages": "litellm_client", "DEFAULT_GATEWAY_URL": "gateway_config",
    "DEFAULT_GATEWAY_API_KEY": "gateway_config", "get_gateway_url": "gateway_config",
    "get_gateway_api_key": "gateway_config", "use_anthropic_sdk": "gateway_config",
    "clear_token_cache": "gateway_config", "get_token_expiration": "gateway_config",
    "get_token_time_remaining": "gateway_config", "get_client_metadata_headers": "gateway_config",
}


def __getattr__(name: str) -> Any:
    module = _UPSTREAM.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    import importlib

    return getattr(importlib.import_module(f"{__name__}.{module}"), name)

_per_loop: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, dict[tuple[Any, ...], Any]] = (
    weakref.WeakKeyDictionary()
)


def _clients() -> dict[tuple[Any, ...], Any]:
    loop = asyncio.get_running_loop()
    clients = _per_loop.get(loop)
    if clients is None:
        clients = _per_loop[loop] = {}
    return clients


def sdk_client(backend: Backend) -> Any:
    """The shared SDK client for ``backend`` in the running loop (created on first use)."""
    clients = _clients()
    client = clients.get(backend.client_key)
    if client is None:
        headers = dict(backend.headers)
        if backend.kind == "anthropic":
            try:
                import anthropic
            except ImportError as exc:
                raise MissingExtra(f"Model backend {backend.provider!r} for claude models", "anthropic") from exc
            client = anthropic.AsyncAnthropic(
                base_url=backend.base_url, api_key=backend.api_key, max_retries=0, default_headers=headers
            )
        else:
            import openai

            client = openai.AsyncOpenAI(
                base_url=backend.base_url, api_key=backend.api_key, max_retries=0, default_headers=headers
            )
        clients[backend.client_key] = client
    return client


def forget_client(backend: Backend) -> None:
    """Drop the cached client of ``backend`` (after a 401, so a rotated key file is read again).

    The dropped client is not closed now (requests in flight may still use it); :func:`aclose_clients`
    closes it with the others.
    """
    clients = _clients()
    client = clients.pop(backend.client_key, None)
    if client is not None:
        clients[("retired", id(client))] = client


async def aclose_clients() -> None:
    """Close every SDK client cached for the running loop (call before the loop ends)."""
    clients = _per_loop.pop(asyncio.get_running_loop(), {})
    for client in clients.values():
        await client.close()


class ModelUnreachable(ModelError):
    """The endpoint could not be reached, or it dropped the connection before answering. Retried like a
    5xx (``Model``'s ``throttle_max_retry_attempts``, with backoff): nothing was answered, so asking
    again is safe; the last failure names its cause."""

    @property
    def retryable(self) -> bool:
        return True


def _retry_after(response: Any) -> float | None:
    value = response.headers.get("retry-after") if response is not None else None
    if value is None:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        return None  # an HTTP date: fall back to our own backoff


def translate_error(exc: Exception, backend: Backend, model: str) -> Exception:
    """An SDK exception as a ModelError naming the URL and the env vars that configured it.

    Exceptions that do not come from the SDK are returned unchanged.
    """
    name = type(exc).__name__
    module = type(exc).__module__.split(".")[0]
    if module not in ("openai", "anthropic"):
        return exc
    where = (f"model {model!r} at {backend.base_url} "
             f"(provider {backend.provider}, configured by {backend.configured_by})")
    if name == "APITimeoutError":
        return ModelTimeout(f"No answer from {where} in time: raise request_timeout, or check the endpoint",
                            model=model, url=backend.base_url)
    if name == "APIConnectionError":
        cause = exc.__cause__ or exc
        # Named even when the exception's text is empty (a dropped connection often is).
        reason = f"{type(cause).__name__}: {cause}" if str(cause) else type(cause).__name__
        return ModelUnreachable(f"Cannot reach {where}: {reason}. Start the server or fix the URL",
                                model=model, url=backend.base_url)
    status = getattr(exc, "status_code", None)
    if status is not None:
        hint = {
            401: "the API key was refused: check the key variable",
            403: "the API key may not use this model",
            404: "the endpoint does not know this model or path: check the model name and base URL",
            429: "rate limited: pass throttle=True, or lower the request rate",
        }.get(status, "the endpoint failed" if status >= 500 else "the endpoint refused the request")
        message = getattr(exc, "message", str(exc))
        return ModelError(f"{where} answered {status}: {message} ({hint})", model=model,
                          url=backend.base_url, status=status, retry_after=_retry_after(getattr(exc, "response", None)))
    return ModelError(f"{where} failed: {name}: {exc}", model=model, url=backend.base_url)
