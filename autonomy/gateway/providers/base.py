"""What every provider offers the gateway app, and the shared pieces (keys, retries, SSE).

A provider answers an OpenAI-shaped request body for a :class:`~autonomy.gateway.routing.Route`:
``complete`` returns a :class:`Completion` (response bytes + usage), ``open_stream`` returns a
:class:`ChatStream` once the upstream accepted the request (retries happen before that, never in the
middle of a stream), and ``embed`` returns embeddings or raises :class:`NotSupported`.
Failures are :class:`~autonomy.errors.GatewayError` subclasses naming the provider, never its key.
"""

from __future__ import annotations

import asyncio
import json
import os
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol, TypeVar

from autonomy.errors import AutonomyError, GatewayBusy, GatewayError, ProviderUnavailable
from autonomy.gateway.config import ProviderConfig
from autonomy.gateway.routing import Route
from autonomy.gateway.throttle import RETRYABLE_STATUSES, retry_delay

__all__ = [
    "Completion", "ChatStream", "Provider", "UpstreamError", "NotSupported", "RetryableStatus",
    "read_api_key", "with_retries", "encode_sse", "is_retryable", "DONE",
]

DONE = b"data: [DONE]\n\n"
T = TypeVar("T")


@dataclass
class Completion:
    """A non-streamed answer: the JSON bytes to send to the client, and the usage found in them."""

    body: bytes
    usage: dict[str, Any] | None


class ChatStream(Protocol):
    """An accepted streamed answer: iterate the SSE bytes once; ``usage`` is set when seen."""

    @property
    def usage(self) -> dict[str, Any] | None: ...  # read-only here: an attribute or a property

    def __aiter__(self) -> AsyncIterator[bytes]: ...

    async def aclose(self) -> None: ...


class Provider(Protocol):
    config: ProviderConfig

    async def complete(self, route: Route, body: dict[str, Any]) -> Completion: ...

    async def open_stream(self, route: Route, body: dict[str, Any]) -> ChatStream: ...

    async def embed(self, route: Route, body: dict[str, Any]) -> Completion: ...

    async def aclose(self) -> None: ...


class UpstreamError(GatewayError):
    """The provider refused the request itself (a 4xx other than auth/rate limits): passed through."""

    code = "upstream_error"

    def __init__(self, provider: str, status: int, body: bytes) -> None:
        self.provider = provider
        self.http_status = status  # passed through: the gateway answers with the provider's own status
        self.body = body
        super().__init__(f"Model provider {provider!r} refused the request (HTTP {status})")


class NotSupported(GatewayError):
    """The provider has no such endpoint (e.g. embeddings on Anthropic)."""

    http_status = 400
    code = "unsupported"

    def __init__(self, provider: str, what: str) -> None:
        self.provider = provider
        super().__init__(f"Model provider {provider!r} has no {what}: configure a provider that has, "
                         f"and route the model name to it")


class RetryableStatus(AutonomyError):
    """Raised inside a retried call: the upstream answered a retryable ``status`` (never leaves the retry loop)."""

    http_status = 502

    def __init__(self, status: int, retry_after: str | None, body: bytes = b"") -> None:
        self.status = status
        self.retry_after = retry_after
        self.body = body


def read_api_key(config: ProviderConfig) -> str | None:
    """The provider's key, read now from its env var or file; ProviderUnavailable if missing."""
    if config.api_key_env:
        key = os.environ.get(config.api_key_env)
        if not key:
            raise ProviderUnavailable(config.name, f"its API key is missing: environment variable "
                                      f"{config.api_key_env} is not set in the gateway's process")
        return key
    if config.api_key_file:
        try:
            return Path(config.api_key_file).read_text().strip()
        except OSError as exc:
            raise ProviderUnavailable(config.name, f"cannot read its API key file {config.api_key_file}: "
                                      f"{exc.strerror}") from exc
    return None


async def with_retries(call: Callable[[], Awaitable[T]], config: ProviderConfig, model: str) -> T:
    """Run ``call``, retrying on :class:`RetryableStatus` per the provider's throttle settings.

    After the last attempt a 429 becomes :class:`GatewayBusy` (429 with Retry-After, so the node
    backs off) and a 5xx becomes :class:`ProviderUnavailable` (502).
    """
    attempt = 0
    while True:
        try:
            return await call()
        except RetryableStatus as exc:
            attempt += 1
            delay = retry_delay(attempt, exc.retry_after, config.throttle)
            if attempt > config.throttle.max_retries:
                if exc.status == 429:
                    raise GatewayBusy(model, f"provider {config.name!r} is rate limiting after "
                                             f"{attempt} attempts", retry_after=max(delay, 1.0)) from None
                raise ProviderUnavailable(config.name, f"answered HTTP {exc.status} "
                                                       f"{attempt} times in a row") from None
            await asyncio.sleep(delay)


def encode_sse(data: dict[str, Any]) -> bytes:
    return b"data: " + json.dumps(data, separators=(",", ":")).encode() + b"\n\n"


def is_retryable(status: int) -> bool:
    return status in RETRYABLE_STATUSES
