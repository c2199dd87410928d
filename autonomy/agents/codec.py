"""The JSON codec of the agent message protocol (:mod:`autonomy.agents.protocol`), and its OpenAI form.

The JSON shapes are upstream's byte for byte (field order included); decoding is lenient: ``content``
may be a string, null or an object, missing ``scope``/``conversation`` are ``""``, unknown keys are
ignored. Text that is not such a message raises :class:`~autonomy.errors.InvalidMessage` naming what
is wrong. The conversion to OpenAI chat dicts is :mod:`autonomy.models.chat_format`'s; this module
only decodes what it cannot take as it is.
"""

from __future__ import annotations

import json
from enum import Enum
from typing import Any

from autonomy.agents.protocol import (
    AgentMessage,
    AssistantMessage,
    Content,
    ConversationMessage,
    ConversationSnippet,
    Error,
    FunctionToolCall,
    GetConversationsRequest,
    GetConversationsResponse,
    GetConversationStateRequest,
    GetConversationStateResponse,
    GetIdentifierRequest,
    GetIdentifierResponse,
    ImageContent,
    ImageQuality,
    Phase,
    StreamedConversationSnippet,
    SystemMessage,
    TextContent,
    ToolCall,
    ToolCallResponseMessage,
    UserMessage,
)
from autonomy.errors import InvalidMessage
from autonomy.models.chat_format import conversation_message_to_openai, text_dict_to_openai

__all__ = ["to_dict", "to_json", "from_dict", "from_json", "message_from_dict", "message_to_openai"]


# ---- encoding ------------------------------------------------------------------------------------


def _content_dict(content: Any) -> dict[str, Any]:
    if isinstance(content, ImageContent):
        return {"binary": None, "quality": content.quality.value, "encoded": content.base64(), "type": "image"}
    if isinstance(content, TextContent):
        return {"text": content.text, "type": "text"}
    return {"text": "" if content is None else str(content), "type": "text"}


def _tool_call_dict(call: ToolCall) -> dict[str, Any]:
    return {"id": call.id, "function": {"name": call.function.name, "arguments": call.function.arguments},
            "type": call.type}


def _enum(value: Any) -> Any:
    return value.value if isinstance(value, Enum) else value


def to_dict(obj: Any) -> Any:
    """The JSON-ready dict of a message dataclass (upstream's field order, enum values)."""
    if isinstance(obj, AssistantMessage):
        return {"content": _content_dict(obj.content), "phase": _enum(obj.phase), "thinking": obj.thinking,
                "tool_calls": [_tool_call_dict(c) for c in obj.tool_calls or []], "role": "assistant"}
    if isinstance(obj, UserMessage):
        return {"content": _content_dict(obj.content), "phase": _enum(obj.phase), "thinking": obj.thinking,
                "role": "user"}
    if isinstance(obj, ToolCallResponseMessage):
        return {"tool_call_id": obj.tool_call_id, "name": obj.name, "content": _content_dict(obj.content),
                "phase": _enum(obj.phase), "role": "tool"}
    if isinstance(obj, SystemMessage):
        return {"content": _content_dict(obj.content), "phase": _enum(obj.phase), "role": "system"}
    if isinstance(obj, ConversationSnippet):
        return {"scope": obj.scope, "conversation": obj.conversation,
                "messages": [to_dict(m) for m in obj.messages], "type": obj.type}
    if isinstance(obj, StreamedConversationSnippet):
        return {"snippet": to_dict(obj.snippet), "part_nb": obj.part_nb, "finished": obj.finished, "type": obj.type}
    if isinstance(obj, (TextContent, ImageContent)):
        return _content_dict(obj)
    if isinstance(obj, ToolCall):
        return _tool_call_dict(obj)
    if isinstance(obj, dict):
        return obj
    if hasattr(obj, "__dataclass_fields__"):
        return {name: _enum(getattr(obj, name)) for name in obj.__dataclass_fields__}
    raise TypeError(f"cannot encode {type(obj).__name__} as an agent message")


def to_json(obj: Any) -> str:
    """The JSON text of a message dataclass, as sent between nodes."""
    return json.dumps(to_dict(obj))



# ---- decoding ------------------------------------------------------------------------------------


def _str(data: dict[str, Any], key: str, default: str = "", where: str = "") -> str:
    value = data.get(key, default)
    if value is None:
        return default
    if not isinstance(value, (str, int, float)):
        raise InvalidMessage(f"{where}{key}", value, "a string")
    return str(value)


def _decode_content(value: Any, where: str) -> Content:
    if value is None or isinstance(value, str):
        return TextContent(value or "")
    if isinstance(value, dict):
        if value.get("type") == "image" or "encoded" in value or "image_url" in value:
            encoded = value.get("encoded")
            if encoded is None and isinstance(value.get("image_url"), dict):
                encoded = value["image_url"].get("url")
            if encoded is not None and not isinstance(encoded, str):
                raise InvalidMessage(f"{where}content.encoded", encoded, "base64 text or a data: URL")
            try:
                quality = ImageQuality(value.get("quality") or "auto")
            except ValueError:
                quality = ImageQuality.AUTO
            return ImageContent(encoded=encoded, quality=quality)
        return TextContent(_str(value, "text", where=f"{where}content."))
    if isinstance(value, list):  # OpenAI content parts
        texts = [p.get("text") or "" for p in value if isinstance(p, dict)]
        if not all(isinstance(t, str) for t in texts):
            raise InvalidMessage(f"{where}content", value, 'content parts like [{"type": "text", "text": "hi"}]')
        return TextContent("".join(texts))
    if isinstance(value, (int, float, bool)):
        return TextContent(str(value))
    raise InvalidMessage(f"{where}content", value, "a string or {\"text\": ..., \"type\": \"text\"}")


_PHASES = {phase.value: phase for phase in Phase}  # a dict lookup, not Phase(value): ~1 us per message


def _phase(value: Any, default: Phase) -> Phase:
    try:
        return _PHASES.get(value, default) if value else default
    except TypeError:  # not hashable: not a phase
        return default


def _tool_calls(value: Any, where: str) -> list[ToolCall]:
    if value is None:
        return []
    if not isinstance(value, list):
        raise InvalidMessage(f"{where}tool_calls", value, "a list")
    calls = []
    for i, item in enumerate(value):
        if not isinstance(item, dict) or not isinstance(item.get("function"), dict):
            raise InvalidMessage(f"{where}tool_calls[{i}]", item, '{"id", "function": {"name", "arguments"}}')
        fn = item["function"]
        arguments = fn.get("arguments", "")
        if not isinstance(arguments, str):
            arguments = json.dumps(arguments)
        calls.append(ToolCall(id=str(item.get("id") or ""), function=FunctionToolCall(
            name=_str(fn, "name", where=f"{where}tool_calls[{i}].function."), arguments=arguments),
            type=str(item.get("type") or "function")))
    return calls


def message_from_dict(data: Any, where: str = "") -> ConversationMessage:
    """A conversation message from its (lenient) JSON dict; ``role`` defaults to ``user``."""
    if isinstance(data, (UserMessage, SystemMessage, AssistantMessage, ToolCallResponseMessage)):
        return data
    if isinstance(data, str):
        return UserMessage(data)
    if not isinstance(data, dict):
        raise InvalidMessage(where or "message", data, 'an object like {"role": "user", "content": "hi"}')
    role = data.get("role") or "user"
    content = _decode_content(data.get("content"), where)
    thinking = bool(data.get("thinking", False))
    if role == "user":
        return UserMessage(content, _phase(data.get("phase"), Phase.EXECUTING), thinking)
    if role == "assistant":
        return AssistantMessage(content, _phase(data.get("phase"), Phase.EXECUTING), thinking,
                                _tool_calls(data.get("tool_calls"), where))
    if role == "tool":
        return ToolCallResponseMessage(_str(data, "tool_call_id", where=where), _str(data, "name", where=where),
                                       content, _phase(data.get("phase"), Phase.EXECUTING))
    if role == "system":
        return SystemMessage(content, _phase(data.get("phase"), Phase.SYSTEM))
    raise InvalidMessage(f"{where}role", role, "one of user, assistant, tool, system")


def _snippet(data: dict[str, Any], where: str = "") -> ConversationSnippet:
    messages = data.get("messages")
    if messages is None:
        messages = []
    if not isinstance(messages, list):
        raise InvalidMessage(f"{where}messages", messages, "a list of messages")
    return ConversationSnippet(
        scope=_str(data, "scope", where=where), conversation=_str(data, "conversation", where=where),
        messages=[message_from_dict(m, f"{where}messages[{i}].") for i, m in enumerate(messages)])


def _optional(data: dict[str, Any], key: str) -> str | None:
    value = data.get(key)
    return None if value is None else str(value)


def from_dict(data: Any) -> AgentMessage:
    """The message dataclass for a decoded JSON object, by its ``type``."""
    if not isinstance(data, dict):
        raise InvalidMessage("message", data, "a JSON object with a 'type'")
    kind = data.get("type")
    if kind == "conversation_snippet":
        return _snippet(data)
    if kind == "streamed_conversation_snippet":
        inner = data.get("snippet") or {}
        if not isinstance(inner, dict):
            raise InvalidMessage("snippet", inner, "a conversation_snippet object")
        part_nb = data.get("part_nb", 0)
        if not isinstance(part_nb, int):
            raise InvalidMessage("part_nb", part_nb, "an integer")
        return StreamedConversationSnippet(_snippet(inner, "snippet."), part_nb, bool(data.get("finished", False)))
    if kind == "get_identifier_request":
        return GetIdentifierRequest(_str(data, "scope"), _str(data, "conversation"))
    if kind == "get_identifier_response":
        return GetIdentifierResponse(_str(data, "scope"), _str(data, "conversation"), _str(data, "identifier"))
    if kind == "get_conversations_request":
        return GetConversationsRequest(_optional(data, "scope"), _optional(data, "conversation"))
    if kind == "get_conversations_response":
        conversations = data.get("conversations") or []
        if not isinstance(conversations, list):
            raise InvalidMessage("conversations", conversations, "a list")
        return GetConversationsResponse(conversations)
    if kind == "get_conversation_state_request":
        return GetConversationStateRequest(_str(data, "scope"), _str(data, "conversation"))
    if kind == "get_conversation_state_response":
        count = data.get("message_count") or 0
        if not isinstance(count, int):
            raise InvalidMessage("message_count", count, "an integer")
        return GetConversationStateResponse(bool(data.get("is_paused", False)), _str(data, "phase", "ready"),
                                            count, _str(data, "scope"), _str(data, "conversation"))
    if kind == "error":
        return Error(_str(data, "message"))
    raise InvalidMessage("type", kind, "one of conversation_snippet, streamed_conversation_snippet, "
                         "get_identifier_request, get_conversations_request, get_conversation_state_request, error")


def from_json(text: str | bytes) -> AgentMessage:
    """Decode a message sent by another node or client. Raises InvalidMessage, never anything else."""
    try:
        data = json.loads(text)
    except (ValueError, TypeError) as exc:
        preview = text[:80] if isinstance(text, (str, bytes)) else text
        raise InvalidMessage("message", preview, f"JSON ({exc})") from None
    return from_dict(data)



# ---- for models ----------------------------------------------------------------------------------


def message_to_openai(message: Any) -> dict[str, Any]:
    """An OpenAI chat message dict for a message dataclass or its JSON dict."""
    if isinstance(message, dict):
        fast = text_dict_to_openai(message)  # the hot path: a well-formed text message (as stored in memory)
        if fast is not None:
            return fast
    msg = message if not isinstance(message, dict) else message_from_dict(message)
    return conversation_message_to_openai(msg)
