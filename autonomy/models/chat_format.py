"""OpenAI chat dicts from conversation messages of the agent protocol.

The messages (``autonomy.agents.protocol``) are read by their shape, not their class, so the models
layer does not depend on the agents layer (docs/architecture.md): a message with ``tool_calls`` is an
assistant's, one with ``tool_call_id`` a tool's answer; ``content`` is text (its ``str``) or an image
(it has ``encoded`` and ``base64()``). Decoding a JSON dict that is not plain text is the agents'
codec's job (:func:`autonomy.agents.codec.message_to_openai` composes both).
"""

from __future__ import annotations

from typing import Any

__all__ = ["text_dict_to_openai", "conversation_message_to_openai"]


def _text(content: Any) -> str:
    """The text of a message content (``TextContent``, dict or string)."""
    if isinstance(content, dict):
        return str(content.get("text") or "")
    if content is None:
        return ""
    return str(content)  # a TextContent's str is its text


def _tool_call_dict(call: Any) -> dict[str, Any]:
    return {"id": call.id, "function": {"name": call.function.name, "arguments": call.function.arguments},
            "type": call.type}


def text_dict_to_openai(data: dict[str, Any]) -> dict[str, Any] | None:
    """A well-formed text message dict (as stored in memory) in OpenAI form, or None if it is not one."""
    content = data.get("content")
    if isinstance(content, dict):
        if content.get("type", "text") != "text":
            return None
        text = content.get("text") or ""
    elif content is None or isinstance(content, str):
        text = content or ""
    else:
        return None
    role = data.get("role") or "user"
    if role == "assistant":
        calls = data.get("tool_calls")
        if calls and not all(isinstance(c, dict) and isinstance(c.get("function"), dict)
                             and isinstance(c["function"].get("arguments", ""), str) for c in calls):
            return None
        out: dict[str, Any] = {"role": "assistant", "content": text}
        if calls:
            out["tool_calls"] = [{"id": c.get("id") or "", "function": {"name": c["function"].get("name") or "",
                                  "arguments": c["function"].get("arguments") or ""}, "type": "function"}
                                 for c in calls]
        return out
    if role == "tool":
        return {"role": "tool", "tool_call_id": str(data.get("tool_call_id") or ""), "content": text}
    if role in ("user", "system"):
        return {"role": role, "content": text}
    return None



def conversation_message_to_openai(msg: Any) -> dict[str, Any]:
    """A conversation message (``UserMessage``, ``AssistantMessage``, ...) as an OpenAI chat dict."""
    content: Any = msg.content
    if callable(getattr(content, "base64", None)) and hasattr(content, "encoded"):  # ImageContent
        url = content.encoded or ""
        if not url.startswith("data:") and not url.startswith("http"):
            url = f"data:image/png;base64,{content.base64()}"
        content = [{"type": "image_url", "image_url": {"url": url}}]
    else:
        content = _text(content)
    if hasattr(msg, "tool_calls"):  # AssistantMessage
        out: dict[str, Any] = {"role": "assistant", "content": content}
        if msg.tool_calls:
            out["tool_calls"] = [_tool_call_dict(c) for c in msg.tool_calls]
        return out
    if hasattr(msg, "tool_call_id"):  # ToolCallResponseMessage
        return {"role": "tool", "tool_call_id": msg.tool_call_id, "content": content}
    return {"role": msg.role.value, "content": content}
