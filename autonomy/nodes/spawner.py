"""Agent spawners: one worker per scope/conversation behind a single agent name (spec §3.2)."""

from __future__ import annotations

import inspect
import json
from collections import OrderedDict
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from autonomy.nodes.address import random_tagged
from autonomy.nodes.cells import WorkerCell

if TYPE_CHECKING:
    from autonomy.nodes.node import Node
    from autonomy.nodes.protocol import Worker

__all__ = ["Spawner", "scope_and_conversation"]

AgentFactory = Callable[[str, str], "Worker | Any"]
KeyExtractor = Callable[[str], "str | None"]


def scope_and_conversation(message: str) -> tuple[str, str]:
    """The scope and conversation a message belongs to, read from its top level or its ``snippet``;
    ``"default"`` for what is missing or empty."""
    try:
        data = json.loads(message)
    except ValueError:
        return "default", "default"
    if not isinstance(data, dict):
        return "default", "default"
    source = data if data.get("scope") or data.get("conversation") else data.get("snippet") or {}
    if not isinstance(source, dict):
        source = {}
    return str(source.get("scope") or "default"), str(source.get("conversation") or "default")


class Spawner:
    """The worker at an agent's name.

    For each message it asks ``key_extractor`` for a key; the routing key is ``"{name}/{key}"`` (or
    ``name`` when the key is None). The first message of a key creates its worker with
    ``factory(scope, conversation)`` (sync or async); later messages go to the same worker, so each
    conversation is ordered while different conversations run in parallel. Routing never waits for
    a conversation's worker: only worker creation is serialized.

    A conversation worker may answer some messages at once, outside its queue: when it has
    ``answer_now(message) -> str | None`` (or an awaitable of it) and that returns a reply
    (read-only queries such as an agent's conversation state, which must not wait behind a running turn).

    With ``max_idle_workers``, at most that many conversation workers are kept: when a new one is
    made, the least recently used idle ones are stopped (their conversations' state must live
    elsewhere, e.g. in the agent's memory); a later message of theirs makes a new worker.
    """

    def __init__(self, node: Node, name: str, factory: AgentFactory, key_extractor: KeyExtractor,
                 exposed_as: str | None = None, max_idle_workers: int | None = None) -> None:
        self.node = node
        self.name = name
        self.factory = factory
        self.key_extractor = key_extractor
        self.exposed_as = exposed_as
        self.max_idle_workers = max_idle_workers
        self.workers: OrderedDict[str, WorkerCell] = OrderedDict()

    async def handle_message(self, context: Any, message: str) -> None:
        key = self.key_extractor(message)
        routing_key = f"{self.name}/{key}" if key else self.name
        cell = self.workers.get(routing_key)
        if cell is None:
            scope, conversation = scope_and_conversation(message)
            worker = self.factory(scope, conversation)
            if inspect.isawaitable(worker):
                worker = await worker
            cell = WorkerCell(self.node, random_tagged(self.name), worker, internal=True)
            self.node._routes[cell.address] = cell
            self.workers[routing_key] = cell
            if self.max_idle_workers is not None and len(self.workers) > self.max_idle_workers:
                await self._evict()
        elif self.max_idle_workers is not None:
            self.workers.move_to_end(routing_key)
        answer_now = getattr(cell.worker, "answer_now", None)
        if answer_now is not None:
            reply = answer_now(message)
            if inspect.isawaitable(reply):
                reply = await reply
            if reply is not None:
                if context.reply_to is not None:
                    await context.reply_to.reply(reply)
                return
        cell.deliver(message, context.reply_to)

    async def _evict(self) -> None:
        excess, victims = len(self.workers) - (self.max_idle_workers or 0), []
        for key, cell in self.workers.items():  # least recently used first; busy ones stay
            if not cell.busy:
                victims.append(key)
                if len(victims) >= excess:
                    break
        for key in victims:
            cell = self.workers.pop(key)
            self.node._routes.pop(cell.address, None)
            await cell.stop()

    async def stop(self) -> None:
        """Stop every conversation worker of this agent."""
        cells, self.workers = list(self.workers.values()), OrderedDict()
        for cell in cells:
            self.node._routes.pop(cell.address, None)
            await cell.stop()

    def describe(self) -> dict[str, Any]:
        """The agent as upstream lists it: ``{"name", "is_remote", "description", "workers"}``."""
        return {"name": self.name, "is_remote": False, "description": self.exposed_as,
                "workers": list(self.workers)}
