"""The worker behind one conversation of an agent: decodes requests, runs the loop, replies.

The agent's spawner creates one :class:`ConversationWorker` per ``scope/conversation`` key (and one
for messages without both), so the messages of a conversation are handled one at a time, in order,
while different conversations run in parallel. A worker is a tiny object: its tools and state
machines are created at its first message.

Replies: a ``conversation_snippet`` request gets one ``conversation_snippet`` with the response
messages (assistant tool-call messages, tool results, the final answer; never the request's own
messages). A ``streamed_conversation_snippet`` request gets parts numbered 1..n, each a
``streamed_conversation_snippet`` (text deltas, the tool-call message, each tool result), the last
with ``finished: true`` (empty, or the question when the agent waits for input). A failure gets an
``error`` reply; a message that cannot be decoded gets an ``error`` naming what is wrong.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable
from typing import TYPE_CHECKING, Any

from autonomy.agents.codec import to_json
from autonomy.agents.input_checks import valid_text
from autonomy.agents.loop import Emitter, TurnFailed, run_turn
from autonomy.agents.protocol import (
    ConversationSnippet,
    Error,
    GetConversationsRequest,
    GetConversationsResponse,
    GetConversationStateRequest,
    GetConversationStateResponse,
    GetIdentifierRequest,
    GetIdentifierResponse,
    StreamedConversationSnippet,
)
from autonomy.agents.state import StateMachine
from autonomy.errors import AutonomyError, InvalidMessage

if TYPE_CHECKING:
    from autonomy.agents.agent import Agent

__all__ = ["ConversationWorker", "memory_key"]

logger = logging.getLogger("autonomy.agents")


def memory_key(agent_name: str, scope: str, conversation: str) -> tuple[str, str]:
    """Where the agent keeps a conversation in its Memory: ``("{agent}/{scope}", conversation)``;
    empty scope or conversation are ``"default"``."""
    return f"{agent_name}/{scope or 'default'}", conversation or "default"


class ConversationWorker:
    """Handles the messages of one conversation key of ``agent`` (see module docstring)."""

    __slots__ = ("agent", "machines", "tools")

    def __init__(self, agent: Agent) -> None:
        self.agent = agent
        self.machines: dict[tuple[str, str], StateMachine] | None = None
        self.tools: Any = None  # (by name, specs), made at the first turn

    async def handle_message(self, context: Any, message: str) -> None:
        try:
            request = self.agent.decode(message)
        except InvalidMessage as exc:
            await context.reply(to_json(Error(str(exc))))
            return
        if isinstance(request, StreamedConversationSnippet):
            await self._converse(context, request.snippet, stream=True)
        elif isinstance(request, ConversationSnippet):
            await self._converse(context, request, stream=False)
        elif (answer := self.answer_now(message)) is not None:  # a query that reached the queue directly
            await context.reply(answer if isinstance(answer, str) else await answer)
        else:
            await context.reply(to_json(Error(
                f"Agent {self.agent.name!r} cannot handle a {request.type!r} message: send a "
                "conversation_snippet, a streamed_conversation_snippet or a get_* request")))

    @staticmethod
    def may_answer_now(message: str) -> bool:
        """Whether :meth:`answer_now` may answer ``message`` (False: it waits its turn in order)."""
        return '"get_' in message

    def answer_now(self, message: str) -> str | Awaitable[str] | None:
        """The reply to a read-only query (conversation state, identifier, conversations), answered by
        the spawner at once, even while a turn of this conversation runs; None for every other message,
        which waits its turn in order."""
        if not self.may_answer_now(message):  # cheap: conversation messages are not parsed twice
            return None
        try:
            request = self.agent.decode(message)
        except InvalidMessage:
            return None
        if isinstance(request, GetConversationStateRequest):
            if self.agent.memory.store is not None:  # the conversation may be only in the store
                return self._stored_state(request.scope, request.conversation)
            return to_json(self._state(request.scope, request.conversation))
        if isinstance(request, GetIdentifierRequest):
            return to_json(GetIdentifierResponse(
                request.scope, request.conversation, self.agent.name.lower().replace(" ", "_")))
        if isinstance(request, GetConversationsRequest):
            if self.agent.memory.store is not None:  # conversations that left RAM are in the store
                return self._stored_conversations(request.scope, request.conversation)
            return to_json(self._conversations(request.scope, request.conversation))
        return None

    async def _stored_conversations(self, scope: str | None, conversation: str | None) -> str:
        try:
            found = await self.agent.memory.list_conversations(scope, conversation, f"{self.agent.name}/")
        except AutonomyError as exc:
            return to_json(Error(f"Agent {self.agent.name!r} cannot list its conversations: {exc}"))
        return to_json(GetConversationsResponse([m for _, _, messages in found for m in messages]))

    async def _converse(self, context: Any, snippet: ConversationSnippet, stream: bool) -> None:
        key = (snippet.scope, snippet.conversation)
        if not (valid_text(key[0]) and valid_text(key[1])):  # could be neither stored nor listed
            await context.reply(to_json(Error("Invalid agent message: scope and conversation must be valid "
                                              "Unicode text (they hold a lone surrogate)")))
            return
        memory, mkey = self.agent.memory, memory_key(self.agent.name, *key)
        try:
            await memory.hold(*mkey)  # loads it from the node's store after a restart or an eviction
        except AutonomyError as exc:  # MemoryStoreError: the store is down; nothing was changed
            await context.reply(to_json(Error(f"Agent {self.agent.name!r} cannot load the conversation: {exc}")))
            return
        try:
            await self._turn(context, snippet, stream, key, mkey)
        finally:
            memory.release(*mkey)

    def _machine(self, key: tuple[str, str], mkey: tuple[str, str]) -> StateMachine:
        machines = self.machines
        if machines is None:
            machines = self.machines = {}
        machine = machines.get(key)
        if machine is None:
            saved = self.agent.memory.state_nowait(*mkey)  # a turn paused before a restart
            if saved is not None:
                try:
                    machine = machines[key] = StateMachine.from_dict(key[0], key[1], saved)
                except (KeyError, TypeError, ValueError):
                    logger.warning("agent %r: the saved state of conversation %r/%r is unreadable; starting "
                                   "a new turn", self.agent.name, *key)
        if machine is None or not machine.is_paused:
            if machine is not None and machine.is_active:
                machine.interrupted = True  # a turn that failed midway: the new message replaces it
            machine = machines[key] = StateMachine(key[0], key[1])
        return machine

    async def _turn(self, context: Any, snippet: ConversationSnippet, stream: bool, key: tuple[str, str],
                    mkey: tuple[str, str]) -> None:
        machine = self._machine(key, mkey)
        memory = self.agent.memory

        async def save() -> None:  # before the user sees the answer or the question: it is stored
            memory.set_state_nowait(*mkey, machine.to_dict() if machine.is_paused else None)
            await memory.flush()

        emitter = Emitter(context, snippet.scope, snippet.conversation, stream, before_finish=save)
        try:
            if self.tools is None:
                self.tools = await self.agent.tools_for(snippet.scope, snippet.conversation)
            await run_turn(self.agent, self.tools, machine, snippet.messages, emitter)
        except TurnFailed as exc:
            await emitter.error(str(exc) + await self._saved(save))
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # a bug or an unexpected tool/model shape: the sender learns why
            logger.exception("agent %r failed in conversation %r/%r", self.agent.name, *key)
            await emitter.error(f"Agent failed: {type(exc).__name__}: {exc}" + await self._saved(save))

    async def _saved(self, save: Any) -> str:
        """Save what a failed turn remembered; '' or the reason it could not be saved (for the error)."""
        try:
            await save()
        except AutonomyError as exc:
            return f" (and the conversation could not be saved: {exc})"
        return ""

    async def _stored_state(self, scope: str, conversation: str) -> str:
        try:
            await self.agent.memory.get_message_count(*memory_key(self.agent.name, scope, conversation))
        except AutonomyError as exc:
            return to_json(Error(f"Agent {self.agent.name!r} cannot load the conversation: {exc}"))
        return to_json(self._state(scope, conversation))

    def _state(self, scope: str, conversation: str) -> GetConversationStateResponse:
        machine = (self.machines or {}).get((scope, conversation))
        mkey = memory_key(self.agent.name, scope, conversation)
        count = self.agent.memory.message_count_nowait(*mkey)
        if machine is None:
            saved = self.agent.memory.state_nowait(*mkey)  # paused before a restart or an eviction
            phase = saved.get("state", "ready") if isinstance(saved, dict) else "ready"
            return GetConversationStateResponse(phase == "waiting_for_input", phase, count, scope, conversation)
        return GetConversationStateResponse(machine.is_paused, machine.state.value, count, scope, conversation)

    def _conversations(self, scope: str | None, conversation: str | None) -> GetConversationsResponse:
        found = self.agent.memory.conversations(scope, conversation, scope_prefix=f"{self.agent.name}/")
        return GetConversationsResponse([m for _, _, messages in found for m in messages])
