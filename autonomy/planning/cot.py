"""Chain-of-thought planning (upstream's ``CoTPlanner``): one answer of the model with the whole plan."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

from autonomy.agents.protocol import AssistantMessage, SystemMessage, UserMessage
from autonomy.planning.protocol import Plan
from autonomy.planning.utils import STEPS_INSTRUCTIONS, complete_think_chat, context_messages, task_of

__all__ = ["CoTPlanner", "CotPlan"]


class CotPlan:
    """Yields the model's plan once; later steps are empty."""

    def __init__(self, model: Any, query: str, stream: bool = False) -> None:
        self.model, self.query, self.stream = model, query, stream
        self.already_planned = False

    async def next_step(self, messages: list[Any], contextual_knowledge: str | None) -> AsyncIterator[Any]:
        if self.already_planned:
            return
        self.already_planned = True
        prompt = [*context_messages(messages, contextual_knowledge),
                  SystemMessage(STEPS_INSTRUCTIONS + "\nStart with a one-line overview, then number the steps."),
                  UserMessage(self.query),
                  AssistantMessage(f'<think>I need to plan the task "{self.query}". ')]
        async for message in complete_think_chat(self.model, prompt, self.stream):
            yield message


class CoTPlanner:
    """``CoTPlanner(model=None)``: ``model`` defaults to ``Model("deepseek-r1")`` as upstream."""

    def __init__(self, model: Any = None) -> None:
        if model is None:
            from autonomy.models import Model

            model = Model("deepseek-r1")
        self.model = model

    async def plan(self, messages: list[Any], contextual_knowledge: str | None, stream: bool = False) -> Plan:
        return CotPlan(self.model, task_of(messages), stream=stream)
