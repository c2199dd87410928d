"""``SummarizedHistorySection``: long conversations as a summary plus the recent messages (spec §1.7).

``SummarizedHistorySection(summary_model, floor=10, ceiling=20, size=2048, instructions=None)``.
A conversation of at most ``ceiling`` messages is shown whole. Beyond that, the model sees
``[summary] + recent`` where the recent part starts right after the last summarized message (no
message is hidden), and is between ``floor`` and ``ceiling`` messages long.

Summaries are made in the background by ``summary_model`` (``size`` = its ``max_tokens``), so a turn
never waits for one: the turn that crosses the ceiling still sees every message, the next ones see
the summary. A new summary folds the previous summary and the messages since then into one, so
memory trimming older messages does not lose what they said. ``instructions`` replaces the prompt;
it must contain ``{conversation}``.

Our decisions: a failed summarization is logged (``last_error``) and the section keeps showing every
message until a later one succeeds (upstream puts a placeholder summary in, hiding the messages);
the recent part never starts with a tool result (it then starts at the assistant message that
called the tool). :meth:`wait_idle` returns when no summarization runs (tests, shutdown).
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any, TypedDict

from autonomy.errors import ConfigError

__all__ = ["SummarizedHistorySection", "ContextSummaryConfig", "SUMMARY_INSTRUCTIONS"]

logger = logging.getLogger("autonomy.agents.context")

SUMMARY_INSTRUCTIONS = """Summarize this conversation so far, concisely, for the assistant who continues it.
Keep: what the user asked and wants, facts and decisions established, open questions, anything needed to answer
follow-up questions. Use short bullet points.

{conversation}

Summary:"""


class ContextSummaryConfig(TypedDict, total=False):
    """``Agent.start(context_summary=...)`` as a dict (or ``True`` for these defaults)."""

    floor: int
    ceiling: int
    size: int
    model: Any
    instructions: str


def _text(message: dict[str, Any]) -> str:
    content = message.get("content")
    if isinstance(content, dict):
        return str(content.get("text") or "")
    return content if isinstance(content, str) else ""


def _marker(message: dict[str, Any]) -> tuple[Any, str, str]:
    return message.get("timestamp"), str(message.get("role")), _text(message)


def transcript(messages: list[dict[str, Any]]) -> str:
    """Messages as ``Role: text`` lines (tool results left out, tool calls named)."""
    lines = []
    for message in messages:
        role = str(message.get("role") or "user")
        if role == "tool":
            continue
        text = _text(message)[:2000]
        calls = message.get("tool_calls") or []
        if calls:
            names = ", ".join(str((c.get("function") or {}).get("name")) for c in calls if isinstance(c, dict))
            lines.append(f"Assistant: [used tools: {names}]")
        if text:
            lines.append(f"{role.capitalize()}: {text}")
    return "\n".join(lines)


def _response_text(response: Any) -> str:
    choices = response.get("choices") if isinstance(response, dict) else getattr(response, "choices", None)
    if choices:
        message = choices[0].get("message") if isinstance(choices[0], dict) else getattr(choices[0], "message", None)
        content = message.get("content") if isinstance(message, dict) else getattr(message, "content", None)
        return str(content or "")
    return str(getattr(response, "content", response) or "")


class _State:
    __slots__ = ("summary", "marker", "count", "task")

    def __init__(self) -> None:
        self.summary = ""
        self.marker: tuple[Any, str, str] | None = None  # the last summarized message
        self.count = 0  # messages summarized so far
        self.task: asyncio.Task[None] | None = None


class SummarizedHistorySection:
    """The conversation history, summarized beyond ``ceiling`` messages (see the module docstring)."""

    def __init__(self, summary_model: Any = None, floor: int = 10, ceiling: int = 20, size: int = 2048,
                 instructions: str | None = None, enabled: bool = True) -> None:
        for field, value in (("floor", floor), ("ceiling", ceiling), ("size", size)):
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ConfigError(f"SummarizedHistorySection: {field} must be a positive integer, not {value!r}")
        if floor >= ceiling:
            raise ConfigError(f"SummarizedHistorySection: floor ({floor}) must be less than ceiling ({ceiling})")
        if instructions is not None and (not isinstance(instructions, str) or "{conversation}" not in instructions):
            raise ConfigError("SummarizedHistorySection: instructions must be a prompt containing '{conversation}', "
                              "where the conversation goes")
        if summary_model is not None and not callable(getattr(summary_model, "complete_chat", None)):
            raise ConfigError(f"SummarizedHistorySection: summary_model must be a Model, not {summary_model!r}")
        self.name = "conversation_history"
        self.enabled = enabled
        self.summary_model = summary_model
        self.floor, self.ceiling, self.size = floor, ceiling, size
        self.instructions = instructions or SUMMARY_INSTRUCTIONS
        self.last_error: str | None = None
        self._states: dict[tuple[str, str], _State] = {}

    def set_enabled(self, enabled: bool) -> None:
        self.enabled = enabled

    @staticmethod
    def _start_of_recent(messages: list[dict[str, Any]], state: _State) -> int:
        if state.marker is None:
            return 0
        for i in range(len(messages) - 1, -1, -1):
            if _marker(messages[i]) == state.marker:
                return i + 1
        return 0  # the last summarized message was trimmed away: everything left is newer

    async def get_messages(self, memory: Any, scope: str, conversation: str,
                           params: dict[str, Any]) -> list[dict[str, Any]]:
        if not self.enabled:
            return []
        messages = await memory.get_messages_only(scope, conversation)
        params["conversation_message_count"] = len(messages)
        state = self._states.get((scope, conversation))
        start = self._start_of_recent(messages, state) if state and state.summary else 0
        if len(messages) - start > self.ceiling:
            model = self.summary_model or params.get("model")
            if model is not None:
                self._schedule(scope, conversation, messages, start, model)
        state = self._states.get((scope, conversation))
        if state is None or not state.summary:
            return messages
        while 0 < start < len(messages) and messages[start].get("role") == "tool":
            start -= 1  # keep tool results with the assistant message that called them
        summary = {"role": "system", "content": {"type": "text", "text": (
            f"[Summary of the {state.count} earlier messages of this conversation]\n{state.summary}\n"
            "[End of summary: the recent messages follow]")}, "phase": "system"}
        return [summary, *messages[start:]]

    def _schedule(self, scope: str, conversation: str, messages: list[dict[str, Any]], start: int,
                  model: Any) -> None:
        state = self._states.setdefault((scope, conversation), _State())
        if state.task is not None and not state.task.done():
            return
        end = len(messages) - self.floor
        batch = messages[start:end]
        state.task = asyncio.get_running_loop().create_task(
            self._summarize(state, batch, model), name=f"summarize {scope}/{conversation}")

    async def _summarize(self, state: _State, batch: list[dict[str, Any]], model: Any) -> None:
        text = transcript(batch)
        if state.summary:
            text = f"Summary of the earlier part:\n{state.summary}\n\nWhat followed:\n{text}"
        try:
            response = await model.complete_chat(
                [{"role": "user", "content": self.instructions.replace("{conversation}", text)}],
                stream=False, max_tokens=self.size)
            summary = _response_text(response).strip()
            if not summary:
                raise ValueError("the model returned an empty summary")
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # owned here: logged and kept, the section shows all messages meanwhile
            self.last_error = f"{type(exc).__name__}: {exc}"
            logger.warning("conversation summary failed (all messages stay in the context): %s", self.last_error)
            return
        state.summary = summary
        state.marker = _marker(batch[-1])
        state.count += len(batch)
        self.last_error = None

    async def wait_idle(self) -> None:
        """Return when no summarization is running."""
        tasks = [s.task for s in self._states.values() if s.task is not None and not s.task.done()]
        if tasks:
            await asyncio.gather(*tasks, return_exceptions=True)

    def clear_cache(self, scope: str | None = None, conversation: str | None = None) -> None:
        if scope is not None and conversation is not None:
            self._states.pop((scope, conversation), None)
        else:
            self._states.clear()

    def get_cache_info(self) -> dict[str, Any]:
        return {"cached_conversations": sum(1 for s in self._states.values() if s.summary),
                "pending_summarizations": sum(1 for s in self._states.values() if s.task and not s.task.done()),
                "conversations": [f"{k[0]}:{k[1]}" for k, s in self._states.items() if s.summary]}

    def __repr__(self) -> str:
        return f"<SummarizedHistorySection floor={self.floor} ceiling={self.ceiling}>"
