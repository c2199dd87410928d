"""Shared pieces of the planners: the task of a conversation, and a model's answer as planning messages."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

from autonomy.agents.protocol import ConversationRole, Phase, SystemMessage, UserMessage, content_text

__all__ = ["complete_think_chat", "task_of", "context_messages", "answer_text", "STEPS_INSTRUCTIONS"]

STEPS_INSTRUCTIONS = """You are a planning assistant. Break the user's task down into a clear, logical sequence
of abstract steps. Do not carry out the steps, compute results or write code: say WHAT needs to be done, in
order, each step in one or two sentences, the last one reaching the goal of the task."""


def task_of(messages: list[Any]) -> str:
    """The text of the last message, which must be the user's."""
    if not messages:
        raise ValueError("messages: a plan needs at least one message, the user's task")
    last = messages[-1]
    role = last.get("role") if isinstance(last, dict) else getattr(last, "role", None)
    if str(role) != ConversationRole.USER.value:
        raise ValueError(f"messages[-1].role is {role!r}: the last message must be the user's task ('user')")
    return content_text(last.get("content") if isinstance(last, dict) else last.content)


def context_messages(messages: list[Any], contextual_knowledge: str | None) -> list[Any]:
    """The conversation without its system messages, after the contextual knowledge (if any)."""
    out: list[Any] = []
    if contextual_knowledge:
        out.append(SystemMessage(f"This information could be useful for proper planning:\n{contextual_knowledge}"))
    for message in messages:
        role = message.get("role") if isinstance(message, dict) else getattr(message, "role", None)
        if str(role) != ConversationRole.SYSTEM.value:
            out.append(message)
    return out


def answer_text(response: Any) -> str:
    """The text of a completion, after a model's ``</think>`` reasoning if it has one."""
    text = response.choices[0].message.content or ""
    return text.split("</think>", 1)[1] if "</think>" in text else text


async def complete_think_chat(model: Any, messages: list[Any], stream: bool) -> AsyncIterator[UserMessage]:
    """The model's answer as planning messages: reasoning (``thinking=True``, when the model returns
    ``reasoning_content``) then the text; streamed chunk by chunk when ``stream``."""
    if stream:
        async for chunk in model.complete_chat(messages, stream=True, is_thinking=True, temperature=0):
            if not chunk.choices:
                continue
            delta = chunk.choices[0].delta
            reasoning = getattr(delta, "reasoning_content", None)
            text = reasoning or delta.content
            if text:
                yield UserMessage(text, phase=Phase.PLANNING, thinking=bool(reasoning))
        return
    response = await model.complete_chat(messages, stream=False, temperature=0)
    message = response.choices[0].message
    reasoning = getattr(message, "reasoning_content", None)
    if reasoning:
        yield UserMessage(reasoning, phase=Phase.PLANNING, thinking=True)
    yield UserMessage(message.content or "", phase=Phase.PLANNING, thinking=False)
