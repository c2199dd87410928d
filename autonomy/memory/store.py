"""Where conversations persist: the store protocol shared by the SQLite and PostgreSQL stores.

A store holds, per ``(scope, conversation)`` key, the messages (JSON dicts, numbered by ``seq``, the
message's position in the conversation since it began) and an optional ``state`` (a JSON dict: a
turn paused for the user's input). A :class:`~autonomy.memory.Memory` writes through its store:

- writes are queued without waiting (``*_nowait``) and written by :meth:`BatchingStore.flush`, in
  order, in one transaction; the agent loop flushes before it answers (or pauses), so an answer the
  user saw is stored. A process killed in the middle of a turn loses that turn's unanswered part.
- a failed flush keeps the queued writes (the next flush retries them) and raises
  :class:`MemoryStoreError` naming the store and the cause.
- reads (:meth:`load`, :meth:`conversations`) flush first, so they see every queued write.
"""

from __future__ import annotations

import asyncio
import json
from dataclasses import dataclass
from typing import Any

from autonomy.errors import AutonomyError

__all__ = ["BatchingStore", "MemoryStoreError", "Stored", "Write", "decode", "encode"]


class MemoryStoreError(AutonomyError):
    """A conversation store could not be opened, read or written; names the store and the cause."""


@dataclass(frozen=True, slots=True)
class Write:
    """One queued change: ``append`` (seq, message), ``trim`` (drop seq < seq), ``state`` (state or
    None), ``delete`` (the whole conversation)."""

    kind: str
    scope: str
    conversation: str
    seq: int = 0
    data: str | None = None


@dataclass(slots=True)
class Stored:
    """A conversation as loaded: ``first_seq`` is the seq of ``messages[0]``."""

    messages: list[dict[str, Any]]
    first_seq: int
    state: dict[str, Any] | None


# json.dumps with any non-default option builds a new encoder per call; one made once is the same text
_ENCODER = json.JSONEncoder(ensure_ascii=False, separators=(",", ":"))


def encode(value: Any) -> str:
    """JSON text for the store. Lone surrogates cannot be stored (nor sent to a model): callers refuse
    them before they reach memory; here they fail loudly instead of corrupting a row."""
    return _ENCODER.encode(value)


def decode(text: str) -> Any:
    return json.loads(text)


class BatchingStore:
    """The queue-and-flush half of a store; subclasses implement ``_open``, ``_write``, ``_load``,
    ``_conversations`` and ``_close``. Not thread-safe: one event loop uses it."""

    description = "store"

    def __init__(self) -> None:
        self._pending: list[Write] = []
        self._lock: asyncio.Lock | None = None
        self._opened = False

    # ---- queued writes ----------------------------------------------------------------------

    def append_nowait(self, scope: str, conversation: str, seq: int, message: dict[str, Any]) -> None:
        self._pending.append(Write("append", scope, conversation, seq, encode(message)))

    def append_encoded_nowait(self, scope: str, conversation: str, seq: int, text: str) -> None:
        """:meth:`append_nowait` of a message already encoded with :func:`encode`."""
        self._pending.append(Write("append", scope, conversation, seq, text))

    def trim_nowait(self, scope: str, conversation: str, below_seq: int) -> None:
        self._pending.append(Write("trim", scope, conversation, below_seq))

    def state_nowait(self, scope: str, conversation: str, state: dict[str, Any] | None) -> None:
        self._pending.append(Write("state", scope, conversation, 0, None if state is None else encode(state)))

    def delete_nowait(self, scope: str, conversation: str) -> None:
        self._pending.append(Write("delete", scope, conversation))

    @property
    def pending(self) -> int:
        return len(self._pending)

    async def flush(self) -> None:
        """Write every queued change, in order, in one transaction. On failure the changes stay queued
        and MemoryStoreError says why."""
        if not self._pending and self._opened:
            return
        if self._lock is None:
            self._lock = asyncio.Lock()
        async with self._lock:
            await self.open()
            batch, self._pending = self._pending, []
            if not batch:
                return
            try:
                await self._write(batch)
            except asyncio.CancelledError:
                self._pending[:0] = batch
                raise
            except Exception as exc:
                self._pending[:0] = batch
                raise MemoryStoreError(f"{self.description}: could not save {len(batch)} conversation "
                                       f"change(s): {type(exc).__name__}: {exc}") from exc

    # ---- reads ------------------------------------------------------------------------------

    async def open(self) -> None:
        """Connect and create the tables (idempotent)."""
        if self._opened:
            return
        try:
            await self._open()
        except Exception as exc:
            raise MemoryStoreError(f"{self.description}: cannot open: {type(exc).__name__}: {exc}") from exc
        self._opened = True

    async def load(self, scope: str, conversation: str) -> Stored | None:
        """The stored conversation, or None when the store has nothing for it."""
        await self.flush()
        try:
            return await self._load(scope, conversation)
        except Exception as exc:
            raise MemoryStoreError(f"{self.description}: cannot read conversation {scope!r}/{conversation!r}: "
                                   f"{type(exc).__name__}: {exc}") from exc

    async def conversations(self, scope_prefix: str, scope: str | None,
                            conversation: str | None) -> list[tuple[str, str, list[dict[str, Any]]]]:
        """``(scope, conversation, messages)`` of every stored conversation whose scope starts with
        ``scope_prefix`` (and equals ``scope_prefix + scope`` / has ``conversation`` when given)."""
        await self.flush()
        try:
            return await self._conversations(scope_prefix, scope, conversation)
        except Exception as exc:
            raise MemoryStoreError(f"{self.description}: cannot list conversations: "
                                   f"{type(exc).__name__}: {exc}") from exc

    async def aclose(self) -> None:
        """Flush what is queued (errors are raised) and close the connection."""
        try:
            if self._opened:
                await self.flush()
        finally:
            if self._opened:
                self._opened = False
                await self._close()

    # ---- for subclasses ---------------------------------------------------------------------

    async def _open(self) -> None:
        raise NotImplementedError

    async def _write(self, batch: list[Write]) -> None:
        raise NotImplementedError

    async def _load(self, scope: str, conversation: str) -> Stored | None:
        raise NotImplementedError

    async def _conversations(self, scope_prefix: str, scope: str | None,
                             conversation: str | None) -> list[tuple[str, str, list[dict[str, Any]]]]:
        raise NotImplementedError

    async def _close(self) -> None:
        raise NotImplementedError
