"""Short-term conversation memory (spec §1.6), in memory only for now.

One :class:`Memory` is shared by all the conversation workers of an agent; it holds one history per
``(scope, conversation)`` key (agents use ``("{agent}/{scope}", conversation)``). Messages are stored
as the protocol's JSON dicts (see ``autonomy.nodes.message``) plus a ``timestamp`` (float, seconds).

Trimming keeps at most ``max_messages_in_short_term_memory`` messages and about
``max_tokens_in_short_term_memory`` estimated tokens per conversation, dropping the oldest first,
and never leaves a tool result without the assistant message that called it: an assistant tool
call and its results are dropped together, or kept together (beyond the limits) when they are the
newest messages. The newest message is always kept.

With a ``store`` (see ``autonomy.memory.config``), every change is also queued for the store and
written by :meth:`Memory.flush`; a conversation not in RAM is loaded from the store by
:meth:`Memory.hold` (agents hold a conversation for the length of a turn) or by the async readers.
At most ``max_cached_conversations`` conversations stay in RAM: the least recently used ones that
are not held leave it (their messages are in the store). Without a store nothing is evicted.
"""

from __future__ import annotations

import json
import re
import time
from collections import OrderedDict
from typing import Any

from autonomy.memory.store import BatchingStore, decode, encode

_LONE_SURROGATE = re.compile("[\ud800-\udfff]")

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


_SCALARS = (type(None), bool, int, float)


def _plain_and_clean(value: Any) -> bool | None:
    """True when ``value`` is plain JSON data (str, numbers, bools, None, dicts with str keys, lists)
    without a lone surrogate; False when a string holds one; None when something is not plain data.
    Strings and scalars are tested in the loops, not by a call each (a stored message has ~15 values)."""
    if isinstance(value, str):
        return value.isascii() or _LONE_SURROGATE.search(value) is None
    if isinstance(value, dict):
        for key in value:
            if type(key) is not str:
                return None
            if not key.isascii() and _LONE_SURROGATE.search(key) is not None:
                return False
        items: Any = value.values()
    elif isinstance(value, (list, tuple)):
        items = value
    else:
        return True if isinstance(value, _SCALARS) else None
    for item in items:
        kind = type(item)
        if kind is str:
            if not item.isascii() and _LONE_SURROGATE.search(item) is not None:
                return False
        elif kind not in _SCALARS:
            clean = _plain_and_clean(item)
            if clean is not True:
                return clean
    return True


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
    open_calls: set[Any] = set()
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
    __slots__ = ("messages", "tokens", "first_seq", "state", "holds", "converted")

    def __init__(self) -> None:
        self.messages: list[dict[str, Any]] = []
        self.tokens: list[int] = []
        self.first_seq = 0  # the position of messages[0] in the conversation since it began
        self.state: dict[str, Any] | None = None  # a paused turn (see autonomy.agents.state)
        self.holds = 0  # turns in progress: a held history is never evicted
        # (convert, [convert(m) for the oldest messages]): see Memory.converted_nowait
        self.converted: tuple[Any, list[Any]] | None = None


_NONE: dict[tuple[str, str], _History] = {}  # read-only stand-in while no history exists


class Memory:
    """Conversation histories keyed by ``(scope, conversation)``; safe to share between workers (one
    event loop, no awaits inside an update). Creating one allocates almost nothing."""

    __slots__ = ("max_messages_in_short_term_memory", "max_tokens_in_short_term_memory", "model",
                 "enable_long_term_memory", "instructions", "_histories", "store", "max_cached_conversations")

    def __init__(self, max_messages_in_short_term_memory: int | None = 1000,
                 max_tokens_in_short_term_memory: int | None = 100000, model: Any = None,
                 enable_long_term_memory: bool = False, tenant: str | None = None,
                 store_path: str | None = None, *, store: BatchingStore | None = None,
                 max_cached_conversations: int | None = None) -> None:
        if enable_long_term_memory and store is None:
            # upstream's long-term memory: a store even where the node has none configured (a standalone
            # script); SQLite at store_path, else $AUTONOMY_MEMORY_DB, else the default data folder
            from autonomy.memory.config import long_term_store

            store = long_term_store(tenant or "default", store_path)
        for name, value in (("max_messages_in_short_term_memory", max_messages_in_short_term_memory),
                            ("max_tokens_in_short_term_memory", max_tokens_in_short_term_memory)):
            if value is not None and (not isinstance(value, int) or value < 1):
                raise ValueError(f"Memory: {name} must be a positive integer or None, not {value!r}")
        self.max_messages_in_short_term_memory = max_messages_in_short_term_memory
        self.max_tokens_in_short_term_memory = max_tokens_in_short_term_memory
        self.model = model
        self.enable_long_term_memory = store is not None
        if max_cached_conversations is not None and (not isinstance(max_cached_conversations, int)
                                                      or max_cached_conversations < 1):
            raise ValueError(f"Memory: max_cached_conversations must be a positive integer or None, "
                             f"not {max_cached_conversations!r}")
        self.instructions: dict[str, Any] | None = None
        self._histories: OrderedDict[tuple[str, str], _History] | None = None
        self.store = store
        self.max_cached_conversations = max_cached_conversations

    async def initialize_database(self, max_retries: int = 3) -> None:
        """Connect to the store, if any, and create its tables (raises MemoryStoreError)."""
        if self.store is not None:
            await self.store.open()

    # ---- the store ------------------------------------------------------------------------------

    async def hold(self, scope: str, conversation: str) -> None:
        """Keep the conversation in RAM until :meth:`release` (loading it from the store if it left)."""
        key = (scope, conversation)
        history = (self._histories or _NONE).get(key)
        if history is None and self.store is not None:
            stored = await self.store.load(scope, conversation)
            history = (self._histories or _NONE).get(key)  # another turn may have loaded it meanwhile
            if history is None:
                history = self._history(scope, conversation)
                if stored is not None:
                    history.messages = stored.messages
                    history.converted = None
                    history.tokens = [estimate_tokens(m) for m in stored.messages]
                    history.first_seq = stored.first_seq
                    history.state = stored.state
                    # stored under a larger limit (another agent, an earlier deploy): this memory's limit holds
                    if self._trim(history):
                        self.store.trim_nowait(scope, conversation, history.first_seq)
        elif history is None:
            history = self._history(scope, conversation)
        else:
            self._histories.move_to_end(key)  # type: ignore[union-attr]
        history.holds += 1
        self._evict()

    def release(self, scope: str, conversation: str) -> None:
        """The end of a :meth:`hold`: the conversation may leave RAM again."""
        history = (self._histories or _NONE).get((scope, conversation))
        if history is not None and history.holds > 0:
            history.holds -= 1

    def _evict(self) -> None:
        limit, histories = self.max_cached_conversations, self._histories
        if self.store is None or limit is None or histories is None or len(histories) <= limit:
            return
        excess, victims = len(histories) - limit, []
        for key, history in histories.items():  # oldest first; held ones stay
            if history.holds == 0:
                victims.append(key)
                if len(victims) >= excess:
                    break
        for key in victims:
            del histories[key]

    async def flush(self) -> None:
        """Write the queued changes to the store (nothing without one). Raises MemoryStoreError."""
        if self.store is not None:
            await self.store.flush()

    def state_nowait(self, scope: str, conversation: str) -> dict[str, Any] | None:
        """The saved paused turn of the conversation (it must be held or cached), or None."""
        history = (self._histories or _NONE).get((scope, conversation))
        return history.state if history is not None else None

    def set_state_nowait(self, scope: str, conversation: str, state: dict[str, Any] | None) -> None:
        """Save (or with None clear) the conversation's paused turn; queued for the store."""
        history = self._history(scope, conversation)
        if history.state is None and state is None:
            return
        history.state = state
        if self.store is not None:
            self.store.state_nowait(scope, conversation, state)

    def set_instructions(self, instructions: dict[str, Any] | None) -> None:
        """The system message put before every history by :meth:`get_messages`."""
        self.instructions = instructions

    # ---- writing --------------------------------------------------------------------------------

    def _history(self, scope: str, conversation: str) -> _History:
        histories = self._histories
        if histories is None:
            histories = self._histories = OrderedDict()
        history = histories.get((scope, conversation))
        if history is None:
            history = histories[(scope, conversation)] = _History()
        return history

    async def _cached(self, scope: str, conversation: str) -> None:
        """Bring the conversation into RAM from the store, if it has one and the conversation left."""
        if self.store is not None and (scope, conversation) not in (self._histories or _NONE):
            await self.hold(scope, conversation)
            self.release(scope, conversation)

    async def add_message(self, scope: str, conversation: str, message: dict[str, Any]) -> None:
        """Append ``message`` (a JSON dict; a ``timestamp`` is added if missing), then trim; with a
        store, the change is written before this returns."""
        await self._cached(scope, conversation)
        self.add_message_nowait(scope, conversation, message)
        await self.flush()

    def add_message_nowait(self, scope: str, conversation: str, message: dict[str, Any]) -> None:
        """:meth:`add_message` without the coroutine (it never waits)."""
        if not isinstance(message, dict):
            raise TypeError(f"Memory.add_message: message must be a dict, not {type(message).__name__}")
        message = dict(message)
        message.setdefault("timestamp", time.time())
        # Without a store the JSON text is needed only when the message is not plain JSON data (encoding
        # raises the TypeError) or holds a lone surrogate: ~7% of a remote agent turn otherwise
        text = encode(message) if self.store is not None or _plain_and_clean(message) is not True else None
        if text is not None:
            try:
                text.encode("utf-8")
            except UnicodeEncodeError:  # a lone surrogate (a tool's or a model's output): it could never be
                # stored nor sent to a model again, and would break every later turn; U+FFFD instead
                text = _LONE_SURROGATE.sub("\ufffd", text)
                message = decode(text)
        history = self._history(scope, conversation)
        if self.store is not None:
            self.store.append_encoded_nowait(scope, conversation, history.first_seq + len(history.messages),
                                             text)  # type: ignore[arg-type]
        history.messages.append(message)
        history.tokens.append(estimate_tokens(message))
        if self._trim(history) and self.store is not None:
            self.store.trim_nowait(scope, conversation, history.first_seq)

    async def add_messages(self, scope: str, conversation: str, messages: list[dict[str, Any]]) -> None:
        await self._cached(scope, conversation)
        for message in messages:
            self.add_message_nowait(scope, conversation, message)
        await self.flush()

    def _trim(self, history: _History) -> int:
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
            if history.converted is not None:
                del history.converted[1][:count]
            history.first_seq += count
            return count
        return 0

    # ---- reading --------------------------------------------------------------------------------

    async def get_messages(self, scope: str, conversation: str) -> list[dict[str, Any]]:
        """The instructions (if set) followed by the conversation's history."""
        history = await self.get_messages_only(scope, conversation)
        return ([self.instructions] if self.instructions else []) + history

    async def get_messages_only(self, scope: str, conversation: str) -> list[dict[str, Any]]:
        """A copy of the conversation's history, oldest first."""
        await self._cached(scope, conversation)
        return self.messages_nowait(scope, conversation)

    def messages_nowait(self, scope: str, conversation: str) -> list[dict[str, Any]]:
        history = (self._histories or _NONE).get((scope, conversation))
        return list(history.messages) if history else []

    def converted_nowait(self, scope: str, conversation: str, convert: Any) -> list[Any]:
        """``[convert(m) for m in messages_nowait(...)]``, converting each message once: the results are
        kept beside the history (in step with its trimming) while the same ``convert`` is asked for.
        ``convert`` must depend only on the message, and callers must not change what it returned
        (an agent's model context: its OpenAI form of each message, built once, not once per turn)."""
        history = (self._histories or _NONE).get((scope, conversation))
        if history is None:
            return []
        cached = history.converted
        if cached is None or cached[0] is not convert:
            cached = history.converted = (convert, [])
        done, messages = cached[1], history.messages
        if len(done) < len(messages):
            done.extend(convert(m) for m in messages[len(done):])
        return list(done)

    async def get_all_messages(self, scope: str, conversation: str, limit: int | None = None) -> list[dict[str, Any]]:
        await self._cached(scope, conversation)
        messages = self.messages_nowait(scope, conversation)
        return messages[-limit:] if limit else messages

    async def get_message_count(self, scope: str, conversation: str) -> int:
        await self._cached(scope, conversation)
        return self.message_count_nowait(scope, conversation)

    def message_count_nowait(self, scope: str, conversation: str) -> int:
        history = (self._histories or _NONE).get((scope, conversation))
        return len(history.messages) if history else 0

    async def list_conversations(self, scope: str | None = None, conversation: str | None = None,
                                 scope_prefix: str = "") -> list[tuple[str, str, list[dict[str, Any]]]]:
        """Like :meth:`conversations`, including the conversations that are only in the store."""
        if self.store is None:
            return self.conversations(scope, conversation, scope_prefix)
        return await self.store.conversations(scope_prefix, scope, conversation)

    def conversations(self, scope: str | None = None, conversation: str | None = None,
                      scope_prefix: str = "") -> list[tuple[str, str, list[dict[str, Any]]]]:
        """``(scope, conversation, messages)`` for every history in RAM matching the filters (None = any)."""
        out = []
        for (s, c), history in (self._histories or _NONE).items():
            if not s.startswith(scope_prefix):
                continue
            if scope is not None and s != scope_prefix + scope:
                continue
            if conversation is not None and c != conversation:
                continue
            if history.messages:
                out.append((s, c, list(history.messages)))
        return out

    async def clear_short_term_memory(self, scope: str | None = None, conversation: str | None = None) -> None:
        """Forget the given conversations in RAM, or all of them when called without arguments (a store
        keeps them: :meth:`delete_conversation` removes one from the store too)."""
        if scope is None and conversation is None and self.store is None:
            self._histories = None
        elif self._histories:
            # With a store a held conversation stays: its turn goes on numbering its messages.
            for key in [k for k, h in self._histories.items() if (scope is None or k[0] == scope)
                        and (conversation is None or k[1] == conversation)
                        and (self.store is None or h.holds == 0)]:
                del self._histories[key]

    async def delete_conversation(self, scope: str, conversation: str) -> None:
        """Forget the conversation, in RAM and in the store."""
        if self._histories:
            self._histories.pop((scope, conversation), None)
        if self.store is not None:
            self.store.delete_nowait(scope, conversation)
            await self.flush()

    async def get_metrics(self) -> dict[str, Any]:
        histories = self._histories or _NONE
        return {"conversations": len(histories),
                "messages": sum(len(h.messages) for h in histories.values()),
                "estimated_tokens": sum(sum(h.tokens) for h in histories.values()),
                "long_term_memory": self.enable_long_term_memory,
                "store": self.store.description if self.store else None}

    async def health_check(self) -> dict[str, Any]:
        if self.store is not None:
            try:
                await self.store.flush()
            except Exception as exc:  # MemoryStoreError: reported, not raised
                return {"status": "unhealthy", "short_term_memory": True, "store": str(exc)}
        return {"status": "healthy", "short_term_memory": True, "long_term_memory": self.enable_long_term_memory,
                "store": self.store.description if self.store else None}
