"""``Model``: a chat/embedding model reached through the official OpenAI or Anthropic SDK.

Which endpoint a name goes to is decided from the environment on first use (``backends.py``,
docs/models.md), so a ``Model`` shipped to another node resolves against that node's environment.
Results always have the OpenAI SDK's shapes, whatever the backend.
"""

from __future__ import annotations

import builtins
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable
from typing import Any, TypeVar

from autonomy.errors import ModelError, ModelTimeout
from autonomy.models.backends import Backend, is_claude, resolve_backend
from autonomy.models.clients import forget_client, sdk_client, translate_error
from autonomy.models.messages import estimate_tokens, to_openai_messages
from autonomy.models.throttle import Throttle, throttle_for, with_retries

__all__ = ["Model"]

T = TypeVar("T")
_NOT_CHAT = ("embed", "tts-", "whisper")


class Model:
    """A model by name; extra ``kwargs`` (``temperature``, ``max_tokens``...) go with every completion.

    Timeouts (seconds): ``connect_timeout`` to open a connection; ``request_timeout`` for a
    non-streamed answer, and the longest silence between two chunks of a stream; ``stream_timeout``
    for a whole stream. ``throttle=True`` shares a :class:`~autonomy.models.throttle.Throttle` with the
    other Models of this name and endpoint. 429/5xx answers are retried ``throttle_max_retry_attempts``
    times in either case (honouring ``Retry-After``). ``max_input_tokens`` is kept for callers that trim
    their context; it is not enforced here.
    """

    def __init__(
        self,
        name: str,
        max_input_tokens: int | None = None,
        request_timeout: float = 120.0,
        connect_timeout: float = 10.0,
        stream_timeout: float = 300.0,
        throttle: bool = False,
        throttle_requests_per_minute: float = 60.0,
        throttle_max_requests_in_progress: int = 10,
        throttle_max_requests_waiting_in_queue: int = 1000,
        throttle_max_seconds_to_wait_in_queue: float = 300.0,
        throttle_max_retry_attempts: int = 3,
        throttle_initial_seconds_between_retry_attempts: float = 5.0,
        throttle_max_seconds_between_retry_attempts: float = 60.0,
        **kwargs: Any,
    ) -> None:
        if not isinstance(name, str) or not name.strip():
            raise ModelError(f"Model name {name!r} must be a non-empty string, e.g. Model('gpt-4o-mini')")
        self.name = name
        self.max_input_tokens = max_input_tokens
        self.request_timeout = request_timeout
        self.connect_timeout = connect_timeout
        self.stream_timeout = stream_timeout
        self.throttle = throttle
        self.throttle_requests_per_minute = throttle_requests_per_minute
        self.throttle_max_requests_in_progress = throttle_max_requests_in_progress
        self.throttle_max_requests_waiting_in_queue = throttle_max_requests_waiting_in_queue
        self.throttle_max_seconds_to_wait_in_queue = throttle_max_seconds_to_wait_in_queue
        self.throttle_max_retry_attempts = throttle_max_retry_attempts
        self.throttle_initial_seconds_between_retry_attempts = throttle_initial_seconds_between_retry_attempts
        self.throttle_max_seconds_between_retry_attempts = throttle_max_seconds_between_retry_attempts
        self.kwargs = kwargs
        self._backend: Backend | None = None

    def __getstate__(self) -> dict[str, Any]:
        # Re-resolve on the receiving node: its environment decides where requests go.
        return {**self.__dict__, "_backend": None}

    def __repr__(self) -> str:
        return f"Model({self.name!r})"

    @property
    def original_name(self) -> str:
        """The name this Model was created with."""
        return self.name

    @property
    def resolved_name(self) -> str:
        """The name sent to the endpoint (names are passed verbatim to every backend)."""
        return self.name

    @property
    def backend(self) -> Backend:
        """Where requests go (resolved from the environment on first use; ModelError if nothing is set)."""
        if self._backend is None:
            self._backend = resolve_backend(self.name)
        return self._backend

    def support_tools(self) -> bool:
        """Whether the model takes ``tools`` (embedding, speech and transcription models do not)."""
        return not any(marker in self.name.lower() for marker in _NOT_CHAT)

    def support_forced_assistant_answer(self) -> bool:
        """Whether a trailing assistant message is continued (Anthropic prefill) rather than refused."""
        return is_claude(self.name)

    def count_tokens(self, messages: Iterable[Any], is_thinking: bool = False,
                     tools: list[dict[str, Any]] | None = None) -> int:
        """An estimate of the prompt's size in tokens (~4 characters a token); does not call the endpoint."""
        return estimate_tokens(to_openai_messages(messages), tools)

    # --- completions -------------------------------------------------------------------------

    def complete_chat(self, messages: Iterable[Any], stream: bool = False, is_thinking: bool = False,
                      agent_name: str | None = None, scope: str | None = None, conversation: str | None = None,
                      tools: list[dict[str, Any]] | None = None, **kwargs: Any) -> Any:
        """Complete a chat. Not ``async``: returns an awaitable of a ``ChatCompletion`` when
        ``stream=False``, else an async iterator of ``ChatCompletionChunk`` (the last one carries
        ``usage`` and no choices). ``messages`` are OpenAI dicts or message dataclasses; ``tools``
        are OpenAI function specs (an empty list is dropped); ``kwargs`` override the Model's.
        Errors: ModelError / ModelTimeout naming the endpoint. ``is_thinking``, ``agent_name``,
        ``scope`` and ``conversation`` are accepted for compatibility and not sent.
        """
        openai_messages = to_openai_messages(messages)
        params = {**self.kwargs, **kwargs}
        if tools:
            params["tools"] = list(tools)
        if stream:
            return self._stream(openai_messages, params)
        return self._complete(openai_messages, params)

    def _timeout(self, backend: Backend, read: float) -> Any:
        # Each SDK re-exports the Timeout of the httpx flavour it uses (anthropic uses httpx2).
        if backend.kind == "anthropic":
            import anthropic

            return anthropic.Timeout(read, connect=self.connect_timeout)
        import openai

        return openai.Timeout(read, connect=self.connect_timeout)

    def _throttle(self, backend: Backend) -> Throttle | None:
        if not self.throttle:
            return None
        return throttle_for((backend.client_key, self.name), lambda: Throttle(
            requests_per_minute=self.throttle_requests_per_minute,
            max_in_progress=self.throttle_max_requests_in_progress,
            max_waiting=self.throttle_max_requests_waiting_in_queue,
            max_wait_seconds=self.throttle_max_seconds_to_wait_in_queue,
        ))

    async def _call(self, request: Callable[[Backend, Any], Awaitable[T]], *, hold_slot: bool = True) -> T:
        """Run ``request(backend, client)`` with SDK errors translated, retries, and throttling.

        A 401 from a gateway whose key came from a file re-reads the file and tries once more.
        """
        async def attempt() -> T:
            backend = self.backend
            try:
                return await request(backend, sdk_client(backend))
            except Exception as exc:
                translated = translate_error(exc, backend, self.name)
                if translated is exc:
                    raise
                raise translated from exc

        backend = self.backend
        throttle = self._throttle(backend) if hold_slot else None

        async def retried() -> T:
            return await with_retries(
                attempt, model=self.name, max_retries=self.throttle_max_retry_attempts,
                initial_delay=self.throttle_initial_seconds_between_retry_attempts,
                max_delay=self.throttle_max_seconds_between_retry_attempts, throttle=throttle,
            )

        try:
            return await retried()
        except ModelError as exc:
            if exc.status != 401 or backend.key_file is None:
                raise
            forget_client(backend)
            self._backend = None
            return await retried()

    async def _complete(self, messages: list[dict[str, Any]], params: dict[str, Any]) -> Any:
        async def request(backend: Backend, client: Any) -> Any:
            if backend.kind == "anthropic":
                from autonomy.models import anthropic_shapes

                tools = params.get("tools")
                rest = {k: v for k, v in params.items() if k != "tools"}
                body = anthropic_shapes.to_anthropic_request(messages, tools, rest)
                timeout = self._timeout(backend, self.request_timeout)
                message = await client.messages.create(model=self.name, timeout=timeout, **body)
                return anthropic_shapes.to_chat_completion(message)
            return await client.chat.completions.create(
                model=self.name, messages=messages, timeout=self._timeout(backend, self.request_timeout), **params
            )

        return await self._call(request)

    async def _stream(self, messages: list[dict[str, Any]], params: dict[str, Any]) -> AsyncIterator[Any]:
        async def request(backend: Backend, client: Any) -> Any:
            timeout = self._timeout(backend, self.request_timeout)
            if backend.kind == "anthropic":
                from autonomy.models import anthropic_shapes

                tools = params.get("tools")
                rest = {k: v for k, v in params.items() if k != "tools"}
                body = anthropic_shapes.to_anthropic_request(messages, tools, rest)
                return await client.messages.create(model=self.name, stream=True, timeout=timeout, **body)
            options = {"stream_options": {"include_usage": True}, **params}
            return await client.chat.completions.create(
                model=self.name, messages=messages, stream=True, timeout=timeout, **options
            )

        # The throttle slot is held for the whole stream (it is one request in progress).
        backend = self.backend
        throttle = self._throttle(backend)
        if throttle is None:
            async for chunk in self._relay(await self._call(request), backend):
                yield chunk
            return
        async with throttle.slot(self.name):
            stream = await self._call(request, hold_slot=False)
            async for chunk in self._relay(stream, backend):
                yield chunk

    async def _relay(self, stream: Any, backend: Backend) -> AsyncIterator[Any]:
        """Yield ``stream``'s chunks (as OpenAI chunks), enforcing ``stream_timeout``; close it at the end."""
        deadline = time.monotonic() + self.stream_timeout
        chunks = stream
        if backend.kind == "anthropic":
            from autonomy.models import anthropic_shapes  # imports openai.types: only when needed

            chunks = anthropic_shapes.to_chunks(stream, self.name)
        try:
            async for chunk in chunks:
                if time.monotonic() > deadline:
                    raise ModelTimeout(f"Model {self.name!r} at {backend.base_url} streamed for longer than "
                                       f"stream_timeout={self.stream_timeout:g} s: raise it", model=self.name,
                                       url=backend.base_url)
                yield chunk
        except ModelError:
            raise
        except Exception as exc:
            translated = translate_error(exc, backend, self.name)
            if translated is exc:
                raise
            raise translated from exc
        finally:
            await stream.close()

    # --- other endpoints ---------------------------------------------------------------------

    async def embeddings(self, text: list[str] | str, **kwargs: Any) -> list[list[float]]:
        """One embedding vector per text, in order (OpenAI-compatible endpoints and gateways only)."""
        texts = [text] if isinstance(text, str) else list(text)

        async def request(backend: Backend, client: Any) -> list[list[float]]:
            self._openai_only(backend, "embeddings")
            result = await client.embeddings.create(model=self.name, input=texts,
                                                    timeout=self._timeout(backend, self.request_timeout), **kwargs)
            return [item.embedding for item in sorted(result.data, key=lambda item: item.index)]

        return await self._call(request)

    async def text_to_speech(self, text: str, voice: str = "alloy", response_format: str = "mp3",
                             **kwargs: Any) -> bytes:
        """Speech audio for ``text`` (OpenAI-compatible endpoints and gateways only)."""
        async def request(backend: Backend, client: Any) -> bytes:
            self._openai_only(backend, "text_to_speech")
            response = await client.audio.speech.create(model=self.name, voice=voice, input=text,
                                                        response_format=response_format, **kwargs)
            audio: bytes = response.content
            return audio

        return await self._call(request)

    async def speech_to_text(self, audio_file: Any, language: str | None = None, **kwargs: Any) -> str:
        """The transcript of ``audio_file`` (bytes, a path-like or a file object)."""
        async def request(backend: Backend, client: Any) -> str:
            self._openai_only(backend, "speech_to_text")
            extra = {"language": language} if language else {}
            result = await client.audio.transcriptions.create(model=self.name, file=audio_file, **extra, **kwargs)
            transcript: str = result.text
            return transcript

        return await self._call(request)

    def _openai_only(self, backend: Backend, what: str) -> None:
        if backend.kind != "openai":
            raise ModelError(f"Model {self.name!r} goes to the Anthropic API, which has no {what}: use an "
                             "OpenAI-compatible model for it", model=self.name, url=backend.base_url)

    # --- listing -----------------------------------------------------------------------------

    @staticmethod
    def list() -> list[str]:
        """Names of the models the configured endpoint offers (blocking: one HTTP request).

        Gateway mode and OpenAI-compatible endpoints answer ``GET /v1/models``; with only
        ``ANTHROPIC_API_KEY`` set, the Anthropic models API is asked. Names are deduplicated.
        """
        return sorted({name for names in Model.list_by_provider().values() for name in names})

    @staticmethod
    def list_by_provider() -> dict[str, builtins.list[str]]:
        """``{provider: [model names]}`` for each configured provider (blocking)."""
        from autonomy.models.listing import list_by_provider

        return list_by_provider()
