"""The conversation state machine of an agent (spec §1.3).

    READY -> THINKING (call the model) -> ACTING (run its tool calls, in order) -> THINKING -> ...
          -> DONE (the model answered without tool calls)
    ACTING -> WAITING_FOR_INPUT (ask_user_for_input was called: the turn ends, the conversation is
              paused; the user's next message becomes that tool call's result) -> ACTING -> ...

One :class:`StateMachine` exists per conversation with a turn in progress or paused; it lives in the
conversation's worker, so it is only touched by one message at a time.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

__all__ = ["State", "StateMachine"]


class State(StrEnum):
    READY = "ready"
    THINKING = "thinking"
    ACTING = "acting"
    WAITING_FOR_INPUT = "waiting_for_input"
    DONE = "done"


@dataclass
class StateMachine:
    """Where a conversation's turn is.

    ``iterations`` counts model calls in the turn; ``elapsed`` is the execution time used so far
    (seconds, time paused for input excluded); ``pending_tool_calls`` are the calls still to run
    after the paused ``ask_user_for_input`` call ``paused_call_id``. ``interrupted`` is set when a
    new message replaces a turn that did not finish (upstream's "interrupted by new message").
    """

    scope: str
    conversation: str
    state: State = State.READY
    iterations: int = 0
    elapsed: float = 0.0
    pending_tool_calls: list[Any] = field(default_factory=list)
    paused_call_id: str | None = None
    interrupted: bool = False

    @property
    def is_paused(self) -> bool:
        return self.state is State.WAITING_FOR_INPUT

    @property
    def is_active(self) -> bool:
        return self.state in (State.THINKING, State.ACTING)

    def transition(self, state: State) -> None:
        self.state = state

    def to_dict(self) -> dict[str, Any]:
        """The paused turn as JSON (what the conversation store keeps to resume it after a restart)."""
        return {"state": self.state.value, "iterations": self.iterations, "elapsed": self.elapsed,
                "paused_call_id": self.paused_call_id,
                "pending_tool_calls": [{"id": c.id, "name": c.function.name, "arguments": c.function.arguments}
                                       for c in self.pending_tool_calls]}

    @classmethod
    def from_dict(cls, scope: str, conversation: str, data: dict[str, Any]) -> StateMachine:
        """The machine :meth:`to_dict` saved."""
        from autonomy.nodes.message import FunctionToolCall, ToolCall

        calls = [ToolCall(c["id"], FunctionToolCall(c["name"], c.get("arguments") or ""))
                 for c in data.get("pending_tool_calls") or []]
        return cls(scope, conversation, State(data["state"]), int(data.get("iterations", 0)),
                   float(data.get("elapsed", 0.0)), calls, data.get("paused_call_id"))
