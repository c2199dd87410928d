"""Any OpenAI-compatible endpoint (OpenAI, LiteLLM, Ollama, vLLM, llama.cpp server, ...).

Requests go out with the model name the route chose and the provider's key; answers come back as
the upstream's own bytes: a non-streamed body unchanged, a stream relayed chunk by chunk as httpx
reads it (no re-encoding, so fields the gateway does not know survive). Usage is read on the way
through. The upstream is asked for an uncompressed body so bytes can be relayed as they arrive.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Any
from urllib.parse import quote

import httpx

from autonomy.errors import ProviderUnavailable
from autonomy.gateway.config import ProviderConfig
from autonomy.gateway.providers.base import (
    Completion,
    RetryableStatus,
    UpstreamError,
    is_retryable,
    read_api_key,
    with_retries,
)
from autonomy.gateway.routing import Route

__all__ = ["OpenAICompatibleProvider", "SSEPassthrough"]


class SSEPassthrough:
    """Relays an upstream SSE response's bytes; notes the last non-null ``usage`` it sees."""

    def __init__(self, response: httpx.Response) -> None:
        self.usage: dict[str, Any] | None = None
        self._response = response
        self._tail = b""

    async def __aiter__(self) -> AsyncIterator[bytes]:
        try:
            async for chunk in self._response.aiter_bytes():
                self._scan(chunk)
                yield chunk
        finally:
            await self._response.aclose()

    def _scan(self, chunk: bytes) -> None:
        if b"\n" not in chunk:
            self._tail += chunk
            return
        lines = (self._tail + chunk).split(b"\n")
        self._tail = lines.pop()
        for line in lines:
            if line.startswith(b"data:") and b'"usage"' in line:
                try:
                    usage = json.loads(line[5:]).get("usage")
                except (ValueError, AttributeError):
                    continue  # not JSON: relayed untouched, just not counted
                if usage:
                    self.usage = usage

    async def aclose(self) -> None:
        await self._response.aclose()


class OpenAICompatibleProvider:
    """Talks to ``config.url`` (the OpenAI base URL, e.g. ``https://api.openai.com/v1``)."""

    def __init__(self, config: ProviderConfig, client: httpx.AsyncClient | None = None) -> None:
        self.config = config
        self._base = (config.url or "").rstrip("/")
        limits = httpx.Limits(max_connections=config.throttle.max_concurrency * 2 + 8,
                              max_keepalive_connections=config.throttle.max_concurrency + 4)
        self._client = client or httpx.AsyncClient(timeout=httpx.Timeout(config.timeout, connect=10.0),
                                                   limits=limits)

    def _headers(self) -> dict[str, str]:
        headers = {"content-type": "application/json", "accept-encoding": "identity"}
        key = read_api_key(self.config)
        if key:
            headers["authorization"] = f"Bearer {key}"
        return headers

    def _scrub(self, data: bytes) -> bytes:
        try:
            key = read_api_key(self.config)
        except ProviderUnavailable:
            return data
        return data.replace(key.encode(), b"***") if key else data

    async def _send(self, path: str, route: Route, body: dict[str, Any], stream: bool) -> httpx.Response:
        payload = json.dumps({**body, "model": route.upstream_model}, separators=(",", ":")).encode()
        return await self._post(path, route, payload, self._headers(), stream)

    async def forward(self, path: str, route: Route, content: bytes, content_type: str) -> httpx.Response:
        """POST ``content`` as is (e.g. a multipart audio upload) to ``path``; the read response (with retries)."""
        headers = {**self._headers(), "content-type": content_type}
        return await self._post(path, route, content, headers, False)

    def realtime(self, route: Route) -> tuple[str, dict[str, str]]:
        """The upstream's Realtime WebSocket URL for ``route`` and the headers to open it with."""
        base = self._base.replace("https://", "wss://", 1).replace("http://", "ws://", 1)
        headers = {"OpenAI-Beta": "realtime=v1"}
        key = read_api_key(self.config)
        if key:
            headers["Authorization"] = f"Bearer {key}"
        return f"{base}/realtime?model={quote(route.upstream_model, safe='')}", headers

    async def _post(self, path: str, route: Route, payload: bytes, headers: dict[str, str],
                    stream: bool) -> httpx.Response:
        url = self._base + path

        async def attempt() -> httpx.Response:
            request = self._client.build_request("POST", url, content=payload, headers=headers)
            try:
                response = await self._client.send(request, stream=stream)
            except httpx.TimeoutException as exc:
                raise ProviderUnavailable(self.config.name, f"no answer from {self._base} within "
                                                            f"{self.config.timeout:g} s") from exc
            except httpx.HTTPError as exc:
                raise ProviderUnavailable(self.config.name, f"cannot reach {self._base}: "
                                          f"{type(exc).__name__}: {exc}") from exc
            if response.status_code < 400:
                return response
            content = await response.aread()
            await response.aclose()
            if is_retryable(response.status_code):
                raise RetryableStatus(response.status_code, response.headers.get("retry-after"), content)
            if response.status_code in (401, 403):
                source = self.config.api_key_env or self.config.api_key_file or "its configuration (no key set)"
                raise ProviderUnavailable(self.config.name, f"refused the gateway's API key (HTTP "
                                          f"{response.status_code}): check the key from {source}")
            raise UpstreamError(self.config.name, response.status_code, self._scrub(content))

        return await with_retries(attempt, self.config, route.requested)

    async def complete(self, route: Route, body: dict[str, Any]) -> Completion:
        response = await self._send("/chat/completions", route, body, stream=False)
        return self._completion(response)

    async def open_stream(self, route: Route, body: dict[str, Any]) -> SSEPassthrough:
        response = await self._send("/chat/completions", route, body, stream=True)
        return SSEPassthrough(response)

    async def embed(self, route: Route, body: dict[str, Any]) -> Completion:
        response = await self._send("/embeddings", route, body, stream=False)
        return self._completion(response)

    def _completion(self, response: httpx.Response) -> Completion:
        content = response.content
        try:
            usage = json.loads(content).get("usage")
        except (ValueError, AttributeError) as exc:
            raise ProviderUnavailable(self.config.name, f"answered with a body that is not JSON "
                                                        f"({len(content)} bytes)") from exc
        return Completion(content, usage)

    async def aclose(self) -> None:
        await self._client.aclose()
