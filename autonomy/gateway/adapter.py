"""The small-model adapter: OpenAI chat requests in, prompts a tiny model can follow, OpenAI shapes out.

Small GGUF models do not fill ``tool_calls`` on their own (see docs/gateway.md), so:

* the tools are described in a system turn, with the reply format: one JSON object
  ``{"name": ..., "arguments": {...}}``;
* the answer's text is searched for the first JSON object with a ``name`` (bare, in a ```` ``` ````
  fence, or in ``<tool_call>`` tags); a name that is not one of the request's tools is refused and
  the text is the answer;
* earlier tool calls and tool results are restated as plain turns ("The tool get_time returned: ...
  Using that result, answer ..."), which small models use better than the ``tool`` role;
* a forced ``tool_choice`` (or ``"required"`` with a single tool) is handed to llama.cpp, whose
  grammar guarantees a well-formed call to that tool.

Everything here is pure (no model needed), so it is unit-tested on canned texts.
"""

from __future__ import annotations

import json
import re
import time
import uuid
from dataclasses import dataclass, field
from typing import Any, Literal

__all__ = ["Plan", "plan", "parse_tool_call", "restate_messages", "tools_prompt", "to_completion",
           "completion_chunks"]

Mode = Literal["text", "auto", "forced"]
DEFAULT_MAX_TOKENS = 512
_TAGGED = re.compile(r"<tool_call>\s*(.*?)\s*(?:</tool_call>|$)", re.S)
_FENCED = re.compile(r"```(?:json)?\s*(.*?)```", re.S)


@dataclass
class Plan:
    """How to run one request: llama.cpp keyword arguments, and how to read the answer."""

    mode: Mode
    kwargs: dict[str, Any]
    tool_names: list[str] = field(default_factory=list)


def _text(content: Any) -> str:
    if content is None:
        return ""
    if isinstance(content, str):
        return content
    return "".join(p.get("text", "") for p in content if isinstance(p, dict) and p.get("type") == "text")


def restate_messages(messages: list[dict[str, Any]]) -> list[dict[str, str]]:
    """Every turn as ``{"role": system|user|assistant, "content": str}`` (tool turns restated)."""
    names: dict[str, str] = {}
    out: list[dict[str, str]] = []
    for message in messages:
        role = message.get("role")
        content = _text(message.get("content"))
        if role in ("system", "developer"):
            out.append({"role": "system", "content": content})
        elif role == "assistant":
            calls = []
            for call in message.get("tool_calls") or []:
                function = call.get("function") or {}
                names[call.get("id", "")] = function.get("name", "")
                calls.append(json.dumps({"name": function.get("name"),
                                         "arguments": _loads(function.get("arguments"))}))
            out.append({"role": "assistant", "content": "\n".join(filter(None, [content, *calls]))})
        elif role == "tool":
            name = names.get(message.get("tool_call_id", ""), message.get("name") or "the tool")
            out.append({"role": "user", "content": f"The tool {name} returned: {content}\n"
                                                   "Using that result, answer the question."})
        else:
            out.append({"role": "user", "content": content})
    return out


def _loads(arguments: Any) -> Any:
    if isinstance(arguments, str):
        try:
            return json.loads(arguments or "{}")
        except ValueError:
            return arguments
    return arguments or {}


def tools_prompt(tools: list[dict[str, Any]]) -> str:
    """The system text describing ``tools`` and the reply format for calling one."""
    lines = ["You can call these tools:"]
    for tool in tools:
        function = tool.get("function") or {}
        params = ", ".join(f"{name}: {spec.get('type', 'any')}" for name, spec in
                           ((function.get("parameters") or {}).get("properties") or {}).items())
        lines.append(f"- {function.get('name')}({params}): {function.get('description', '')}".rstrip(": "))
    lines.append('To call a tool, reply with only a JSON object: {"name": "<tool name>", "arguments": {...}}. '
                 "If no tool is needed, answer in plain text.")
    return "\n".join(lines)


def plan(body: dict[str, Any]) -> Plan:
    """Translate an OpenAI chat-completion body into a :class:`Plan` for llama.cpp."""
    messages = restate_messages(body.get("messages") or [])
    tools = [t for t in body.get("tools") or [] if t.get("type", "function") == "function"]
    names = [t["function"]["name"] for t in tools]
    choice = body.get("tool_choice", "auto")
    kwargs: dict[str, Any] = {
        "max_tokens": body.get("max_tokens") or body.get("max_completion_tokens") or DEFAULT_MAX_TOKENS,
        "temperature": body.get("temperature") if body.get("temperature") is not None else 0.0,
    }
    for name in ("top_p", "stop", "seed"):
        if body.get(name) is not None:
            kwargs[name] = body[name]
    forced = choice.get("function", {}).get("name") if isinstance(choice, dict) else None
    if choice == "required" and len(names) == 1:
        forced = names[0]
    if not tools or choice == "none":
        return Plan("text", {**kwargs, "messages": messages})
    if forced is not None:
        tool = next((t for t in tools if t["function"]["name"] == forced), None)
        if tool is None:
            raise ValueError(f"tool_choice names {forced!r}, which is not in tools ({', '.join(names)})")
        return Plan("forced", {**kwargs, "messages": messages, "tools": [tool],
                               "tool_choice": {"type": "function", "function": {"name": forced}}}, [forced])
    system = {"role": "system", "content": tools_prompt(tools)}
    if messages and messages[0]["role"] == "system":
        system["content"] = messages[0]["content"] + "\n\n" + system["content"]
        messages = messages[1:]
    return Plan("auto", {**kwargs, "messages": [system, *messages]}, names)


def _candidates(text: str) -> list[str]:
    return [*_TAGGED.findall(text), *_FENCED.findall(text), text]


def parse_tool_call(text: str, tool_names: list[str]) -> tuple[str, dict[str, Any]] | None:
    """The first JSON object with a ``name`` among ``tool_names`` in ``text``, as (name, arguments)."""
    decoder = json.JSONDecoder()
    for candidate in _candidates(text):
        for start in (i for i, c in enumerate(candidate) if c == "{"):
            try:
                value, _ = decoder.raw_decode(candidate, start)
            except ValueError:
                continue
            if not isinstance(value, dict) or not isinstance(value.get("name"), str):
                continue
            if value["name"] not in tool_names:
                return None  # an invented tool: answer with the text instead
            arguments = _loads(value.get("arguments", value.get("parameters", {})))
            return value["name"], arguments if isinstance(arguments, dict) else {}
    return None


def _call(name: str, arguments: dict[str, Any]) -> dict[str, Any]:
    return {"id": f"call_{uuid.uuid4().hex[:24]}", "type": "function",
            "function": {"name": name, "arguments": json.dumps(arguments)}}


def to_completion(result: dict[str, Any], plan_: Plan, model: str) -> dict[str, Any]:
    """llama.cpp's completion -> the OpenAI ``chat.completion`` the client gets (tool calls parsed)."""
    choice = result["choices"][0]
    message = choice["message"]
    finish = choice.get("finish_reason") or "stop"
    reply: dict[str, Any] = {"role": "assistant", "content": message.get("content")}
    if plan_.mode == "forced" and message.get("tool_calls"):
        reply = {"role": "assistant", "content": None, "tool_calls": [
            {"id": c["id"], "type": "function", "function": c["function"]} for c in message["tool_calls"]]}
        finish = "tool_calls"
    elif plan_.mode == "auto" and (call := parse_tool_call(message.get("content") or "", plan_.tool_names)):
        reply = {"role": "assistant", "content": None, "tool_calls": [_call(*call)]}
        finish = "tool_calls"
    return {"id": result.get("id") or f"chatcmpl-{uuid.uuid4().hex}", "object": "chat.completion",
            "created": result.get("created") or int(time.time()), "model": model,
            "choices": [{"index": 0, "message": reply, "finish_reason": finish}],
            "usage": result.get("usage")}


def completion_chunks(completion: dict[str, Any], include_usage: bool) -> list[dict[str, Any]]:
    """A finished completion as the ``chat.completion.chunk`` sequence a stream would have carried."""
    base = {"id": completion["id"], "object": "chat.completion.chunk", "created": completion["created"],
            "model": completion["model"]}
    choice = completion["choices"][0]
    message = choice["message"]

    def chunk(delta: dict[str, Any], finish: str | None = None) -> dict[str, Any]:
        return {**base, "choices": [{"index": 0, "delta": delta, "finish_reason": finish}]}

    chunks = [chunk({"role": "assistant", "content": ""})]
    if message.get("content"):
        chunks.append(chunk({"content": message["content"]}))
    for index, call in enumerate(message.get("tool_calls") or []):
        chunks.append(chunk({"tool_calls": [{"index": index, "id": call["id"], "type": "function",
                                             "function": {"name": call["function"]["name"], "arguments": ""}}]}))
        chunks.append(chunk({"tool_calls": [{"index": index,
                                             "function": {"arguments": call["function"]["arguments"]}}]}))
    chunks.append(chunk({}, choice["finish_reason"]))
    if include_usage and completion.get("usage"):
        chunks.append({**base, "choices": [], "usage": completion["usage"]})
    return chunks
