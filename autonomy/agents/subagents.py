"""Subagents: an agent delegating work to agents it starts, here or on other nodes (spec §1.5, §1.3).

``Agent.start(..., subagents={"researcher": {"instructions": "..."}}, subagent_runner_filter=None)``
gives the agent five tools: ``start_subagent(role)``, ``delegate_to_subagent(role, task, timeout)``,
``delegate_to_subagents_parallel(role, tasks, timeout, runner_filter)``, ``list_subagents()`` and
``stop_subagent(role)``. A ``SubagentConfig`` is a dict: ``instructions`` (required), and optionally
``model`` (default: the parent's), ``tools``, ``max_iterations``, ``max_execution_time``, the memory
limits, ``enable_long_term_memory``, ``auto_start`` (default True: delegating to a role not started
yet starts it) and ``runner_filter``.

* A role's subagent is named ``{parent}__subagent__{role}__{hex12}``, started once (a lock per role)
  and reused by ``delegate_to_subagent``; each task goes to its own conversation.
* ``delegate_to_subagents_parallel`` starts one fresh subagent per task, runs all tasks at once and
  stops them after. With a runner filter (the call's, else the role's ``runner_filter``, else the
  agent's ``subagent_runner_filter``) the subagents are spread round-robin over
  ``Zone.nodes(node, filter)``: the seed's "delegate work to other nodes", at agent level. Upstream's
  version of this is broken (§10.7); ours works. No runner matching the filter is an error for
  the model, naming the filter (never a silent fallback to the local node).
* Results: ``[{"task", "result" | "error", "subagent", "success"}]`` in the order of the tasks.
"""

from __future__ import annotations

import asyncio
import copy
import json
import logging
import secrets
from typing import Any

from autonomy.agents.protocol import content_text

__all__ = ["Subagents", "SubagentConfig"]

logger = logging.getLogger("autonomy.agents.subagents")

SubagentConfig = dict[str, Any]

_PASSED = ("tools", "max_iterations", "max_execution_time", "max_messages_in_short_term_memory",
           "max_tokens_in_short_term_memory", "enable_long_term_memory", "enable_ask_for_user_input",
           "enable_filesystem", "filesystem_visibility", "context_summary")


def _fresh(tool: Any) -> Any:
    """A shallow copy of ``tool`` without the node an agent gave it (tools travel to runners by value)."""
    if getattr(tool, "node", None) is None:
        return tool
    copied = copy.copy(tool)
    copied.node = None
    return copied


class Subagents:
    """The subagents of one agent (``agent.subagents``); their tools are :meth:`tools`."""

    def __init__(self, agent: Any, configs: dict[str, SubagentConfig], runner_filter: str | None = None) -> None:
        self.agent = agent
        self.configs = configs
        self.runner_filter = runner_filter
        self.running: dict[str, Any] = {}  # role -> AgentReference
        self._locks: dict[str, asyncio.Lock] = {}

    def _config(self, role: str) -> SubagentConfig:
        config = self.configs.get(role)
        if config is None:
            raise ValueError(f"no subagent role {role!r}: the roles are {', '.join(sorted(self.configs))}")
        return config

    async def _start(self, role: str, node: Any) -> Any:
        from autonomy.agents.agent import Agent

        config = self._config(role)
        name = f"{self.agent.name}__subagent__{role}__{secrets.token_hex(6)}"
        kwargs = {key: config[key] for key in _PASSED if key in config}
        if kwargs.get("tools"):  # each subagent its own copies: a tool given a node stays picklable for the next
            kwargs["tools"] = [_fresh(tool) for tool in kwargs["tools"]]
        model = config.get("model") or self.agent.model
        return await Agent.start(node, config["instructions"], name=name, model=model, **kwargs)

    async def start_subagent(self, role: str) -> str:
        """Start the subagent of a role (once; later calls reuse it). Returns its name."""
        self._config(role)
        async with self._locks.setdefault(role, asyncio.Lock()):
            if role not in self.running:
                self.running[role] = await self._start(role, self.agent.node)
            return str(self.running[role].name)

    async def delegate_to_subagent(self, role: str, task: str, timeout: float = 60) -> str:
        """Give a task to the subagent of a role and return its answer."""
        config = self._config(role)
        if role not in self.running:
            if not config.get("auto_start", True):
                raise ValueError(f"subagent {role!r} is not running: call start_subagent first")
            await self.start_subagent(role)
        reference = self.running[role]
        messages = await reference.send(task, scope="subagent", conversation=secrets.token_hex(8),
                                        timeout=float(timeout))
        return content_text(messages[-1].content) if messages else ""

    async def _runners(self, runner_filter: str | None) -> list[Any]:
        if not runner_filter:
            return [self.agent.node]
        from autonomy.nodes.discovery import Zone

        runners = await Zone.nodes(self.agent.node, filter=runner_filter)
        if not runners:
            raise ValueError(f"no node of this zone matches the runner filter {runner_filter!r}: check the pod "
                             "names in autonomy.yaml, or delegate without a runner filter")
        return list(runners)

    async def delegate_to_subagents_parallel(self, role: str, tasks: list[str], timeout: float = 60,
                                             runner_filter: str | None = None) -> list[dict[str, Any]]:
        """Give each task to a fresh subagent of a role, all at once (spread over the runner nodes
        matching runner_filter, if any); returns one result per task, in order."""
        config = self._config(role)
        if not isinstance(tasks, list) or not all(isinstance(t, str) for t in tasks):
            raise ValueError("tasks must be a list of strings")
        runners = await self._runners(runner_filter or config.get("runner_filter") or self.runner_filter)

        async def one(i: int, task: str) -> dict[str, Any]:
            from autonomy.agents.agent import Agent

            node = runners[i % len(runners)]
            reference = None
            try:
                reference = await self._start(role, node)
                messages = await reference.send(task, scope="subagent", conversation=secrets.token_hex(8),
                                                timeout=float(timeout))
                result = content_text(messages[-1].content) if messages else ""
                return {"task": task, "result": result, "subagent": reference.name, "success": True}
            except Exception as exc:
                return {"task": task, "error": f"{type(exc).__name__}: {exc}",
                        "subagent": getattr(reference, "name", None), "success": False}
            finally:
                if reference is not None:
                    try:
                        await Agent.stop(node, reference.name, timeout=30)
                    except Exception as exc:  # the result stands; the leftover agent is logged
                        logger.warning("could not stop subagent %r: %s", reference.name, exc)

        return list(await asyncio.gather(*(one(i, t) for i, t in enumerate(tasks))))

    async def stop_subagent(self, role: str) -> str:
        """Stop the subagent of a role."""
        from autonomy.agents.agent import Agent

        self._config(role)
        reference = self.running.pop(role, None)
        if reference is None:
            return f"subagent {role!r} was not running"
        await Agent.stop(self.agent.node, reference.name, timeout=30)
        return f"stopped subagent {role!r} ({reference.name})"

    async def list_subagents(self) -> dict[str, Any]:
        """The configured roles, the running ones, and details of each."""
        return {"configured": sorted(self.configs), "running": sorted(self.running),
                "details": {role: {"instructions": config["instructions"][:200],
                                   "running": role in self.running,
                                   "name": getattr(self.running.get(role), "name", None)}
                            for role, config in sorted(self.configs.items())}}

    async def cleanup(self) -> None:
        """Stop every running subagent."""
        for role in list(self.running):
            await self.stop_subagent(role)

    def tools(self) -> list[Any]:
        """The five tools, as the model sees them (results as text: JSON for lists and dicts)."""
        from autonomy.tools.tool import Tool

        subagents = self

        async def start_subagent(role: str) -> str:
            """Start the subagent of a role (it is reused until stopped). Returns its name."""
            return await subagents.start_subagent(role)

        async def delegate_to_subagent(role: str, task: str, timeout: float = 60) -> str:
            """Give a task to the subagent of a role and return its answer. The subagent does not see
            this conversation: put everything it needs in the task."""
            return await subagents.delegate_to_subagent(role, task, timeout)

        async def delegate_to_subagents_parallel(role: str, tasks: list[str], timeout: float = 60,
                                                 runner_filter: str | None = None) -> str:
            """Give each of several independent tasks to its own subagent of a role, all in parallel
            (optionally on the nodes whose names contain runner_filter). Returns a JSON list with, per
            task, its result or error."""
            return json.dumps(await subagents.delegate_to_subagents_parallel(role, tasks, timeout, runner_filter))

        async def list_subagents() -> str:
            """List the subagent roles, and which are running (JSON)."""
            return json.dumps(await subagents.list_subagents())

        async def stop_subagent(role: str) -> str:
            """Stop the subagent of a role."""
            return await subagents.stop_subagent(role)

        return [Tool(f) for f in (start_subagent, delegate_to_subagent, delegate_to_subagents_parallel,
                                  list_subagents, stop_subagent)]
