"""A fake LLM endpoint: a real OpenAI- and Anthropic-compatible HTTP server on 127.0.0.1.

Tests drive it instead of a real model. It serves, over real HTTP on a random loopback port:

* ``POST /v1/chat/completions``: non-streamed, or SSE-streamed when ``"stream": true`` (text split over
  several chunks; each tool call split over several chunks: id and name first, then argument fragments;
  a final usage chunk when ``stream_options.include_usage`` is set, then ``data: [DONE]``);
* ``POST /v1/messages``: the Anthropic Messages API, non-streamed and streamed, for the Anthropic SDK path;
* ``POST /v1/embeddings``: deterministic vectors (a hash of the text), ``dimensions`` long (default 8);
* ``GET /v1/models``: the names in :attr:`FakeLLM.models`.

What it answers, in this order of precedence, for each completion request:

1. the next queued failure (:meth:`FakeLLM.fail`): status 429/500/..., optional ``Retry-After``;
2. the next scripted reply (:meth:`FakeLLM.reply`): text, or ``tool_calls=[(name, args_dict)]``;
3. the responder function installed with :meth:`FakeLLM.respond_with` (``(request_json) -> Reply | str``);
4. otherwise ``"echo: <text of the last user message>"``.

Every request (including failed ones) is recorded in :attr:`FakeLLM.requests` with its path, headers and
JSON body, so tests can assert what the model saw. The server runs in its own thread with its own event
loop, so it works from sync and async tests alike and a slow reply never blocks the test's loop.

Usage::

    with FakeLLM() as llm:
        llm.reply("Hello")
        llm.reply(tool_calls=[("get_time", {"timezone": "UTC"})])
        client = openai.OpenAI(base_url=llm.base_url, api_key=llm.api_key)
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import socket
import threading
from collections import deque
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from typing import Any

import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse
from starlette.routing import Route

__all__ = ["FakeLLM", "Reply", "Failure", "RecordedRequest"]


@dataclass
class Reply:
    """One scripted model reply: ``text`` and/or ``tool_calls`` (``(name, args_dict)`` pairs).

    ``delay`` seconds pass before the reply starts; ``chunk_delay`` seconds between streamed chunks.
    ``finish_reason`` defaults to ``"tool_calls"`` when there are tool calls, else ``"stop"``.
    """

    text: str | None = None
    tool_calls: list[tuple[str, dict[str, Any]]] = field(default_factory=list)
    delay: float = 0.0
    chunk_delay: float = 0.0
    finish_reason: str | None = None

    @property
    def finish(self) -> str:
        return self.finish_reason or ("tool_calls" if self.tool_calls else "stop")


@dataclass
class Failure:
    """One scripted failure: HTTP ``status`` with an optional ``Retry-After`` header, after ``delay`` s."""

    status: int = 500
    retry_after: float | None = None
    message: str = "fake failure"
    delay: float = 0.0


@dataclass
class RecordedRequest:
    """A request the server received: method, path, headers (lower-case names) and parsed JSON body."""

    method: str
    path: str
    headers: dict[str, str]
    json: Any


Responder = Callable[[dict[str, Any]], "Reply | str"]


def _count_tokens(value: Any) -> int:
    """A deterministic token estimate: whitespace-separated words of the JSON text, at least 1."""
    return max(1, len(json.dumps(value).split()))


def _split(text: str, parts: int) -> list[str]:
    """Split ``text`` into up to ``parts`` non-empty pieces that concatenate back to it."""
    if not text:
        return [text]
    size = max(1, -(-len(text) // parts))
    return [text[i : i + size] for i in range(0, len(text), size)]


def _last_user_text(body: dict[str, Any]) -> str:
    for message in reversed(body.get("messages") or []):
        if message.get("role") == "user":
            content = message.get("content")
            if isinstance(content, list):  # OpenAI content parts or Anthropic blocks
                return "".join(p.get("text", "") for p in content if isinstance(p, dict))
            return str(content or "")
    return ""


def _sse(data: Any, event: str | None = None) -> bytes:
    head = f"event: {event}\n" if event else ""
    return f"{head}data: {json.dumps(data)}\n\n".encode()


class FakeLLM:
    """The fake endpoint. :meth:`start` returns once it is listening; :attr:`url` is then set."""

    api_key = "fake-key"

    def __init__(self, models: list[str] | None = None) -> None:
        self.models: list[str] = models or ["fake-model", "claude-fake"]
        self.requests: list[RecordedRequest] = []
        self.url: str = ""
        self._lock = threading.Lock()
        self._replies: deque[Reply] = deque()
        self._failures: deque[Failure] = deque()
        self._responder: Responder | None = None
        self._ids = 0
        self._thread: threading.Thread | None = None
        self._server: uvicorn.Server | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stopping: asyncio.Event | None = None
        self._error: BaseException | None = None

    # --- scripting -------------------------------------------------------------------------------

    def reply(
        self,
        text: str | None = None,
        *,
        tool_calls: list[tuple[str, dict[str, Any]]] | None = None,
        delay: float = 0.0,
        chunk_delay: float = 0.0,
        finish_reason: str | None = None,
    ) -> None:
        """Queue one reply; replies are used in order, one per completion request."""
        with self._lock:
            self._replies.append(Reply(text, list(tool_calls or []), delay, chunk_delay, finish_reason))

    def respond_with(self, responder: Responder | None) -> None:
        """Answer requests not covered by queued replies with ``responder(request_json)``."""
        self._responder = responder

    def fail(
        self, status: int = 500, *, times: int = 1, retry_after: float | None = None, delay: float = 0.0
    ) -> None:
        """Make the next ``times`` completion/embedding requests fail with ``status``."""
        with self._lock:
            for _ in range(times):
                self._failures.append(Failure(status, retry_after, f"fake failure {status}", delay))

    def completion_requests(self) -> list[RecordedRequest]:
        """The recorded chat-completion and Anthropic messages requests, in arrival order."""
        with self._lock:
            return [r for r in self.requests if r.path in ("/v1/chat/completions", "/v1/messages")]

    def reset(self) -> None:
        """Forget queued replies, failures, the responder and the recorded requests."""
        with self._lock:
            self._replies.clear()
            self._failures.clear()
            self.requests.clear()
        self._responder = None

    @property
    def base_url(self) -> str:
        """The OpenAI-style base URL (``.../v1``)."""
        return self.url + "/v1"

    # --- lifecycle -------------------------------------------------------------------------------

    def start(self) -> FakeLLM:
        """Start the server thread; return once it listens on 127.0.0.1 (random port)."""
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        # Accepted sockets inherit TCP_NODELAY on Linux; without it a keep-alive request waits ~40 ms
        # (Nagle on the response's second segment vs the client's delayed ACK).
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
        config = uvicorn.Config(
            self._app(), log_level="warning", access_log=False, lifespan="off", ws="none",
            http="h11", timeout_graceful_shutdown=1,
        )
        self._server = uvicorn.Server(config)
        ready = threading.Event()
        self._thread = threading.Thread(target=self._run, args=(sock, ready), name="fake-llm", daemon=True)
        self._thread.start()
        while not ready.wait(0.01):
            if not self._thread.is_alive():
                raise RuntimeError(f"fake LLM server did not start: {self._error!r}")
        self.url = f"http://127.0.0.1:{port}"
        return self

    def _run(self, sock: socket.socket, ready: threading.Event) -> None:
        async def main() -> None:
            self._loop = asyncio.get_running_loop()
            self._stopping = asyncio.Event()
            assert self._server is not None
            serve = asyncio.create_task(self._server.serve(sockets=[sock]))
            while not self._server.started:
                if serve.done():
                    await serve  # raises the start-up error
                    return
                await asyncio.sleep(0.005)
            ready.set()
            await serve

        try:
            asyncio.run(main())
        except BaseException as exc:  # kept for start() and stop() to report
            self._error = exc
        finally:
            sock.close()

    def stop(self) -> None:
        """Stop the server (cutting short any scripted delay) and join its thread."""
        if self._server is None or self._thread is None:
            return
        self._server.should_exit = True
        if self._loop is not None and self._stopping is not None and not self._loop.is_closed():
            try:
                self._loop.call_soon_threadsafe(self._stopping.set)
            except RuntimeError:  # loop already closed
                pass
        self._thread.join(timeout=10)
        self._server = None
        if self._error is not None:
            raise RuntimeError(f"fake LLM server failed: {self._error!r}") from self._error

    def __enter__(self) -> FakeLLM:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # --- HTTP ------------------------------------------------------------------------------------

    def _app(self) -> Starlette:
        return Starlette(
            routes=[
                Route("/v1/chat/completions", self._chat, methods=["POST"]),
                Route("/v1/messages", self._messages, methods=["POST"]),
                Route("/v1/embeddings", self._embeddings, methods=["POST"]),
                Route("/v1/models", self._models, methods=["GET"]),
            ]
        )

    async def _record(self, request: Request) -> dict[str, Any]:
        raw = await request.body()
        body = json.loads(raw) if raw else {}
        headers = {k.lower(): v for k, v in request.headers.items()}
        with self._lock:
            self.requests.append(RecordedRequest(request.method, request.url.path, headers, body))
        return body

    async def _sleep(self, seconds: float) -> None:
        if seconds > 0 and self._stopping is not None:
            try:
                await asyncio.wait_for(self._stopping.wait(), seconds)
            except TimeoutError:
                pass

    async def _failure(self, anthropic: bool = False) -> Response | None:
        with self._lock:
            failure = self._failures.popleft() if self._failures else None
        if failure is None:
            return None
        await self._sleep(failure.delay)
        headers = {"retry-after": f"{failure.retry_after:g}"} if failure.retry_after is not None else {}
        if anthropic:
            kind = "rate_limit_error" if failure.status == 429 else "api_error"
            content: dict[str, Any] = {"type": "error", "error": {"type": kind, "message": failure.message}}
        else:
            content = {"error": {"message": failure.message, "type": "fake", "code": failure.status}}
        return JSONResponse(content, status_code=failure.status, headers=headers)

    def _next_reply(self, body: dict[str, Any]) -> Reply:
        with self._lock:
            reply = self._replies.popleft() if self._replies else None
        if reply is not None:
            return reply
        if self._responder is not None:
            answer = self._responder(body)
            return Reply(text=answer) if isinstance(answer, str) else answer
        return Reply(text=f"echo: {_last_user_text(body)}")

    def _next_id(self) -> int:
        with self._lock:
            self._ids += 1
            return self._ids

    async def _models(self, request: Request) -> Response:
        await self._record(request)
        data = [{"id": m, "object": "model", "created": 0, "owned_by": "fake"} for m in self.models]
        return JSONResponse({"object": "list", "data": data})

    async def _embeddings(self, request: Request) -> Response:
        body = await self._record(request)
        if (failed := await self._failure()) is not None:
            return failed
        inputs = body.get("input")
        texts = [inputs] if isinstance(inputs, str) else list(inputs or [])
        dims = int(body.get("dimensions") or 8)
        data = []
        for i, text in enumerate(texts):
            digest = hashlib.sha256(str(text).encode()).digest()
            vector = [(digest[j % len(digest)] - 128) / 128 for j in range(dims)]
            data.append({"object": "embedding", "index": i, "embedding": vector})
        usage = {"prompt_tokens": _count_tokens(texts), "total_tokens": _count_tokens(texts)}
        return JSONResponse({"object": "list", "data": data, "model": body.get("model", ""), "usage": usage})

    # --- OpenAI chat completions -----------------------------------------------------------------

    async def _chat(self, request: Request) -> Response:
        body = await self._record(request)
        if (failed := await self._failure()) is not None:
            return failed
        reply = self._next_reply(body)
        await self._sleep(reply.delay)
        n = self._next_id()
        model = body.get("model", "fake-model")
        prompt_tokens = _count_tokens(body.get("messages"))
        completion_tokens = _count_tokens([reply.text, reply.tool_calls])
        usage = {
            "prompt_tokens": prompt_tokens,
            "completion_tokens": completion_tokens,
            "total_tokens": prompt_tokens + completion_tokens,
        }
        calls = [
            {"id": f"call_{n}_{i}", "type": "function", "function": {"name": name, "arguments": json.dumps(args)}}
            for i, (name, args) in enumerate(reply.tool_calls)
        ]
        if not body.get("stream"):
            message: dict[str, Any] = {"role": "assistant", "content": reply.text}
            if calls:
                message["tool_calls"] = calls
            return JSONResponse(
                {
                    "id": f"chatcmpl-{n}", "object": "chat.completion", "created": 0, "model": model,
                    "choices": [{"index": 0, "message": message, "finish_reason": reply.finish}],
                    "usage": usage,
                }
            )
        include_usage = bool((body.get("stream_options") or {}).get("include_usage"))
        return StreamingResponse(
            self._chat_chunks(n, model, reply, calls, usage if include_usage else None),
            media_type="text/event-stream",
        )

    async def _chat_chunks(
        self, n: int, model: str, reply: Reply, calls: list[dict[str, Any]], usage: dict[str, int] | None
    ) -> AsyncIterator[bytes]:
        def chunk(delta: dict[str, Any], finish: str | None = None) -> bytes:
            choice = {"index": 0, "delta": delta, "finish_reason": finish}
            return _sse({"id": f"chatcmpl-{n}", "object": "chat.completion.chunk", "created": 0,
                         "model": model, "choices": [choice]})

        yield chunk({"role": "assistant", "content": ""})
        for piece in _split(reply.text or "", 3) if reply.text else []:
            await self._sleep(reply.chunk_delay)
            yield chunk({"content": piece})
        for index, call in enumerate(calls):
            head = {"index": index, "id": call["id"], "type": "function",
                    "function": {"name": call["function"]["name"], "arguments": ""}}
            yield chunk({"tool_calls": [head]})
            for piece in _split(call["function"]["arguments"], 3):
                await self._sleep(reply.chunk_delay)
                yield chunk({"tool_calls": [{"index": index, "function": {"arguments": piece}}]})
        yield chunk({}, reply.finish)
        if usage is not None:
            yield _sse({"id": f"chatcmpl-{n}", "object": "chat.completion.chunk", "created": 0,
                        "model": model, "choices": [], "usage": usage})
        yield b"data: [DONE]\n\n"

    # --- Anthropic messages ----------------------------------------------------------------------

    async def _messages(self, request: Request) -> Response:
        body = await self._record(request)
        if (failed := await self._failure(anthropic=True)) is not None:
            return failed
        reply = self._next_reply(body)
        await self._sleep(reply.delay)
        n = self._next_id()
        model = body.get("model", "claude-fake")
        stop_reason = "tool_use" if reply.tool_calls else ("max_tokens" if reply.finish == "length" else "end_turn")
        blocks: list[dict[str, Any]] = []
        if reply.text:
            blocks.append({"type": "text", "text": reply.text})
        for i, (name, args) in enumerate(reply.tool_calls):
            blocks.append({"type": "tool_use", "id": f"toolu_{n}_{i}", "name": name, "input": args})
        usage = {"input_tokens": _count_tokens(body.get("messages")), "output_tokens": _count_tokens(blocks)}
        if not body.get("stream"):
            return JSONResponse(
                {"id": f"msg_{n}", "type": "message", "role": "assistant", "model": model, "content": blocks,
                 "stop_reason": stop_reason, "stop_sequence": None, "usage": usage}
            )
        return StreamingResponse(
            self._message_events(n, model, reply, blocks, stop_reason, usage), media_type="text/event-stream"
        )

    async def _message_events(
        self, n: int, model: str, reply: Reply, blocks: list[dict[str, Any]], stop_reason: str,
        usage: dict[str, int],
    ) -> AsyncIterator[bytes]:
        start = {"id": f"msg_{n}", "type": "message", "role": "assistant", "model": model, "content": [],
                 "stop_reason": None, "stop_sequence": None,
                 "usage": {"input_tokens": usage["input_tokens"], "output_tokens": 0}}
        yield _sse({"type": "message_start", "message": start}, "message_start")
        for index, block in enumerate(blocks):
            if block["type"] == "text":
                empty = {"type": "text", "text": ""}
                yield _sse({"type": "content_block_start", "index": index, "content_block": empty},
                           "content_block_start")
                for piece in _split(block["text"], 3):
                    await self._sleep(reply.chunk_delay)
                    delta = {"type": "text_delta", "text": piece}
                    yield _sse({"type": "content_block_delta", "index": index, "delta": delta},
                               "content_block_delta")
            else:
                head = {"type": "tool_use", "id": block["id"], "name": block["name"], "input": {}}
                yield _sse({"type": "content_block_start", "index": index, "content_block": head},
                           "content_block_start")
                for piece in _split(json.dumps(block["input"]), 3):
                    await self._sleep(reply.chunk_delay)
                    delta = {"type": "input_json_delta", "partial_json": piece}
                    yield _sse({"type": "content_block_delta", "index": index, "delta": delta},
                               "content_block_delta")
            yield _sse({"type": "content_block_stop", "index": index}, "content_block_stop")
        yield _sse({"type": "message_delta", "delta": {"stop_reason": stop_reason, "stop_sequence": None},
                    "usage": {"output_tokens": usage["output_tokens"]}}, "message_delta")
        yield _sse({"type": "message_stop"}, "message_stop")
