"""Agents started by another node, through its node controller (``RemoteNode.start_agent(s)``).

The node controller belongs to the node runtime, which knows nothing of agents: these methods are
plugged into it by :mod:`autonomy.assembly` (see :mod:`autonomy.nodes.extensions`).
"""

from __future__ import annotations

from typing import Any

from autonomy.agents.agent import Agent

__all__ = ["start_agent", "start_agents"]


async def start_agent(node: Any, *args: Any, **kwargs: Any) -> str:
    """``Agent.start(node, ...)``; returns the agent's name (a reference does not travel)."""
    reference = await Agent.start(node, *args, **kwargs)
    return reference.name


async def start_agents(node: Any, *args: Any, **kwargs: Any) -> list[str]:
    """``Agent.start_many(node, ...)``; returns the agents' names."""
    references = await Agent.start_many(node, *args, **kwargs)
    return [reference.name for reference in references]
