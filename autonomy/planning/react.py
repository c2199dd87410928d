"""ReAct planning (upstream's ``ReActPlanner``): the model writes the steps up front, each in a
``<step>...</step>`` tag; the plan hands them out one per ``next_step``."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from typing import Any

from autonomy.agents.protocol import Phase, SystemMessage, UserMessage
from autonomy.planning.protocol import Plan
from autonomy.planning.utils import STEPS_INSTRUCTIONS, answer_text, context_messages, task_of

__all__ = ["ReActPlanner", "ReActPlan", "parse_steps"]

ATTEMPTS = 3
_STEP = re.compile(r"<step>(.*?)(?:</step>|(?=<step>)|\Z)", re.DOTALL)


def parse_steps(text: str) -> list[str]:
    """The ``<step>`` contents of ``text``, in order (text outside the tags is left out; ``[]`` when none)."""
    steps = (step.strip() for step in _STEP.findall(text))
    return [step for step in steps if len(step) > 1]


class ReActPlan:
    """Yields one step (a user message in ``Phase.PLANNING``) per call; nothing once all were given
    (upstream raises IndexError there)."""

    def __init__(self, steps: list[str]) -> None:
        self.steps = steps
        self.step_index = 0

    async def next_step(self, messages: list[Any], contextual_knowledge: str | None) -> AsyncIterator[Any]:
        if self.step_index >= len(self.steps):
            return
        step = self.steps[self.step_index]
        self.step_index += 1
        yield UserMessage(step, phase=Phase.PLANNING)


class ReActPlanner:
    """``ReActPlanner(model=None)``: asks the model for ``<step>`` tags, up to 3 times; a model that never
    writes them gets the task itself as the only step."""

    def __init__(self, model: Any = None) -> None:
        if model is None:
            from autonomy.models import Model

            model = Model("deepseek-r1")
        self.model = model

    async def plan(self, messages: list[Any], contextual_knowledge: str | None, stream: bool = False) -> Plan:
        task = task_of(messages)
        prompt = [*context_messages([], contextual_knowledge),
                  SystemMessage(STEPS_INSTRUCTIONS + "\nWrite each step in a <step> tag, for example:\n"
                                "<step>Step 1: Do something</step>\n<step>Step 2: Do something else</step>"),
                  messages[-1]]
        for _ in range(ATTEMPTS):
            steps = parse_steps(answer_text(await self.model.complete_chat(prompt, temperature=0)))
            if steps:
                return ReActPlan(steps)
        return ReActPlan([task])
