"""The embedded model as a provider: llama.cpp in the gateway's process, behind the adapter.

The model loads on first use (once per process; a missing ``[local]`` extra is reported then, not at
construction, so a gateway whose config names the embedded model still starts) and answers one
request at a time. Plain answers stream token by token; answers to requests with tools are
generated whole (the text must be read to know whether it is a tool call) and then sent as the
chunks a stream would carry. Streamed usage counts one token per streamed chunk and tokenizes the
prompt text (close to, not exactly, the model's own count). Embeddings come from the embedded
all-MiniLM-L6-v2 (the ``[embeddings]`` extra), not from the chat model.
"""

from __future__ import annotations

import base64
import json
import struct
import time
import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

from autonomy.gateway import adapter
from autonomy.gateway.config import ProviderConfig
from autonomy.gateway.local_model import LocalModel, load_local_model, require_llama_cpp
from autonomy.gateway.providers.base import DONE, Completion, UpstreamError, encode_sse
from autonomy.gateway.routing import Route

__all__ = ["EmbeddedProvider"]


def _bad_request(provider: str, message: str) -> UpstreamError:
    body = {"error": {"message": message, "type": "invalid_request_error", "param": None, "code": None}}
    return UpstreamError(provider, 400, json.dumps(body).encode())


class _Stream:
    """The SSE bytes of one answer; ``usage`` is set once known (at the end for token streams)."""

    def __init__(self) -> None:
        self.usage: dict[str, Any] | None = None
        self._chunks: Any = None

    def __aiter__(self) -> AsyncIterator[bytes]:
        return self._chunks

    async def aclose(self) -> None:
        await self._chunks.aclose()


class EmbeddedProvider:
    """Serves every model name routed to it with the one configured GGUF."""

    def __init__(self, config: ProviderConfig) -> None:
        self.config = config
        self._path = Path(config.path) if config.path else None

    async def model(self) -> LocalModel:
        """The loaded model (loaded at the first request); MissingExtra without the ``[local]`` extra."""
        require_llama_cpp()
        return await load_local_model(self._path, self.config.sha256)

    def _plan(self, body: dict[str, Any]) -> adapter.Plan:
        try:
            return adapter.plan(body)
        except ValueError as exc:
            raise _bad_request(self.config.name, str(exc)) from exc

    async def _complete(self, route: Route, body: dict[str, Any]) -> dict[str, Any]:
        plan = self._plan(body)
        model = await self.model()
        try:
            result = await model.complete(**plan.kwargs)
        except ValueError as exc:  # llama.cpp: prompt longer than the context, bad grammar, ...
            raise _bad_request(self.config.name, f"the embedded model refused the request: {exc}") from exc
        return adapter.to_completion(result, plan, route.requested)

    async def complete(self, route: Route, body: dict[str, Any]) -> Completion:
        completion = await self._complete(route, body)
        return Completion(json.dumps(completion).encode(), completion["usage"])

    async def open_stream(self, route: Route, body: dict[str, Any]) -> _Stream:
        include_usage = bool((body.get("stream_options") or {}).get("include_usage"))
        plan = self._plan(body)
        if plan.mode != "text":
            completion = await self._complete(route, body)
            stream = _Stream()
            stream._chunks, stream.usage = self._replay(completion, include_usage), completion["usage"]
            return stream
        model = await self.model()
        stream = _Stream()
        stream._chunks = self._tokens(model, plan, route, include_usage, stream)
        return stream

    async def _replay(self, completion: dict[str, Any], include_usage: bool) -> AsyncIterator[bytes]:
        for chunk in adapter.completion_chunks(completion, include_usage):
            yield encode_sse(chunk)
        yield DONE

    async def _tokens(self, model: LocalModel, plan: adapter.Plan, route: Route, include_usage: bool,
                      owner: _Stream) -> AsyncIterator[bytes]:
        ident, created, produced = f"chatcmpl-{uuid.uuid4().hex}", int(time.time()), 0
        async for chunk in model.stream(**plan.kwargs):
            choice = chunk["choices"][0]
            produced += 1 if choice["delta"].get("content") else 0
            yield encode_sse({"id": ident, "object": "chat.completion.chunk", "created": created,
                              "model": route.requested, "choices": [choice]})
        prompt = "\n".join(m["content"] for m in plan.kwargs["messages"])
        usage = {"prompt_tokens": model.count_tokens(prompt), "completion_tokens": produced,
                 "total_tokens": model.count_tokens(prompt) + produced}
        owner.usage = usage
        if include_usage:
            yield encode_sse({"id": ident, "object": "chat.completion.chunk", "created": created,
                              "model": route.requested, "choices": [], "usage": usage})
        yield DONE

    async def embed(self, route: Route, body: dict[str, Any]) -> Completion:
        """Embeddings from the embedded all-MiniLM-L6-v2 (autonomy/gateway/local_embeddings.py), whatever
        the name; 424 when its packages are missing, 400 for an input that is not text."""
        from autonomy.gateway.local_embeddings import load_embedder

        texts = body.get("input")
        texts = [texts] if isinstance(texts, str) else texts
        if not isinstance(texts, list) or not all(isinstance(t, str) for t in texts):
            raise _bad_request(self.config.name, "'input' must be a string or a list of strings (token arrays "
                                                 "are not accepted by the embedded model)")
        encoding = body.get("encoding_format") or "float"
        if encoding not in ("float", "base64"):
            raise _bad_request(self.config.name, f"'encoding_format' = {encoding!r}: use 'float' or 'base64'")
        embedder = await load_embedder()
        vectors, tokens = await embedder.embed(texts)
        usage = {"prompt_tokens": tokens, "total_tokens": tokens}
        # base64 (what the OpenAI SDK asks for): the float32 little-endian bytes, as OpenAI sends them
        data = [{"object": "embedding", "index": i,
                 "embedding": base64.b64encode(struct.pack(f"<{len(v)}f", *v)).decode() if encoding == "base64" else v}
                for i, v in enumerate(vectors)]
        answer = {"object": "list", "model": route.requested, "usage": usage, "data": data}
        return Completion(json.dumps(answer).encode(), usage)

    async def aclose(self) -> None:
        """Nothing to close: the loaded model is shared by the process (see local_model)."""
