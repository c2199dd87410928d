"""Normalise chat messages to OpenAI dicts, and estimate their size in tokens.

``Model.complete_chat`` accepts OpenAI dicts (``{"role", "content", "tool_calls"?, "tool_call_id"?}``)
or the message dataclasses of ``autonomy.agents.protocol`` (``UserMessage``, ``AssistantMessage``,
``ToolCallResponseMessage``, ...). The dataclasses are read by duck typing (``role``, ``content``,
``tool_calls``, ``tool_call_id``, ``name``) so this module does not depend on the agents layer.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Iterable
from enum import Enum
from typing import Any, cast

from autonomy.errors import ConfigError

__all__ = ["to_openai_messages", "estimate_tokens"]


def _plain(value: Any) -> Any:
    return value.value if isinstance(value, Enum) else value


def _content(content: Any) -> Any:
    """A message's content as OpenAI accepts it: a string, or a list of content parts."""
    if content is None or isinstance(content, str | list):
        return content
    if hasattr(content, "text"):  # TextContent
        return str(content.text)
    encoded = getattr(content, "encoded", None)
    binary = getattr(content, "binary", None)
    if encoded is not None or binary is not None:  # ImageContent
        data = encoded if encoded is not None else base64.b64encode(cast(bytes, binary)).decode()
        url = data if str(data).startswith(("data:", "http://", "https://")) else f"data:image/png;base64,{data}"
        detail = _plain(getattr(content, "quality", "auto")) or "auto"
        return [{"type": "image_url", "image_url": {"url": url, "detail": str(detail)}}]
    return str(content)


def _tool_call(call: Any) -> dict[str, Any]:
    if isinstance(call, dict):
        return call
    function = call.function
    return {
        "id": call.id,
        "type": _plain(getattr(call, "type", "function")) or "function",
        "function": {"name": function.name, "arguments": function.arguments or ""},
    }


def to_openai_messages(messages: Iterable[Any]) -> list[dict[str, Any]]:
    """Return ``messages`` as OpenAI chat message dicts (dicts are passed through, copied).

    Raises ConfigError naming the index of a message that has no role.
    """
    result: list[dict[str, Any]] = []
    for index, message in enumerate(messages):
        if isinstance(message, dict):
            if "role" not in message:
                raise ConfigError(f"messages[{index}] has no 'role': give each message a role "
                                  "(system, user, assistant or tool)")
            result.append(dict(message))
            continue
        role = _plain(getattr(message, "role", None))
        if role is None:
            raise ConfigError(f"messages[{index}] ({type(message).__name__}) has no 'role' attribute: "
                              "pass OpenAI dicts or autonomy message dataclasses")
        out: dict[str, Any] = {"role": str(role), "content": _content(getattr(message, "content", None))}
        tool_calls = getattr(message, "tool_calls", None)
        if tool_calls:
            out["tool_calls"] = [_tool_call(call) for call in tool_calls]
            if out["content"] == "":
                out["content"] = None
        if role == "tool":
            out["tool_call_id"] = message.tool_call_id
            if getattr(message, "name", None):
                out["name"] = message.name
        result.append(out)
    return result


def estimate_tokens(messages: list[dict[str, Any]], tools: list[dict[str, Any]] | None = None) -> int:
    """An estimate of the prompt size in tokens: ~4 characters a token plus 4 per message.

    Good to within tens of percent for English text; use it for budgeting, not billing.
    """
    total = 0
    for message in messages:
        total += 4
        content = message.get("content")
        text = content if isinstance(content, str) else json.dumps(content) if content else ""
        total += (len(text) + 3) // 4
        if message.get("tool_calls"):
            total += (len(json.dumps(message["tool_calls"])) + 3) // 4
    if tools:
        total += (len(json.dumps(tools)) + 3) // 4
    return total
