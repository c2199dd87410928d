"""Flows: a graph of agents (and flows) a conversation goes through (spec §1.9).

::

    flow = Flow("review")
    flow.add(START, writer)
    flow.add(writer, reviewer, operation=FlowOperation.EVALUATE)
    flow.add(reviewer, END, condition="approved")
    flow.add(reviewer, writer)                      # anything else: back to the writer
    reference = await Flow.start(node, flow)        # a worker named "review"
    answer = await reference.send("Write a haiku")  # the last message of the conversation

A message to the flow starts at ``START``; each step sends the conversation to the next vertex
(see ``graph.py`` for routing and ``FlowOperation`` for what an edge sends) and appends its answer;
reaching ``END`` replies with the last message. More than ``iteration_limit`` steps, a step slower
than ``iteration_timeout`` seconds, or a vertex with no edge to follow, replies an ``error``.

Our decision (upstream §10.3): flows reply, to plain and to streamed requests (one finished part),
so ``POST /flows/{name}`` and ``FlowReference.send`` work.
"""

from __future__ import annotations

import logging
import secrets
from typing import Any

from autonomy.agents.codec import from_json, to_json
from autonomy.agents.protocol import (
    AssistantMessage,
    ConversationSnippet,
    Error,
    GetIdentifierRequest,
    GetIdentifierResponse,
    StreamedConversationSnippet,
    UserMessage,
    content_text,
)
from autonomy.errors import AutonomyError
from autonomy.flows.graph import FlowEdge, FlowGraph, vertex_id
from autonomy.flows.operation import END, START, FlowOperation
from autonomy.flows.reference import FlowReference
from autonomy.nodes.address import validate_address

__all__ = ["Flow", "FlowWorker"]

logger = logging.getLogger("autonomy.flows")


class FlowFailed(AutonomyError):
    """The flow could not reach END; the message is the error reply."""


class Flow:
    """A flow's definition: its name, limits and graph."""

    def __init__(self, name: str | None = None, iteration_timeout: float = 120, iteration_limit: int = 20) -> None:
        self.name = validate_address(name, "flow") if name is not None else secrets.token_hex(12)
        if isinstance(iteration_limit, bool) or not isinstance(iteration_limit, int) or iteration_limit < 1:
            raise ValueError(f"Flow {self.name!r}: iteration_limit must be a positive integer, not {iteration_limit!r}")
        if not iteration_timeout or not iteration_timeout > 0:
            raise ValueError(f"Flow {self.name!r}: iteration_timeout must be positive seconds, "
                             f"not {iteration_timeout!r}")
        self.iteration_timeout = float(iteration_timeout)
        self.iteration_limit = iteration_limit
        self.graph = FlowGraph()

    def add(self, from_: Any, to: Any, condition: str = "", operation: FlowOperation = FlowOperation.ROUTE) -> None:
        """An edge from ``from_`` to ``to``, followed when the answer's first line is ``condition``
        (``""``: otherwise). Vertices are START, END or references (``Agent.start``'s result)."""
        if from_ == END:
            raise ValueError("a flow edge cannot leave END")
        if to == START:
            raise ValueError("a flow edge cannot lead to START")
        vertex_id(to)
        if not isinstance(operation, FlowOperation):
            raise ValueError(f"operation must be a FlowOperation, not {operation!r}")
        self.graph.add(from_, FlowEdge(to, condition or "", operation))

    @staticmethod
    async def start(node: Any, flow: Flow) -> FlowReference:
        """Start ``flow`` as a worker named ``flow.name`` on ``node``; its reference."""
        await node.start_worker(flow.name, FlowWorker(flow, node))
        return FlowReference(flow.name, node)


class FlowWorker:
    """The worker running a flow, one conversation at a time."""

    def __init__(self, flow: Flow, node: Any) -> None:
        self.flow = flow
        self.node = node

    async def handle_message(self, context: Any, message: str) -> None:
        try:
            request = from_json(message)
            if isinstance(request, GetIdentifierRequest):
                reply: Any = GetIdentifierResponse(request.scope, request.conversation,
                                                   self.flow.name.lower().replace(" ", "_"))
            elif isinstance(request, StreamedConversationSnippet):
                reply = StreamedConversationSnippet(await self.run(request.snippet), 1, True)
            elif isinstance(request, ConversationSnippet):
                reply = await self.run(request)
            else:
                reply = Error(f"Flow {self.flow.name!r} cannot handle a {request.type!r} message: send a "
                              "conversation_snippet")
        except FlowFailed as exc:
            reply = Error(str(exc))
        except Exception as exc:  # an invalid message, a failing vertex: the sender learns why
            reply = Error(f"Flow {self.flow.name!r} failed: {type(exc).__name__}: {exc}")
        await context.reply(to_json(reply))

    async def run(self, snippet: ConversationSnippet) -> ConversationSnippet:
        scope = snippet.scope or secrets.token_hex(16)
        conversation = snippet.conversation or secrets.token_hex(16)
        messages = list(snippet.messages)
        vertex: Any = START
        for _ in range(self.flow.iteration_limit):
            last = content_text(messages[-1].content) if messages else ""
            edge, matched = self.flow.graph.next_edge(vertex, last)
            if edge is None:
                raise FlowFailed(f"Flow {self.flow.name!r} has no edge from {vertex_id(vertex)!r} for the answer "
                                 f"{last[:80]!r}: add one with condition '' (otherwise)")
            if matched:
                messages.pop()
            if edge.operation is FlowOperation.TRY_AGAIN and messages:
                messages.pop()
            vertex = edge.destination
            if vertex == END:
                return ConversationSnippet(scope, conversation, messages[-1:])
            to_send, where = messages, conversation
            if edge.operation is FlowOperation.EVALUATE:
                where = secrets.token_hex(16)
                to_send = [UserMessage(messages[-1].content)] if messages else []
            try:
                answer = await vertex.send(to_send, scope=scope, conversation=where,
                                           timeout=self.flow.iteration_timeout)
            except Exception as exc:
                raise FlowFailed(f"Flow {self.flow.name!r}: {vertex_id(vertex)!r} failed: "
                                 f"{type(exc).__name__}: {exc}") from exc
            if edge.operation is FlowOperation.EVALUATE:
                answer = [UserMessage(m.content) for m in answer if isinstance(m, AssistantMessage)]
            messages.extend(answer)
        raise FlowFailed(f"Flow {self.flow.name!r} did not reach END in {self.flow.iteration_limit} iterations")
