"""What an agent needs from a tool (``InvokableTool``) and from a tool factory (``ToolFactory``)."""

from __future__ import annotations

import re
from typing import Any, Protocol, runtime_checkable

from autonomy.errors import ConfigError

__all__ = ["InvokableTool", "ToolFactory", "check_tool_name", "TOOL_NAME"]

TOOL_NAME = re.compile(r"^[a-z0-9_-]+$")


@runtime_checkable
class InvokableTool(Protocol):
    """A tool an agent can offer to its model.

    ``spec()`` returns the OpenAI function spec ``{"type": "function", "function": {"name",
    "description", "parameters"}}``. ``invoke(json_argument)`` runs the tool with the model's JSON
    arguments and returns text for the model; it does not raise for bad arguments or a failing tool:
    it returns the error as text, so the model can correct itself.
    """

    name: str

    async def spec(self) -> dict[str, Any]: ...

    async def invoke(self, json_argument: str | None) -> str: ...


@runtime_checkable
class ToolFactory(Protocol):
    """Makes the tools of one conversation (agents detect factories with ``hasattr(x, "create_tools")``)."""

    def create_tools(self, scope: str | None, conversation: str | None,
                     agent_name: str | None = None) -> list[InvokableTool]: ...


def check_tool_name(name: object, what: str = "tool") -> str:
    """Return ``name`` if it is a valid tool name (``a-z 0-9 _ -``), else raise ConfigError saying why."""
    if not isinstance(name, str) or not TOOL_NAME.match(name):
        raise ConfigError(f"Invalid {what} name {name!r}: tool names use only lower-case letters, digits, "
                          "'_' and '-' (models refuse others); rename the function or pass name=...")
    return name
