"""Tools every agent has (spec §1.3): the time, and asking the user for input.

They follow the ``InvokableTool`` shape (``name``, ``async spec()``, ``async invoke(json) -> str``)
and never raise: bad arguments come back as text for the model. The instances are shared by all
agents (they hold no state), so an idle agent costs nothing for them.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

__all__ = ["GetCurrentTimeUtc", "GetCurrentTime", "AskUserForInput", "ASK_USER_FOR_INPUT", "builtin_tools",
           "waiting_for_input_prompt"]

ASK_USER_FOR_INPUT = "ask_user_for_input"


def _spec(name: str, description: str, properties: dict[str, Any], required: list[str]) -> dict[str, Any]:
    return {"type": "function", "function": {"name": name, "description": description, "parameters": {
        "type": "object", "properties": properties, "required": required}}}


def _arguments(json_argument: str | None) -> dict[str, Any]:
    if not json_argument or not json_argument.strip():
        return {}
    value = json.loads(json_argument)
    if not isinstance(value, dict):
        raise ValueError("arguments must be a JSON object")
    return value


class GetCurrentTimeUtc:
    name = "get_current_time_utc"

    async def spec(self) -> dict[str, Any]:
        return _spec(self.name, "Get the current date and time in UTC, in ISO 8601 format.", {}, [])

    async def invoke(self, json_argument: str | None = None) -> str:
        return datetime.now(UTC).isoformat()


class GetCurrentTime:
    name = "get_current_time"

    async def spec(self) -> dict[str, Any]:
        return _spec(self.name, "Get the current date and time in a timezone (IANA name, default UTC), "
                     "in ISO 8601 format.",
                     {"timezone": {"type": "string", "description": "IANA timezone, e.g. Europe/Paris"}}, [])

    async def invoke(self, json_argument: str | None = None) -> str:
        try:
            name = _arguments(json_argument).get("timezone") or "UTC"
            return datetime.now(ZoneInfo(str(name))).isoformat()
        except (ZoneInfoNotFoundError, ValueError, OSError) as exc:  # "America" is a directory
            return f"Tool execution failed: {type(exc).__name__}: unknown timezone or bad arguments ({exc})"


class AskUserForInput:
    """Pauses the conversation: the agent shows ``question`` and waits for the user's next message,
    which becomes this tool call's result. ``invoke`` returns the marker the loop looks for."""

    name = ASK_USER_FOR_INPUT

    async def spec(self) -> dict[str, Any]:
        return _spec(self.name, "Ask the user a question and wait for the answer. Use it when you need "
                     "information or a confirmation that only the user can give.",
                     {"question": {"type": "string", "description": "The question to ask the user"}},
                     ["question"])

    async def invoke(self, json_argument: str | None = None) -> str:
        return json.dumps({"_waiting_for_input": True, "prompt": waiting_for_input_prompt(json_argument)})


def waiting_for_input_prompt(json_argument: str | None) -> str:
    """The question of an ``ask_user_for_input`` call (``question``, or ``prompt``, or the raw text)."""
    try:
        arguments = _arguments(json_argument)
    except ValueError:
        return json_argument or ""
    return str(arguments.get("question") or arguments.get("prompt") or "")


_TIME_TOOLS = (GetCurrentTimeUtc(), GetCurrentTime())
_WITH_INPUT = (*_TIME_TOOLS, AskUserForInput())


def builtin_tools(enable_ask_for_user_input: bool = False) -> tuple[Any, ...]:
    """The built-in tools an agent gets (shared instances)."""
    return _WITH_INPUT if enable_ask_for_user_input else _TIME_TOOLS
