"""Translate between OpenAI chat shapes and the Anthropic Messages API.

Requests: system messages become ``system``; assistant tool calls become ``tool_use`` blocks; ``tool``
messages become ``tool_result`` blocks in a user turn (consecutive ones merged); OpenAI function specs
become ``{name, description, input_schema}``; ``stop`` becomes ``stop_sequences``; ``tool_choice`` is
mapped; ``max_tokens`` defaults to 4096 (Anthropic requires it); other keyword arguments are sent in
the request body as they are, so the API names any it does not know.

Results are returned as the OpenAI SDK's own ``ChatCompletion`` / ``ChatCompletionChunk`` objects.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Any

from openai.types.chat import ChatCompletion, ChatCompletionChunk

__all__ = ["to_anthropic_request", "to_chat_completion", "to_chunks"]

DEFAULT_MAX_TOKENS = 4096
_FINISH = {"end_turn": "stop", "stop_sequence": "stop", "tool_use": "tool_calls", "max_tokens": "length",
           "pause_turn": "stop", "refusal": "content_filter"}
_KNOWN = {"temperature", "top_p", "top_k", "metadata", "thinking", "service_tier"}


def _text(content: Any) -> str:
    if isinstance(content, list):
        return "".join(p.get("text", "") for p in content if isinstance(p, dict))
    return "" if content is None else str(content)


def _tool_choice(choice: Any) -> dict[str, Any] | None:
    if choice is None:
        return None
    if choice == "auto":
        return {"type": "auto"}
    if choice == "required":
        return {"type": "any"}
    if choice == "none":
        return {"type": "none"}
    if isinstance(choice, dict) and choice.get("type") == "function":
        return {"type": "tool", "name": choice["function"]["name"]}
    return choice


def to_anthropic_request(messages: list[dict[str, Any]], tools: list[dict[str, Any]] | None,
                         kwargs: dict[str, Any]) -> dict[str, Any]:
    """The keyword arguments for ``client.messages.create`` (without ``model`` and ``stream``)."""
    system: list[str] = []
    out: list[dict[str, Any]] = []

    def add(role: str, blocks: list[dict[str, Any]]) -> None:
        if out and out[-1]["role"] == role:
            out[-1]["content"].extend(blocks)
        else:
            out.append({"role": role, "content": blocks})

    for message in messages:
        role = message["role"]
        if role in ("system", "developer"):
            system.append(_text(message.get("content")))
        elif role == "tool":
            add("user", [{"type": "tool_result", "tool_use_id": message["tool_call_id"],
                          "content": _text(message.get("content"))}])
        elif role == "assistant":
            blocks: list[dict[str, Any]] = []
            if text := _text(message.get("content")):
                blocks.append({"type": "text", "text": text})
            for call in message.get("tool_calls") or []:
                arguments = call["function"].get("arguments") or "{}"
                try:
                    parsed = json.loads(arguments)
                except json.JSONDecodeError:
                    parsed = {"_raw_arguments": arguments}
                blocks.append({"type": "tool_use", "id": call["id"], "name": call["function"]["name"],
                               "input": parsed if isinstance(parsed, dict) else {"value": parsed}})
            if blocks:
                add("assistant", blocks)
        else:
            content = message.get("content")
            if isinstance(content, list):
                blocks = [p for p in content if isinstance(p, dict) and p.get("type") == "text"]
            else:
                blocks = [{"type": "text", "text": _text(content)}]
            add("user", blocks)
    request: dict[str, Any] = {"messages": out, "max_tokens": DEFAULT_MAX_TOKENS}
    if system:
        request["system"] = "\n\n".join(system)
    if tools:
        request["tools"] = [
            {"name": t["function"]["name"], "description": t["function"].get("description", ""),
             "input_schema": t["function"].get("parameters") or {"type": "object", "properties": {}}}
            for t in tools
        ]
    extra: dict[str, Any] = {}
    for key, value in kwargs.items():
        if key in ("max_tokens", "max_completion_tokens"):
            request["max_tokens"] = value
        elif key == "stop":
            request["stop_sequences"] = [value] if isinstance(value, str) else list(value)
        elif key == "tool_choice":
            if (choice := _tool_choice(value)) is not None:
                request["tool_choice"] = choice
        elif key == "stream_options":
            continue  # Anthropic always streams usage
        elif key in _KNOWN:
            request[key] = value
        else:
            extra[key] = value
    if extra:
        request["extra_body"] = extra
    return request


def to_chat_completion(message: Any) -> ChatCompletion:
    """An Anthropic ``Message`` as an OpenAI ``ChatCompletion``."""
    texts = [block.text for block in message.content if block.type == "text"]
    calls = [
        {"id": block.id, "type": "function",
         "function": {"name": block.name, "arguments": json.dumps(block.input)}}
        for block in message.content if block.type == "tool_use"
    ]
    reply: dict[str, Any] = {"role": "assistant", "content": "".join(texts) if texts else None}
    if calls:
        reply["tool_calls"] = calls
    usage = message.usage
    return ChatCompletion.model_validate({
        "id": message.id, "object": "chat.completion", "created": 0, "model": message.model,
        "choices": [{"index": 0, "message": reply, "finish_reason": _FINISH.get(message.stop_reason or "", "stop")}],
        "usage": {"prompt_tokens": usage.input_tokens, "completion_tokens": usage.output_tokens,
                  "total_tokens": usage.input_tokens + usage.output_tokens},
    })


async def to_chunks(events: AsyncIterator[Any], model: str) -> AsyncIterator[ChatCompletionChunk]:
    """Anthropic stream events as OpenAI ``ChatCompletionChunk``s; the last one carries ``usage``."""
    ident, input_tokens, output_tokens = "", 0, 0
    tool_index: dict[int, int] = {}  # Anthropic block index -> OpenAI tool call index

    def chunk(delta: dict[str, Any], finish: str | None = None) -> ChatCompletionChunk:
        return ChatCompletionChunk.model_validate({
            "id": ident, "object": "chat.completion.chunk", "created": 0, "model": model,
            "choices": [{"index": 0, "delta": delta, "finish_reason": finish}],
        })

    async for event in events:
        if event.type == "message_start":
            ident = event.message.id
            input_tokens = event.message.usage.input_tokens
            yield chunk({"role": "assistant", "content": ""})
        elif event.type == "content_block_start" and event.content_block.type == "tool_use":
            tool_index[event.index] = index = len(tool_index)
            block = event.content_block
            yield chunk({"tool_calls": [{"index": index, "id": block.id, "type": "function",
                                         "function": {"name": block.name, "arguments": ""}}]})
        elif event.type == "content_block_delta":
            if event.delta.type == "text_delta":
                yield chunk({"content": event.delta.text})
            elif event.delta.type == "input_json_delta" and event.index in tool_index:
                yield chunk({"tool_calls": [{"index": tool_index[event.index],
                                             "function": {"arguments": event.delta.partial_json}}]})
        elif event.type == "message_delta":
            output_tokens = event.usage.output_tokens
            yield chunk({}, _FINISH.get(event.delta.stop_reason or "", "stop"))
    yield ChatCompletionChunk.model_validate({
        "id": ident, "object": "chat.completion.chunk", "created": 0, "model": model, "choices": [],
        "usage": {"prompt_tokens": input_tokens, "completion_tokens": output_tokens,
                  "total_tokens": input_tokens + output_tokens},
    })
