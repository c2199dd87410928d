"""Dynamic planning (upstream's ``DynamicPlanner``): before each step the model is asked whether the task is
done; if not, it suggests only the next step. At most ``DynamicPlan.MAX_STEPS`` steps."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

from autonomy.agents.protocol import AssistantMessage, SystemMessage, UserMessage
from autonomy.planning.protocol import Plan
from autonomy.planning.utils import answer_text, complete_think_chat, context_messages, task_of

__all__ = ["DynamicPlanner", "DynamicPlan"]

IS_DONE = """Decide whether the task in the <task> tag has been completed by the conversation so far.
Answer only "yes" or "no"."""
NEXT_STEP = """Suggest ONLY the next logical step towards the task in the <task> tag, for someone else to
carry out: say WHAT to do next, abstractly, in one sentence; do not do it."""


class DynamicPlan:
    MAX_STEPS = 10

    def __init__(self, model: Any, initial_query: str, stream: bool = False) -> None:
        self.model, self.initial_query, self.stream = model, initial_query, stream
        self.step_counter = 0
        self.objective_completed = False

    async def next_step(self, messages: list[Any], contextual_knowledge: str | None) -> AsyncIterator[Any]:
        if self.objective_completed or self.step_counter >= self.MAX_STEPS:
            return
        self.step_counter += 1
        history = context_messages(messages, contextual_knowledge)
        task = UserMessage(f"<task>{self.initial_query}</task>")
        verdict = await self.model.complete_chat([*history, SystemMessage(IS_DONE), task], temperature=0)
        if answer_text(verdict).strip().lower().startswith("yes"):
            self.objective_completed = True
            return
        prompt = [*history, SystemMessage(NEXT_STEP), task,
                  AssistantMessage(f'<think>The next logical step for the task "{self.initial_query}" is ')]
        async for message in complete_think_chat(self.model, prompt, self.stream):
            yield message


class DynamicPlanner:
    """``DynamicPlanner(model=None)``: ``model`` defaults to ``Model("deepseek-r1")`` as upstream."""

    def __init__(self, model: Any = None) -> None:
        if model is None:
            from autonomy.models import Model

            model = Model("deepseek-r1")
        self.model = model

    async def plan(self, messages: list[Any], contextual_knowledge: str | None, stream: bool = False) -> Plan:
        return DynamicPlan(self.model, task_of(messages), stream)
