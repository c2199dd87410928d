"""Agent spawners: one worker per scope/conversation behind a single agent name (spec §3.2)."""

from __future__ import annotations

import inspect
import json
from collections import OrderedDict
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import autonomy.tracing as tracing
from autonomy.nodes.address import random_tagged
from autonomy.nodes.cells import WorkerCell

if TYPE_CHECKING:
    from autonomy.nodes.node import Node
    from autonomy.nodes.protocol import Worker

__all__ = ["Spawner", "SpawnerCell", "scope_and_conversation"]

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
    Its ``may_answer_now(message) -> bool``, a cheap test, lets the other messages skip the spawner's
    queue (:class:`SpawnerCell`).

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

    def route_nowait(self, message: str) -> WorkerCell | None:
        """The cell of ``message``'s conversation worker when the message may go straight to its queue
        (the worker exists and will not answer it at once); None when it must be handled in order by
        :meth:`handle_message` (a new conversation, a query answered at once, anything unusual)."""
        try:
            key = self.key_extractor(message)
        except Exception:  # handle_message meets it again, and the sender learns of it
            return None
        cell = self.workers.get(f"{self.name}/{key}" if key else self.name)
        if cell is None:
            return None
        if getattr(cell.worker, "answer_now", None) is not None:
            may_answer = getattr(cell.worker, "may_answer_now", None)
            if may_answer is None or may_answer(message):
                return None
        if self.max_idle_workers is not None:
            self.workers.move_to_end(f"{self.name}/{key}" if key else self.name)
        return cell

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


class SpawnerCell(WorkerCell):
    """The cell at an agent's name. While nothing waits in its own queue (so the order of messages
    stays the same), a message for an existing conversation worker goes straight to that worker's
    queue: no task and no loop turn in the spawner per message (~5% of a remote agent turn,
    docs/benchmarks.md, "Scale"). Traced messages take the queue, where the spawner's span is made."""

    __slots__ = ()

    def deliver(self, message: str, reply_to: Any) -> None:
        if self._task is None and not self._stopped and not tracing.ON:
            cell = self.worker.route_nowait(message)  # type: ignore[attr-defined]
            if cell is not None:
                cell.deliver(message, reply_to)
                return
        super().deliver(message, reply_to)
