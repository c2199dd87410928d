"""What a planner is (upstream's ``autonomy.planning.protocol``): a ``Planner`` turns a conversation into a
``Plan``; a ``Plan`` yields the messages of its next step each time it is asked, and nothing once done."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any, Protocol, runtime_checkable

__all__ = ["Plan", "Planner"]


@runtime_checkable
class Plan(Protocol):
    def next_step(self, messages: list[Any], contextual_knowledge: str | None) -> AsyncIterator[Any]:
        """Messages (``Phase.PLANNING``) of the next step; an empty iteration when the plan is done."""
        ...


@runtime_checkable
class Planner(Protocol):
    async def plan(self, messages: list[Any], contextual_knowledge: str | None, stream: bool = False) -> Plan:
        """A plan for the task in the last message, which must be the user's (ValueError otherwise)."""
        ...
