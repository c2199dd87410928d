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
from typing import TYPE_CHECKING, Any

from autonomy.agents.codec import from_json, to_json
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
from autonomy.errors import InvalidMessage

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
            request = from_json(message)
        except InvalidMessage as exc:
            await context.reply(to_json(Error(str(exc))))
            return
        if isinstance(request, StreamedConversationSnippet):
            await self._converse(context, request.snippet, stream=True)
        elif isinstance(request, ConversationSnippet):
            await self._converse(context, request, stream=False)
        elif (answer := self.answer_now(message)) is not None:  # a query that reached the queue directly
            await context.reply(answer)
        else:
            await context.reply(to_json(Error(
                f"Agent {self.agent.name!r} cannot handle a {request.type!r} message: send a "
                "conversation_snippet, a streamed_conversation_snippet or a get_* request")))

    def answer_now(self, message: str) -> str | None:
        """The reply to a read-only query (conversation state, identifier, conversations), answered by
        the spawner at once, even while a turn of this conversation runs; None for every other message,
        which waits its turn in order."""
        if '"get_' not in message:  # cheap: conversation messages are not parsed twice
            return None
        try:
            request = from_json(message)
        except InvalidMessage:
            return None
        if isinstance(request, GetConversationStateRequest):
            return to_json(self._state(request.scope, request.conversation))
        if isinstance(request, GetIdentifierRequest):
            return to_json(GetIdentifierResponse(
                request.scope, request.conversation, self.agent.name.lower().replace(" ", "_")))
        if isinstance(request, GetConversationsRequest):
            return to_json(self._conversations(request.scope, request.conversation))
        return None

    async def _converse(self, context: Any, snippet: ConversationSnippet, stream: bool) -> None:
        key = (snippet.scope, snippet.conversation)
        machines = self.machines
        if machines is None:
            machines = self.machines = {}
        machine = machines.get(key)
        if machine is None or not machine.is_paused:
            if machine is not None and machine.is_active:
                machine.interrupted = True  # a turn that failed midway: the new message replaces it
            machine = machines[key] = StateMachine(snippet.scope, snippet.conversation)
        emitter = Emitter(context, snippet.scope, snippet.conversation, stream)
        try:
            if self.tools is None:
                self.tools = await self.agent.tools_for(snippet.scope, snippet.conversation)
            await run_turn(self.agent, self.tools, machine, snippet.messages, emitter)
        except TurnFailed as exc:
            await emitter.error(str(exc))
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # a bug or an unexpected tool/model shape: the sender learns why
            logger.exception("agent %r failed in conversation %r/%r", self.agent.name, *key)
            await emitter.error(f"Agent failed: {type(exc).__name__}: {exc}")

    def _state(self, scope: str, conversation: str) -> GetConversationStateResponse:
        machine = (self.machines or {}).get((scope, conversation))
        count = self.agent.memory.message_count_nowait(*memory_key(self.agent.name, scope, conversation))
        if machine is None:
            return GetConversationStateResponse(False, "ready", count, scope, conversation)
        return GetConversationStateResponse(machine.is_paused, machine.state.value, count, scope, conversation)

    def _conversations(self, scope: str | None, conversation: str | None) -> GetConversationsResponse:
        found = self.agent.memory.conversations(scope, conversation, scope_prefix=f"{self.agent.name}/")
        return GetConversationsResponse([m for _, _, messages in found for m in messages])
