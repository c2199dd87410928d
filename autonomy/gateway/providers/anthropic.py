"""Anthropic's Messages API behind the OpenAI shapes (the ``anthropic`` extra).

Requests are translated from OpenAI chat completions (system turns -> ``system``; ``tool`` turns ->
``tool_result`` blocks; assistant ``tool_calls`` -> ``tool_use`` blocks; ``tools``/``tool_choice``
mapped; ``max_tokens`` defaults to 4096 since Anthropic requires it) and answers back into
``chat.completion`` objects or ``chat.completion.chunk`` SSE events (tool calls streamed as the
OpenAI SDK expects: id and name first, then argument fragments). ``url``, when set, is the API base
(a trailing ``/v1`` is dropped since the SDK adds it).
"""

from __future__ import annotations

import json
import time
from collections.abc import AsyncIterator
from typing import Any

from autonomy.errors import MissingExtra, ProviderUnavailable
from autonomy.gateway.config import ProviderConfig
from autonomy.gateway.providers.base import (
    DONE,
    Completion,
    NotSupported,
    RetryableStatus,
    UpstreamError,
    encode_sse,
    is_retryable,
    read_api_key,
    with_retries,
)
from autonomy.gateway.routing import Route

__all__ = ["AnthropicProvider", "to_anthropic", "from_anthropic", "StreamTranslator"]

_FINISH = {"end_turn": "stop", "stop_sequence": "stop", "max_tokens": "length", "tool_use": "tool_calls",
           "refusal": "content_filter", "pause_turn": "stop"}


def _text(content: Any) -> str:
    if content is None:
        return ""
    if isinstance(content, str):
        return content
    return "".join(p.get("text", "") for p in content if isinstance(p, dict) and p.get("type") == "text")


def _user_blocks(content: Any) -> list[dict[str, Any]]:
    if isinstance(content, str) or content is None:
        return [{"type": "text", "text": content or ""}]
    blocks: list[dict[str, Any]] = []
    for part in content:
        if part.get("type") == "text":
            blocks.append({"type": "text", "text": part.get("text", "")})
        elif part.get("type") == "image_url":
            url = (part.get("image_url") or {}).get("url", "")
            if url.startswith("data:") and ";base64," in url:
                media, data = url[5:].split(";base64,", 1)
                blocks.append({"type": "image", "source": {"type": "base64", "media_type": media, "data": data}})
            else:
                blocks.append({"type": "image", "source": {"type": "url", "url": url}})
    return blocks


def to_anthropic(body: dict[str, Any], model: str) -> dict[str, Any]:
    """OpenAI chat-completion request body -> ``messages.create`` keyword arguments."""
    system: list[str] = []
    messages: list[dict[str, Any]] = []

    def add(role: str, blocks: list[dict[str, Any]]) -> None:
        if messages and messages[-1]["role"] == role:  # Anthropic wants user/assistant alternating
            messages[-1]["content"].extend(blocks)
        else:
            messages.append({"role": role, "content": blocks})

    for message in body.get("messages") or []:
        role = message.get("role")
        if role in ("system", "developer"):
            system.append(_text(message.get("content")))
        elif role == "user":
            add("user", _user_blocks(message.get("content")))
        elif role == "assistant":
            blocks: list[dict[str, Any]] = []
            if text := _text(message.get("content")):
                blocks.append({"type": "text", "text": text})
            for call in message.get("tool_calls") or []:
                function = call.get("function") or {}
                try:
                    arguments = json.loads(function.get("arguments") or "{}")
                except ValueError:
                    arguments = {"_raw": function.get("arguments")}
                blocks.append({"type": "tool_use", "id": call.get("id"), "name": function.get("name"),
                               "input": arguments})
            add("assistant", blocks or [{"type": "text", "text": ""}])
        elif role == "tool":
            add("user", [{"type": "tool_result", "tool_use_id": message.get("tool_call_id"),
                          "content": _text(message.get("content"))}])
    params: dict[str, Any] = {
        "model": model,
        "messages": messages,
        "max_tokens": body.get("max_tokens") or body.get("max_completion_tokens") or 4096,
    }
    if system:
        params["system"] = "\n\n".join(system)
    for name in ("temperature", "top_p"):
        if body.get(name) is not None:
            params[name] = body[name]
    if stop := body.get("stop"):
        params["stop_sequences"] = [stop] if isinstance(stop, str) else list(stop)
    tools = body.get("tools") or []
    if tools:
        params["tools"] = [
            {"name": t["function"]["name"], "description": t["function"].get("description", ""),
             "input_schema": t["function"].get("parameters") or {"type": "object", "properties": {}}}
            for t in tools if t.get("type", "function") == "function"
        ]
        choice = body.get("tool_choice")
        if choice == "required":
            params["tool_choice"] = {"type": "any"}
        elif choice == "none":
            params["tool_choice"] = {"type": "none"}
        elif isinstance(choice, dict):
            params["tool_choice"] = {"type": "tool", "name": choice["function"]["name"]}
    return params


def _usage(input_tokens: int, output_tokens: int) -> dict[str, int]:
    return {"prompt_tokens": input_tokens, "completion_tokens": output_tokens,
            "total_tokens": input_tokens + output_tokens}


def from_anthropic(message: dict[str, Any]) -> dict[str, Any]:
    """An Anthropic ``Message`` (as a dict) -> an OpenAI ``chat.completion`` dict."""
    text = "".join(b.get("text", "") for b in message.get("content", []) if b.get("type") == "text")
    calls = [{"id": b["id"], "type": "function",
              "function": {"name": b["name"], "arguments": json.dumps(b.get("input") or {})}}
             for b in message.get("content", []) if b.get("type") == "tool_use"]
    reply: dict[str, Any] = {"role": "assistant", "content": text or None}
    if calls:
        reply["tool_calls"] = calls
    usage = message.get("usage") or {}
    return {"id": message.get("id"), "object": "chat.completion", "created": int(time.time()),
            "model": message.get("model"),
            "choices": [{"index": 0, "message": reply,
                         "finish_reason": _FINISH.get(message.get("stop_reason") or "", "stop")}],
            "usage": _usage(usage.get("input_tokens", 0), usage.get("output_tokens", 0))}


class StreamTranslator:
    """Anthropic stream events (dicts) -> OpenAI chunk dicts; ``usage`` is known at the end."""

    def __init__(self, include_usage: bool) -> None:
        self.include_usage = include_usage
        self.usage: dict[str, Any] | None = None
        self._id = ""
        self._model = ""
        self._created = int(time.time())
        self._tools: dict[int, int] = {}  # Anthropic block index -> OpenAI tool_calls index
        self._input_tokens = 0

    def _chunk(self, delta: dict[str, Any], finish: str | None = None) -> dict[str, Any]:
        return {"id": self._id, "object": "chat.completion.chunk", "created": self._created,
                "model": self._model, "choices": [{"index": 0, "delta": delta, "finish_reason": finish}]}

    def translate(self, event: dict[str, Any]) -> list[dict[str, Any]]:
        kind = event.get("type")
        if kind == "message_start":
            message = event["message"]
            self._id, self._model = message.get("id", ""), message.get("model", "")
            self._input_tokens = (message.get("usage") or {}).get("input_tokens", 0)
            return [self._chunk({"role": "assistant", "content": ""})]
        if kind == "content_block_start":
            block = event["content_block"]
            if block.get("type") != "tool_use":
                return []
            index = self._tools[event["index"]] = len(self._tools)
            return [self._chunk({"tool_calls": [{"index": index, "id": block["id"], "type": "function",
                                                 "function": {"name": block["name"], "arguments": ""}}]})]
        if kind == "content_block_delta":
            delta = event["delta"]
            if delta.get("type") == "text_delta":
                return [self._chunk({"content": delta["text"]})]
            if delta.get("type") == "input_json_delta" and event["index"] in self._tools:
                call = {"index": self._tools[event["index"]], "function": {"arguments": delta["partial_json"]}}
                return [self._chunk({"tool_calls": [call]})]
            return []
        if kind == "message_delta":
            output = (event.get("usage") or {}).get("output_tokens", 0)
            self.usage = _usage(self._input_tokens, output)
            finish = _FINISH.get((event.get("delta") or {}).get("stop_reason") or "", "stop")
            chunks = [self._chunk({}, finish)]
            if self.include_usage:
                chunks.append({**self._chunk({}), "choices": [], "usage": self.usage})
            return chunks
        return []


class _AnthropicStream:
    def __init__(self, events: Any, translator: StreamTranslator) -> None:
        self._events = events
        self._translator = translator

    @property
    def usage(self) -> dict[str, Any] | None:
        return self._translator.usage

    async def __aiter__(self) -> AsyncIterator[bytes]:
        try:
            async for event in self._events:
                for chunk in self._translator.translate(event.model_dump()):
                    yield encode_sse(chunk)
            yield DONE
        finally:
            await self._events.close()

    async def aclose(self) -> None:
        await self._events.close()


class AnthropicProvider:
    """The Anthropic API through ``anthropic.AsyncAnthropic`` (SDK retries off: the gateway retries)."""

    def __init__(self, config: ProviderConfig) -> None:
        try:
            import anthropic
        except ImportError as exc:
            raise MissingExtra(f"Model provider {config.name!r} (kind anthropic)", "anthropic") from exc
        self._sdk = anthropic
        self.config = config
        self._clients: dict[str | None, Any] = {}

    def _client(self) -> Any:
        key = read_api_key(self.config)
        if key not in self._clients:
            base = (self.config.url or "").rstrip("/").removesuffix("/v1") or None
            self._clients[key] = self._sdk.AsyncAnthropic(api_key=key or "none", base_url=base, max_retries=0,
                                                          timeout=self.config.timeout)
        return self._clients[key]

    async def _create(self, route: Route, params: dict[str, Any]) -> Any:
        client = self._client()
        sdk = self._sdk

        async def attempt() -> Any:
            try:
                return await client.messages.create(**params)
            except sdk.APIStatusError as exc:
                status = exc.status_code
                if is_retryable(status):
                    raise RetryableStatus(status, exc.response.headers.get("retry-after")) from exc
                if status in (401, 403):
                    source = self.config.api_key_env or self.config.api_key_file or "its configuration"
                    raise ProviderUnavailable(self.config.name, f"refused the gateway's API key (HTTP "
                                                                f"{status}): check the key from {source}") from exc
                raise UpstreamError(self.config.name, status, exc.response.content) from exc
            except sdk.APITimeoutError as exc:
                raise ProviderUnavailable(self.config.name, f"no answer within {self.config.timeout:g} s") from exc
            except sdk.APIConnectionError as exc:
                raise ProviderUnavailable(self.config.name, f"cannot reach the Anthropic API: {exc}") from exc

        return await with_retries(attempt, self.config, route.requested)

    async def complete(self, route: Route, body: dict[str, Any]) -> Completion:
        message = await self._create(route, to_anthropic(body, route.upstream_model))
        reply = from_anthropic(message.model_dump())
        return Completion(json.dumps(reply).encode(), reply["usage"])

    async def open_stream(self, route: Route, body: dict[str, Any]) -> _AnthropicStream:
        include_usage = bool((body.get("stream_options") or {}).get("include_usage"))
        events = await self._create(route, {**to_anthropic(body, route.upstream_model), "stream": True})
        return _AnthropicStream(events, StreamTranslator(include_usage))

    async def embed(self, route: Route, body: dict[str, Any]) -> Completion:
        raise NotSupported(self.config.name, "embeddings endpoint (Anthropic offers none)")

    async def aclose(self) -> None:
        for client in self._clients.values():
            await client.close()
