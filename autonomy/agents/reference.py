"""References to agents: how code talks to an agent on this node or another one (spec §1.3).

``AgentReference(name, node)`` works for any agent; pass a ``RemoteNode`` as ``node`` to reach an
agent on another node of the zone over the fabric. Timeouts are float seconds; None waits as long
as the agent works (its own ``max_execution_time`` bounds that). An ``error`` reply from the agent
raises :class:`~autonomy.agents.errors.AgentError` with the agent's message.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from typing import Any

from autonomy.agents.codec import from_json, message_from_dict, to_json
from autonomy.agents.errors import AgentError, AgentTimeoutError, SendMessageTimeoutError
from autonomy.agents.protocol import (
    AgentMessage,
    ConversationMessage,
    ConversationSnippet,
    Error,
    GetConversationsRequest,
    GetConversationsResponse,
    GetConversationStateRequest,
    GetConversationStateResponse,
    GetIdentifierRequest,
    GetIdentifierResponse,
    StreamedConversationSnippet,
    TextContent,
    UserMessage,
    content_text,
)
from autonomy.errors import DeliveryTimeout

__all__ = ["AgentReference", "ReceiveReference", "Reference"]


def _messages(message: Any) -> list[ConversationMessage]:
    if isinstance(message, (str, TextContent)):
        return [UserMessage(message)]
    if isinstance(message, list):
        return [message_from_dict(m) for m in message]
    return [message_from_dict(message)]


def _unwrap(reply: AgentMessage, agent: str) -> AgentMessage:
    if isinstance(reply, Error):
        raise AgentError(reply.message, agent)
    return reply


class ReceiveReference:
    """The replies to a message sent with :meth:`AgentReference.send_message`."""

    def __init__(self, mailbox: Any, agent_name: str) -> None:
        self.mailbox = mailbox
        self.agent_name = agent_name

    async def receive_message(self, timeout: float | None = None) -> list[ConversationMessage]:
        """Wait for the agent's answer (its response messages); raises AgentError on an error reply."""
        try:
            text = await self.mailbox.receive(timeout=timeout)
        except DeliveryTimeout:
            raise AgentTimeoutError("ReceiveReference.receive_message()", timeout,
                                    {"agent_name": self.agent_name}) from None
        reply = _unwrap(from_json(text), self.agent_name)
        return reply.messages if isinstance(reply, ConversationSnippet) else []


class Reference:
    """Talks to a worker that speaks the agent protocol (an agent or a flow) at ``name`` on ``node``."""

    kind = "agent"

    def __init__(self, name: str, node: Any, exposed_as: str | None = None) -> None:
        local = getattr(node, "local_node", None)
        self.name = name
        self.node = local if local is not None else node
        self.name_of_remote_node: str | None = node.name if local is not None else None
        self.exposed_as = exposed_as

    @property
    def node_name(self) -> str:
        return self.name_of_remote_node or self.node.name

    # ---- low level ----------------------------------------------------------------------------

    async def send_and_receive_request(self, request: Any, timeout: float | None = None) -> AgentMessage:
        """Send a message dataclass; return the decoded first reply (an ``Error`` raises AgentError)."""
        try:
            text = await self.node.send_and_receive(self.name, to_json(request), node=self.name_of_remote_node,
                                                    timeout=timeout)
        except DeliveryTimeout:
            raise AgentTimeoutError(f"{type(self).__name__}.send()", timeout,
                                    {"agent_name": self.name, "node": self.node_name}) from None
        return _unwrap(from_json(text), self.name)

    send_request = send_and_receive_request

    async def send_request_stream(self, request: StreamedConversationSnippet,
                                  timeout: float | None = None) -> AsyncIterator[StreamedConversationSnippet]:
        """Send a streamed request; yield the reply parts in ``part_nb`` order until the finished one.
        ``timeout`` bounds each wait for a part."""
        mailbox = await self.node.send(self.name, to_json(request), node=self.name_of_remote_node)
        try:
            expected, early = 1, dict[int, Any]()
            while True:
                while expected in early:
                    part = early.pop(expected)
                    expected += 1
                    yield part
                    if part.finished:
                        return
                try:
                    text = await mailbox.receive(timeout=timeout)
                except DeliveryTimeout:
                    raise AgentTimeoutError(f"{type(self).__name__}.send_stream()", timeout,
                                            {"agent_name": self.name, "node": self.node_name}) from None
                reply = _unwrap(from_json(text), self.name)
                if not isinstance(reply, StreamedConversationSnippet):
                    raise AgentError(f"Agent {self.name!r} answered a streamed request with {reply.type!r}",
                                     self.name)
                early[reply.part_nb] = reply
        finally:
            mailbox.close()

    # ---- conversations ------------------------------------------------------------------------

    async def send(self, message: Any, scope: str = "", conversation: str = "",
                   timeout: float | None = None) -> list[ConversationMessage]:
        """Send ``message`` (text, a message, or a list of messages); return the agent's response
        messages (tool calls, tool results, the answer; not the message sent)."""
        reply = await self.send_and_receive_request(ConversationSnippet(scope, conversation, _messages(message)),
                                                    timeout)
        return reply.messages if isinstance(reply, ConversationSnippet) else []

    async def send_stream(self, message: Any, scope: str = "", conversation: str = "",
                          timeout: float | None = None) -> AsyncIterator[StreamedConversationSnippet]:
        """Like :meth:`send`, yielding the answer's parts as they come (1..n, the last ``finished``)."""
        request = StreamedConversationSnippet(ConversationSnippet(scope, conversation, _messages(message)), 0)
        async for part in self.send_request_stream(request, timeout):
            yield part

    async def send_message(self, message: Any, scope: str = "", conversation: str = "",
                           timeout: float | None = None) -> ReceiveReference:
        """Send without waiting for the answer; ``receive_message()`` on the result gets it.
        ``timeout`` bounds only the sending (SendMessageTimeoutError)."""
        request = to_json(ConversationSnippet(scope, conversation, _messages(message)))
        try:
            async with asyncio.timeout(timeout):
                mailbox = await self.node.send(self.name, request, node=self.name_of_remote_node)
        except TimeoutError:
            raise SendMessageTimeoutError(timeout, self.name) from None
        return ReceiveReference(mailbox, self.name)

    async def identifier(self, scope: str = "", conversation: str = "") -> str:
        reply = await self.send_and_receive_request(GetIdentifierRequest(scope, conversation))
        return reply.identifier if isinstance(reply, GetIdentifierResponse) else self.name

    async def get_conversation_state(self, scope: str = "", conversation: str = "",
                                     timeout: float | None = None) -> GetConversationStateResponse:
        reply = await self.send_and_receive_request(GetConversationStateRequest(scope, conversation), timeout)
        if not isinstance(reply, GetConversationStateResponse):
            raise AgentError(f"Agent {self.name!r} answered a state request with {reply.type!r}", self.name)
        return reply

    async def is_paused(self, scope: str = "", conversation: str = "") -> bool:
        return (await self.get_conversation_state(scope, conversation)).is_paused

    async def get_conversations(self, scope: str | None = None, conversation: str | None = None,
                                timeout: float | None = None) -> list[dict[str, Any]]:
        """The remembered messages (dicts with a ``timestamp``) of the matching conversations."""
        reply = await self.send_and_receive_request(GetConversationsRequest(scope, conversation), timeout)
        return reply.conversations if isinstance(reply, GetConversationsResponse) else []

    # ---- as a tool of another agent -----------------------------------------------------------

    async def spec(self) -> dict[str, Any]:
        """The OpenAI function spec of this agent as a tool: ``{"prompt": string}``. Needs ``exposed_as``."""
        if not self.exposed_as:
            raise ValueError(f"Agent {self.name!r} cannot be used as a tool: start it with exposed_as="
                             "'<what it does>' or give AgentReference(..., exposed_as=...)")
        return {"type": "function", "function": {"name": self.name, "description": self.exposed_as, "parameters": {
            "type": "object", "properties": {"prompt": {"type": "string", "description": "The request"}},
            "required": ["prompt"]}}}

    async def invoke(self, json_argument: str | None = None) -> str:
        """Send ``{"prompt": ...}`` to the agent and return its answer's text; errors come back as text,
        as tools do. As upstream, the prompt goes to the agent's default conversation (no scope or
        conversation), which every caller of the agent as a tool shares, one call at a time."""
        try:
            arguments = json.loads(json_argument) if json_argument else {}
            prompt = arguments.get("prompt") if isinstance(arguments, dict) else None
        except ValueError:
            prompt = json_argument
        if not isinstance(prompt, str):
            return "Tool execution failed: ValueError: expected arguments {\"prompt\": \"...\"}"
        try:
            messages = await self.send(prompt)
        except Exception as exc:
            return f"Tool execution failed: {type(exc).__name__}: {exc}"
        return content_text(messages[-1].content) if messages else ""

    def unstructure(self) -> dict[str, Any]:
        return {"name": self.name, "type": self.kind, "node": self.node_name}

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.name!r} on {self.node_name!r}>"


class AgentReference(Reference):
    """A reference to an agent (returned by ``Agent.start``). ``name`` is also its tool name."""

    kind = "agent"

