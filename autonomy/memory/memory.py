"""Conversation memory (spec §1.6): short-term in memory, long-term in SQLite when enabled (store.py).

One :class:`Memory` is shared by all the conversation workers of an agent; it holds one history per
``(scope, conversation)`` key (agents use ``("{agent}/{scope}", conversation)``). Messages are stored
as the protocol's JSON dicts (see ``autonomy.agents.protocol``) plus a ``timestamp`` (float, seconds).

Trimming keeps at most ``max_messages_in_short_term_memory`` messages and about
``max_tokens_in_short_term_memory`` estimated tokens per conversation, dropping the oldest first,
and never leaves a tool result without the assistant message that called it: an assistant tool
call and its results are dropped together, or kept together (beyond the limits) when they are the
newest messages. The newest message is always kept.
"""

from __future__ import annotations

import json
import time
from typing import Any

__all__ = ["Memory", "estimate_tokens", "find_safe_trim_count", "validate_tool_pairing"]


def estimate_tokens(message: dict[str, Any]) -> int:
    """A cheap token estimate: about 4 characters per token, plus a few per message."""
    content = message.get("content")
    if isinstance(content, dict):
        text = content.get("text") or content.get("encoded") or ""
    else:
        text = content or ""
    size = len(text) if isinstance(text, str) else len(str(text))
    calls = message.get("tool_calls")
    if calls:
        size += len(json.dumps(calls))
    return size // 4 + 4


def _is_tool_result(message: dict[str, Any]) -> bool:
    return message.get("role") == "tool"


def find_safe_trim_count(messages: list[dict[str, Any]], wanted: int) -> int:
    """How many of the oldest ``messages`` to drop, at least ``wanted``, so that the history does not
    start with tool results whose assistant tool call was dropped. Never drops the last message; when
    the newest messages are tool results, their assistant tool call is kept with them (fewer than
    ``wanted`` are then dropped)."""
    count = max(0, min(wanted, len(messages) - 1))
    while count < len(messages) - 1 and _is_tool_result(messages[count]):
        count += 1
    while count > 0 and _is_tool_result(messages[count]):
        count -= 1
    return count


def validate_tool_pairing(messages: list[dict[str, Any]]) -> bool:
    """True when every tool result follows an assistant message that called it."""
    open_calls: set[Any] = set()  # tool call ids as the model sent them (None when missing)
    for message in messages:
        if message.get("role") == "assistant":
            open_calls = {c.get("id") for c in message.get("tool_calls") or [] if isinstance(c, dict)}
        elif _is_tool_result(message):
            if message.get("tool_call_id") not in open_calls:
                return False
        else:
            open_calls = set()
    return True


class _History:
    __slots__ = ("messages", "tokens")

    def __init__(self) -> None:
        self.messages: list[dict[str, Any]] = []
        self.tokens: list[int] = []


class Memory:
    """Conversation histories keyed by ``(scope, conversation)``; safe to share between workers (one
    event loop, no awaits inside an update). Creating one allocates almost nothing."""

    __slots__ = ("max_messages_in_short_term_memory", "max_tokens_in_short_term_memory", "model",
                 "enable_long_term_memory", "instructions", "_histories", "_store")

    def __init__(self, max_messages_in_short_term_memory: int | None = 1000,
                 max_tokens_in_short_term_memory: int | None = 100000, model: Any = None,
                 enable_long_term_memory: bool = False, tenant: str | None = None,
                 store_path: str | None = None) -> None:
        for name, value in (("max_messages_in_short_term_memory", max_messages_in_short_term_memory),
                            ("max_tokens_in_short_term_memory", max_tokens_in_short_term_memory)):
            if value is not None and (not isinstance(value, int) or value < 1):
                raise ValueError(f"Memory: {name} must be a positive integer or None, not {value!r}")
        self.max_messages_in_short_term_memory = max_messages_in_short_term_memory
        self.max_tokens_in_short_term_memory = max_tokens_in_short_term_memory
        self.model = model
        self.enable_long_term_memory = bool(enable_long_term_memory)
        self.instructions: dict[str, Any] | None = None
        self._histories: dict[tuple[str, str], _History] | None = None
        self._store: Any = None
        if enable_long_term_memory:  # conversations survive restarts (store.py); loaded now
            from autonomy.memory.store import ConversationStore

            self._store = ConversationStore(tenant or "default", store_path)
            for (scope, conversation), messages in self._store.load(max_messages_in_short_term_memory).items():
                history = self._history(scope, conversation)
                for message in messages:
                    history.messages.append(message)
                    history.tokens.append(estimate_tokens(message))
                self._trim(history)

    async def initialize_database(self, max_retries: int = 3) -> None:
        """Upstream compatibility: the long-term store (if enabled) is opened and loaded at creation."""

    def set_instructions(self, instructions: dict[str, Any] | None) -> None:
        """The system message put before every history by :meth:`get_messages`."""
        self.instructions = instructions

    # ---- writing --------------------------------------------------------------------------------

    def _history(self, scope: str, conversation: str) -> _History:
        histories = self._histories
        if histories is None:
            histories = self._histories = {}
        history = histories.get((scope, conversation))
        if history is None:
            history = histories[(scope, conversation)] = _History()
        return history

    async def add_message(self, scope: str, conversation: str, message: dict[str, Any]) -> None:
        """Append ``message`` (a JSON dict; a ``timestamp`` is added if missing), then trim."""
        self.add_message_nowait(scope, conversation, message)

    def add_message_nowait(self, scope: str, conversation: str, message: dict[str, Any]) -> None:
        """:meth:`add_message` without the coroutine (it never waits)."""
        if not isinstance(message, dict):
            raise TypeError(f"Memory.add_message: message must be a dict, not {type(message).__name__}")
        message = dict(message)
        message.setdefault("timestamp", time.time())
        history = self._history(scope, conversation)
        history.messages.append(message)
        history.tokens.append(estimate_tokens(message))
        self._trim(history)
        if self._store is not None:
            self._store.append(scope, conversation, message)

    async def add_messages(self, scope: str, conversation: str, messages: list[dict[str, Any]]) -> None:
        for message in messages:
            self.add_message_nowait(scope, conversation, message)

    def _trim(self, history: _History) -> None:
        excess = 0
        if self.max_messages_in_short_term_memory is not None:
            excess = len(history.messages) - self.max_messages_in_short_term_memory
        if self.max_tokens_in_short_term_memory is not None:
            total, limit, drop = sum(history.tokens), self.max_tokens_in_short_term_memory, 0
            while total > limit and drop < len(history.tokens) - 1:
                total -= history.tokens[drop]
                drop += 1
            excess = max(excess, drop)
        if excess > 0:
            count = find_safe_trim_count(history.messages, excess)
            del history.messages[:count]
            del history.tokens[:count]

    # ---- reading --------------------------------------------------------------------------------

    async def get_messages(self, scope: str, conversation: str) -> list[dict[str, Any]]:
        """The instructions (if set) followed by the conversation's history."""
        history = await self.get_messages_only(scope, conversation)
        return ([self.instructions] if self.instructions else []) + history

    async def get_messages_only(self, scope: str, conversation: str) -> list[dict[str, Any]]:
        """A copy of the conversation's history, oldest first."""
        return self.messages_nowait(scope, conversation)

    def messages_nowait(self, scope: str, conversation: str) -> list[dict[str, Any]]:
        history = (self._histories or {}).get((scope, conversation))
        return list(history.messages) if history else []

    async def get_all_messages(self, scope: str, conversation: str, limit: int | None = None) -> list[dict[str, Any]]:
        messages = self.messages_nowait(scope, conversation)
        return messages[-limit:] if limit else messages

    async def get_message_count(self, scope: str, conversation: str) -> int:
        return self.message_count_nowait(scope, conversation)

    def message_count_nowait(self, scope: str, conversation: str) -> int:
        history = (self._histories or {}).get((scope, conversation))
        return len(history.messages) if history else 0

    def conversations(self, scope: str | None = None, conversation: str | None = None,
                      scope_prefix: str = "") -> list[tuple[str, str, list[dict[str, Any]]]]:
        """``(scope, conversation, messages)`` for every history matching the filters (None = any)."""
        out = []
        for (s, c), history in (self._histories or {}).items():
            if not s.startswith(scope_prefix):
                continue
            if scope is not None and s != scope_prefix + scope:
                continue
            if conversation is not None and c != conversation:
                continue
            out.append((s, c, list(history.messages)))
        return out

    async def clear_short_term_memory(self, scope: str | None = None, conversation: str | None = None) -> None:
        """Forget the given conversation, or every conversation when called without arguments."""
        if scope is None and conversation is None:
            self._histories = None
        elif self._histories:
            for key in [k for k in self._histories if (scope is None or k[0] == scope)
                        and (conversation is None or k[1] == conversation)]:
                del self._histories[key]

    async def delete_conversation(self, scope: str, conversation: str) -> None:
        """Forget the conversation, also in long-term memory."""
        if self._histories:
            self._histories.pop((scope, conversation), None)
        if self._store is not None:
            self._store.delete(scope, conversation)

    async def get_metrics(self) -> dict[str, Any]:
        histories = self._histories or {}
        return {"conversations": len(histories),
                "messages": sum(len(h.messages) for h in histories.values()),
                "estimated_tokens": sum(sum(h.tokens) for h in histories.values()),
                "long_term_memory": self.enable_long_term_memory}

    async def health_check(self) -> dict[str, Any]:
        return {"status": "healthy", "short_term_memory": True, "long_term_memory": self.enable_long_term_memory}
