"""Errors of agents (upstream ``autonomy.agents.errors``); the whole tree is drawn in :mod:`autonomy.errors`.

    AgentNotFound (WorkerNotFound)         no agent, flow or tool of that name on the node (404)
    AgentError (AutonomyError)             the agent answered with an error (its message is the text)
    AgentTimeoutError (AutonomyError, asyncio.TimeoutError)
    ├── AgentStartTimeoutError             Agent.start(..., timeout=) expired
    ├── AgentStopTimeoutError              Agent.stop(..., timeout=, raise_on_timeout=True) expired
    └── SendMessageTimeoutError            AgentReference.send_message(..., timeout=) could not send in time
"""

from __future__ import annotations

import asyncio
from typing import Any

from autonomy.errors import AutonomyError, WorkerNotFound

__all__ = ["AgentNotFound", "AgentError", "AgentTimeoutError", "AgentStartTimeoutError", "AgentStopTimeoutError",
           "SendMessageTimeoutError"]


class AgentNotFound(WorkerNotFound):
    """No agent (or flow, or tool: ``kind``) named ``name`` on this node; ``hint`` says where to look."""

    def __init__(self, name: str, kind: str = "Agent",
                 hint: str = "GET /agents lists the agents of this node") -> None:
        self.kind = kind
        super().__init__(name)
        self.args = (f"{kind} {name!r} not found on this node" + (f": {hint}" if hint else ""),)


class AgentError(AutonomyError):
    """The agent replied with an error (``Reached max_iterations``, ``Model completion failed: ...``)."""

    http_status = 500

    def __init__(self, message: str, agent_name: str | None = None) -> None:
        self.message = message
        self.agent_name = agent_name
        super().__init__(message)


class AgentTimeoutError(AutonomyError, asyncio.TimeoutError):
    """An agent operation did not finish within ``timeout`` seconds.

    ``method`` names the operation, ``context`` a dict of what it was about (agent name, scope).
    """

    http_status = 504
    suggestion = "Increase the timeout, or check that the agent and its model are responsive."

    def __init__(self, method: str, timeout: float | None, context: dict[str, Any] | None = None,
                 message: str | None = None) -> None:
        self.method = method
        self.timeout = timeout
        self.context = context or {}
        if message is None:
            message = f"{method} timed out after {timeout}s."
            if self.context:
                message += " Context: " + ", ".join(f"{k}: {v}" for k, v in self.context.items()) + "."
            message += " " + self.suggestion
        self.message = message
        super().__init__(message)


class AgentStartTimeoutError(AgentTimeoutError):
    suggestion = "Increase Agent.start(timeout=...), or check the node is responsive."

    def __init__(self, timeout: float | None, agent_name: str | None = None) -> None:
        self.agent_name = agent_name
        super().__init__("Agent.start()", timeout, {"agent_name": agent_name} if agent_name else None)


class AgentStopTimeoutError(AgentTimeoutError):
    suggestion = "Increase Agent.stop(timeout=...); the agent may be busy with a long turn."

    def __init__(self, timeout: float | None, agent_name: str | None = None) -> None:
        self.agent_name = agent_name
        super().__init__("Agent.stop()", timeout, {"agent_name": agent_name} if agent_name else None)


class SendMessageTimeoutError(AgentTimeoutError):
    suggestion = "Increase the timeout, or check that the agent's node is reachable."

    def __init__(self, timeout: float | None, agent_name: str | None = None) -> None:
        self.agent_name = agent_name
        super().__init__("AgentReference.send_message()", timeout,
                         {"agent_name": agent_name} if agent_name else None)
