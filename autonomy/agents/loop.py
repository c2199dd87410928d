"""One turn of an agent's conversation: model -> tool calls -> model ... until an answer (spec §1.3).

Semantics:
- The model sees the agent's instructions (a system message) and the conversation's history from
  the agent's Memory, and the specs of the agent's tools.
- Tool calls run one after the other, in the order the model gave them; each result is remembered
  and sent to the model next time. A tool that is missing or fails does not end the turn: the model
  gets ``Tool 'x' not found`` or ``Tool execution failed: ...`` as the result.
- ``ask_user_for_input`` ends the turn with the question (phase ``waiting_for_input``); the user's
  next message in that conversation becomes the call's result, then the turn goes on.
- The turn fails with ``Reached max_iterations`` when the model was called ``max_iterations``
  times, and with ``Agent exceeded maximum execution time (Ns)`` when it ran longer than
  ``max_execution_time`` seconds (time paused for input excluded). A turn cut short inside its tool
  calls gives each call still without a result a ``Tool execution failed: ...`` result, so the
  conversation's next message still works (models refuse a tool call without its result).
"""

from __future__ import annotations

import asyncio
import inspect
import logging
import os
import uuid
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

import autonomy.tracing as tracing
from autonomy.agents import transcripts
from autonomy.agents.builtin_tools import ASK_USER_FOR_INPUT, waiting_for_input_prompt
from autonomy.agents.codec import to_dict, to_json
from autonomy.agents.deadline import Deadline
from autonomy.agents.errors import AgentError
from autonomy.agents.protocol import (
    AssistantMessage,
    ConversationMessage,
    ConversationSnippet,
    Error,
    FunctionToolCall,
    Phase,
    StreamedConversationSnippet,
    ToolCall,
    ToolCallResponseMessage,
    UserMessage,
    content_text,
)
from autonomy.agents.state import State, StateMachine

if TYPE_CHECKING:
    from autonomy.agents.agent import Agent

__all__ = ["Emitter", "TurnFailed", "run_turn"]

logger = logging.getLogger("autonomy.agents")


class TurnFailed(AgentError):
    """The turn ended with an error the sender should see (its text is the error reply)."""


class Emitter:
    """Sends a turn's response messages: all at once (``conversation_snippet``) or as parts."""

    __slots__ = ("context", "scope", "conversation", "stream", "part_nb", "collected", "before_finish")

    def __init__(self, context: Any, scope: str, conversation: str, stream: bool,
                 before_finish: Callable[[], Awaitable[None]] | None = None) -> None:
        self.context = context
        self.before_finish = before_finish  # e.g. save the conversation before the user sees the answer
        self.scope = scope
        self.conversation = conversation
        self.stream = stream
        self.part_nb = 0
        self.collected: list[ConversationMessage] = []

    async def _part(self, messages: list[ConversationMessage], finished: bool) -> None:
        self.part_nb += 1
        snippet = ConversationSnippet(self.scope, self.conversation, messages)
        await self.context.reply(to_json(StreamedConversationSnippet(snippet, self.part_nb, finished)))

    async def message(self, message: ConversationMessage, streamed_already: bool = False) -> None:
        """A response message (its text already went out as deltas when ``streamed_already``)."""
        if not self.stream:
            self.collected.append(message)
        elif not streamed_already:
            await self._part([message], False)

    async def delta(self, text: str) -> None:
        """A piece of the model's answer, as it arrives (streaming only)."""
        if self.stream and text:
            await self._part([AssistantMessage(text)], False)

    async def finish(self, last: ConversationMessage | None = None) -> None:
        """End the turn: the finished part (carrying ``last`` if given), or the whole snippet."""
        if self.before_finish is not None:
            await self.before_finish()
        if self.stream:
            await self._part([last] if last is not None else [], True)
        else:
            if last is not None:
                self.collected.append(last)
            await self.context.reply(to_json(ConversationSnippet(self.scope, self.conversation, self.collected)))

    async def error(self, message: str) -> None:
        await self.context.reply(to_json(Error(message)))


def _get(obj: Any, name: str) -> Any:
    return obj.get(name) if isinstance(obj, dict) else getattr(obj, name, None)


def _provider(model: Any) -> str | None:
    try:
        return str(model.backend.provider)
    except Exception:  # no backend configured, or a model object of another kind: the span says nothing
        return None


def _record_usage(span: Any, usage: Any) -> None:
    if usage is not None:
        span.set_attribute("gen_ai.usage.input_tokens", _get(usage, "prompt_tokens"))
        span.set_attribute("gen_ai.usage.output_tokens", _get(usage, "completion_tokens"))


async def _call_model(agent: Agent, messages: list[dict[str, Any]], specs: list[dict[str, Any]],
                      emitter: Emitter) -> tuple[str, list[ToolCall]]:
    if not os.environ.get(transcripts.ENV):
        return await _complete(agent, messages, specs, emitter)
    try:
        text, calls = await _complete(agent, messages, specs, emitter)
    except TurnFailed as exc:
        transcripts.record(agent.name, emitter.scope, emitter.conversation, messages, specs, error=str(exc))
        raise
    transcripts.record(agent.name, emitter.scope, emitter.conversation, messages, specs, text,
                       [{"id": c.id, "function": {"name": c.function.name, "arguments": c.function.arguments}}
                        for c in calls])
    return text, calls


async def _complete(agent: Agent, messages: list[dict[str, Any]], specs: list[dict[str, Any]],
                    emitter: Emitter) -> tuple[str, list[ToolCall]]:
    model = agent.get_model()
    traced = tracing.enabled()  # the attributes are made only for a span that records them
    attributes = {"gen_ai.request.model": str(getattr(model, "name", model)), "autonomy.stream": emitter.stream} \
        if traced else None
    with tracing.span("model.call", attributes) as span:
        if traced:
            span.set_attribute("gen_ai.provider.name", _provider(model) or "unknown")
        return await _request_model(model, messages, specs, emitter, span)


async def _request_model(model: Any, messages: list[dict[str, Any]], specs: list[dict[str, Any]], emitter: Emitter,
                    span: Any) -> tuple[str, list[ToolCall]]:
    kwargs: dict[str, Any] = {"tools": specs} if specs else {}
    try:
        if not emitter.stream:
            response = await model.complete_chat(messages, stream=False, **kwargs)
            _record_usage(span, _get(response, "usage"))
            choices = _get(response, "choices") or []
            if not choices:
                raise ValueError("the model returned no choices")
            message = _get(choices[0], "message")
            calls = [ToolCall(id=_get(c, "id") or "", function=FunctionToolCall(
                name=_get(_get(c, "function"), "name") or "", arguments=_get(_get(c, "function"), "arguments") or ""))
                for c in _get(message, "tool_calls") or []]
            return _get(message, "content") or "", calls
        result = model.complete_chat(messages, stream=True, **kwargs)
        if inspect.isawaitable(result):
            result = await result
        text: list[str] = []
        fragments: dict[int, dict[str, str]] = {}
        async for chunk in result:
            choices = _get(chunk, "choices") or []
            if not choices:
                _record_usage(span, _get(chunk, "usage"))
                continue  # e.g. the final usage chunk
            delta = _get(choices[0], "delta")
            if delta is None:
                continue
            piece = _get(delta, "content")
            if piece:
                text.append(piece)
                await emitter.delta(piece)
            for fragment in _get(delta, "tool_calls") or []:
                index = _get(fragment, "index") or 0
                call = fragments.setdefault(index, {"id": "", "name": "", "arguments": ""})
                call["id"] = _get(fragment, "id") or call["id"]
                function = _get(fragment, "function")
                if function is not None:
                    call["name"] += _get(function, "name") or ""
                    call["arguments"] += _get(function, "arguments") or ""
        calls = [ToolCall(id=c["id"], function=FunctionToolCall(c["name"], c["arguments"]))
                 for _, c in sorted(fragments.items())]
        return "".join(text), calls
    except (asyncio.CancelledError, TurnFailed):
        raise
    except Exception as exc:
        raise TurnFailed(f"Model completion failed: {type(exc).__name__}: {exc}") from exc


async def _invoke(tools: dict[str, Any], call: ToolCall) -> str:
    tool = tools.get(call.function.name)
    if tool is None:
        return f"Tool '{call.function.name}' not found"
    try:
        with tracing.span("tool.call", {"gen_ai.tool.name": call.function.name, "gen_ai.tool.call.id": call.id}):
            result = await tool.invoke(call.function.arguments or None)
    except asyncio.CancelledError:
        raise
    except Exception as exc:  # the InvokableTool contract says never raise; be safe anyway
        return f"Tool execution failed: {type(exc).__name__}: {exc}"
    return result if isinstance(result, str) else str(result)


def _remember(agent: Agent, key: tuple[str, str], message: ConversationMessage) -> None:
    agent.memory.add_message_nowait(key[0], key[1], to_dict(message))


def _answer_open_calls(agent: Agent, key: tuple[str, str]) -> None:
    """After a turn cut short (time limit, cancellation, failure): give every tool call of the last
    assistant message that has no result yet a failed result, so the history stays one the model
    accepts (OpenAI and Anthropic refuse a tool call without its result)."""
    messages = agent.memory.messages_nowait(*key)
    answered: set[Any] = set()
    for message in reversed(messages):
        role = message.get("role")
        if role == "tool":
            answered.add(message.get("tool_call_id"))
            continue
        if role == "assistant":
            for call in message.get("tool_calls") or []:
                if isinstance(call, dict) and call.get("id") not in answered:
                    name = (call.get("function") or {}).get("name") or ""
                    _remember(agent, key, ToolCallResponseMessage(
                        call.get("id") or "", name, "Tool execution failed: the turn ended before this tool "
                        "call finished"))
        return


async def _run_tool_calls(agent: Agent, tools: dict[str, Any], machine: StateMachine, key: tuple[str, str],
                          calls: list[ToolCall], emitter: Emitter) -> bool:
    """Run ``calls`` in order. Returns False when the conversation paused for the user's input."""
    machine.transition(State.ACTING)
    for i, call in enumerate(calls):
        if call.function.name == ASK_USER_FOR_INPUT and ASK_USER_FOR_INPUT in tools:
            machine.paused_call_id = call.id
            machine.pending_tool_calls = calls[i + 1:]
            machine.transition(State.WAITING_FOR_INPUT)
            question = waiting_for_input_prompt(call.function.arguments)
            await emitter.finish(AssistantMessage(question, phase=Phase.WAITING_FOR_INPUT))
            return False
        result = await _invoke(tools, call)
        response = ToolCallResponseMessage(call.id, call.function.name, result)
        _remember(agent, key, response)
        await emitter.message(response)
    return True


async def run_turn(agent: Agent, tools: tuple[dict[str, Any], list[dict[str, Any]]], machine: StateMachine,
                   incoming: list[ConversationMessage], emitter: Emitter) -> None:
    """Run (or resume) the conversation's turn for the ``incoming`` messages; see the module docstring."""
    from autonomy.agents.worker import memory_key

    by_name, specs = tools
    key = memory_key(agent.name, machine.scope, machine.conversation)
    loop = asyncio.get_running_loop()
    started = loop.time()
    limit = agent.max_execution_time
    deadline = Deadline(max(0.0, limit - machine.elapsed))  # asyncio.timeout's semantics, cheaper
    finished = False
    attributes = {"autonomy.agent": agent.name, "autonomy.scope": machine.scope,
                  "autonomy.conversation": machine.conversation,
                  "autonomy.node": getattr(agent.node, "name", None)} if tracing.enabled() else None
    try:
        with tracing.span("agent.turn", attributes):
            async with deadline:
                await _turn(agent, by_name, specs, machine, key, incoming, emitter)
        finished = True
    except TimeoutError:
        if not deadline.expired():
            raise
        machine.transition(State.DONE)
        raise TurnFailed(f"Agent exceeded maximum execution time ({float(limit)}s)") from None
    finally:
        machine.elapsed += loop.time() - started
        if not finished and not machine.is_paused:
            _answer_open_calls(agent, key)


async def _turn(agent: Agent, by_name: dict[str, Any], specs: list[dict[str, Any]], machine: StateMachine,
                key: tuple[str, str], incoming: list[ConversationMessage], emitter: Emitter) -> None:
    """The body of :func:`run_turn`, run under its deadline."""
    if machine.is_paused:
        user_answer = "\n".join(content_text(m.content) for m in incoming)
        call_id, machine.paused_call_id = machine.paused_call_id or "", None
        _remember(agent, key, ToolCallResponseMessage(call_id, ASK_USER_FOR_INPUT, user_answer))
        pending, machine.pending_tool_calls = machine.pending_tool_calls, []
        if not await _run_tool_calls(agent, by_name, machine, key, pending, emitter):
            return
    else:
        for message in incoming:
            _remember(agent, key, message if not isinstance(message, str) else UserMessage(message))
    while True:
        if machine.iterations >= agent.max_iterations:
            machine.transition(State.DONE)
            raise TurnFailed("Reached max_iterations")
        machine.iterations += 1
        machine.transition(State.THINKING)
        context = await agent.build_context(key)
        text, calls = await _call_model(agent, context, specs, emitter)
        for call in calls:
            if not call.id:
                call.id = "call_" + uuid.uuid4().hex
        if not calls:
            answer = AssistantMessage(text)
            _remember(agent, key, answer)
            machine.transition(State.DONE)
            if emitter.stream:
                await emitter.finish()
            else:
                await emitter.finish(answer)
            return
        assistant = AssistantMessage(text, tool_calls=calls)
        _remember(agent, key, assistant)
        await emitter.message(AssistantMessage("", tool_calls=calls) if emitter.stream else assistant)
        if not await _run_tool_calls(agent, by_name, machine, key, calls, emitter):
            return

