"""Context templates: what an agent's model sees, built from ordered sections (spec §1.7).

A :class:`ContextTemplate` holds sections; at every model call the agent runs
``template.build_context(memory, "{agent}/{scope}", conversation)``, which concatenates the messages
of each enabled section in order. A section is any object with ``name``, ``enabled`` and
``async get_messages(memory, scope, conversation, params) -> list[dict]`` (``params`` is a dict the
sections of one build share). Messages are dicts in the agent protocol's shape
(``{"role": "system", "content": {"text": "...", "type": "text"}}``) or OpenAI's (``"content": "..."``).

Built-in sections: :class:`SystemInstructionsSection`, :class:`FrameworkInstructionsSection`,
:class:`ConversationHistorySection` (``max_messages``, ``filter_fn(message) -> bool``,
``transform_fn(message) -> message``), :class:`SummarizedHistorySection` (``summary.py``) and
:class:`AdditionalContextSection`. The default template is
``[SystemInstructions, FrameworkInstructions, ConversationHistory]``.

Our decision: a section that raises fails the turn with an error naming the section (upstream logs it
and leaves the section out, so the model silently loses context).
"""

from __future__ import annotations

import inspect
import logging
from collections.abc import Awaitable, Callable
from typing import Any

from autonomy.agents.summary import ContextSummaryConfig, SummarizedHistorySection
from autonomy.errors import ConfigError

__all__ = ["ContextSection", "SystemInstructionsSection", "FrameworkInstructionsSection",
           "ConversationHistorySection", "SummarizedHistorySection", "AdditionalContextSection",
           "WorkspaceReminderSection", "ContextTemplate", "ContextSummaryConfig", "create_default_template"]

logger = logging.getLogger("autonomy.agents.context")

Provider = Callable[[str, str, dict[str, Any]], Awaitable[list[dict[str, Any]]] | list[dict[str, Any]]]


def _system(text: str) -> dict[str, Any]:
    return {"role": "system", "content": {"text": text, "type": "text"}, "phase": "system"}


class ContextSection:
    """Base of the sections (optional: any object with the same attributes works)."""

    def __init__(self, name: str, enabled: bool = True) -> None:
        if not isinstance(name, str) or not name:
            raise ConfigError(f"ContextSection: name must be a non-empty string, not {name!r}")
        self.name = name
        self.enabled = enabled

    async def get_messages(self, memory: Any, scope: str, conversation: str,
                           params: dict[str, Any]) -> list[dict[str, Any]]:
        return []

    def set_enabled(self, enabled: bool) -> None:
        self.enabled = enabled

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.name!r}{'' if self.enabled else ' disabled'}>"


class SystemInstructionsSection(ContextSection):
    """The agent's instructions: a list of system message dicts."""

    def __init__(self, instructions: list[dict[str, Any]], enabled: bool = True) -> None:
        if isinstance(instructions, dict):
            instructions = [instructions]
        if not isinstance(instructions, list) or not all(isinstance(m, dict) for m in instructions):
            raise ConfigError("SystemInstructionsSection: instructions must be a list of message dicts, e.g. "
                              "[{'role': 'system', 'content': 'You are ...'}]")
        super().__init__("system_instructions", enabled)
        self.instructions = instructions

    async def get_messages(self, memory: Any, scope: str, conversation: str,
                           params: dict[str, Any]) -> list[dict[str, Any]]:
        return list(self.instructions) if self.enabled else []


def framework_instructions(enable_ask_for_user_input: bool = False, enable_filesystem: bool = False,
                           filesystem_visibility: str = "conversation",
                           subagent_configs: dict[str, Any] | None = None) -> str:
    """The text of :class:`FrameworkInstructionsSection`: what the runtime gives the agent."""
    parts = ["## Autonomy Framework Capabilities",
             "- Time: get_current_time_utc gives the current UTC time; get_current_time(timezone) the time in an "
             "IANA timezone. Use them instead of guessing dates."]
    if enable_ask_for_user_input:
        parts.append("- User input: when you need information or a confirmation that only the user can give, call "
                     "ask_user_for_input with your question and wait for the answer.")
    if enable_filesystem:
        shared = {"all": "every agent", "agent": "all your conversations", "scope": "all conversations of this user",
                  "conversation": "this conversation only"}.get(filesystem_visibility, filesystem_visibility)
        parts.append(f"- Files: you have a private filesystem (shared by {shared}) with list_directory, "
                     "read_file, write_file, edit_file, find_files, search_in_files, remove_file and "
                     "remove_directory. Paths start at '/'. Keep notes you want to remember in /memory.md: read it "
                     "at the start of a task and update it when you learn something durable.")
    if subagent_configs:
        roles = ", ".join(sorted(subagent_configs))
        parts.append(f"- Subagents: you can delegate work to subagents with these roles: {roles}. Use "
                     "delegate_to_subagent(role, task) for one task, delegate_to_subagents_parallel(role, tasks) "
                     "for many independent ones, list_subagents to see them, start_subagent/stop_subagent to "
                     "manage them. Give each task everything the subagent needs: it does not see this conversation.")
    return "\n".join(parts)


class FrameworkInstructionsSection(ContextSection):
    """A system message describing the built-in capabilities (time, input, files, subagents)."""

    def __init__(self, enable_ask_for_user_input: bool = False, enable_filesystem: bool = False,
                 filesystem_visibility: str = "conversation", subagent_configs: dict[str, Any] | None = None,
                 enabled: bool = True) -> None:
        super().__init__("framework_instructions", enabled)
        self.text = framework_instructions(enable_ask_for_user_input, enable_filesystem, filesystem_visibility,
                                           subagent_configs)

    async def get_messages(self, memory: Any, scope: str, conversation: str,
                           params: dict[str, Any]) -> list[dict[str, Any]]:
        return [_system(self.text)] if self.enabled else []


class ConversationHistorySection(ContextSection):
    """The conversation's remembered messages, optionally filtered, limited and transformed."""

    def __init__(self, enabled: bool = True, max_messages: int | None = None,
                 filter_fn: Callable[[dict[str, Any]], bool] | None = None,
                 transform_fn: Callable[[dict[str, Any]], dict[str, Any]] | None = None) -> None:
        if max_messages is not None and (isinstance(max_messages, bool) or not isinstance(max_messages, int)
                                         or max_messages < 1):
            raise ConfigError(f"ConversationHistorySection: max_messages must be a positive integer or None, "
                              f"not {max_messages!r}")
        for field, fn in (("filter_fn", filter_fn), ("transform_fn", transform_fn)):
            if fn is not None and not callable(fn):
                raise ConfigError(f"ConversationHistorySection: {field} must be a function, not {fn!r}")
        super().__init__("conversation_history", enabled)
        self.max_messages = max_messages
        self.filter_fn = filter_fn
        self.transform_fn = transform_fn

    async def get_messages(self, memory: Any, scope: str, conversation: str,
                           params: dict[str, Any]) -> list[dict[str, Any]]:
        if not self.enabled:
            return []
        messages = await memory.get_messages_only(scope, conversation)
        if self.filter_fn is not None:
            messages = [m for m in messages if self.filter_fn(m)]
        if self.max_messages and len(messages) > self.max_messages:
            messages = messages[-self.max_messages:]
            while messages and messages[0].get("role") == "tool":  # never start with an orphan tool result
                messages = messages[1:]
        if self.transform_fn is not None:
            messages = [self.transform_fn(m) for m in messages]
        params["conversation_message_count"] = len(messages)
        return messages


class AdditionalContextSection(ContextSection):
    """Extra messages: static ones (``set_static_messages``/``add_message``) then those of
    ``provider_fn(scope, conversation, params)`` (sync or async), e.g. retrieved documents."""

    def __init__(self, name: str = "additional_context", enabled: bool = True,
                 provider_fn: Provider | None = None) -> None:
        if provider_fn is not None and not callable(provider_fn):
            raise ConfigError(f"AdditionalContextSection: provider_fn must be a function, not {provider_fn!r}")
        super().__init__(name, enabled)
        self.provider_fn = provider_fn
        self.static_messages: list[dict[str, Any]] = []

    def set_static_messages(self, messages: list[dict[str, Any]]) -> None:
        self.static_messages = list(messages)

    def add_message(self, message: dict[str, Any]) -> None:
        self.static_messages.append(message)

    def clear_messages(self) -> None:
        self.static_messages = []

    async def get_messages(self, memory: Any, scope: str, conversation: str,
                           params: dict[str, Any]) -> list[dict[str, Any]]:
        if not self.enabled:
            return []
        messages = list(self.static_messages)
        if self.provider_fn is not None:
            provided = self.provider_fn(scope, conversation, params)
            if inspect.isawaitable(provided):
                provided = await provided
            messages.extend(provided or [])
        return messages


class WorkspaceReminderSection(ContextSection):
    """A short system reminder of the workspace's root and rules (for agents given a Workspace)."""

    def __init__(self, workspace_path: str = "/", enabled: bool = True) -> None:
        super().__init__("workspace_reminder", enabled)
        self.workspace_path = workspace_path

    async def get_messages(self, memory: Any, scope: str, conversation: str,
                           params: dict[str, Any]) -> list[dict[str, Any]]:
        if not self.enabled:
            return []
        return [_system(f"Your workspace is {self.workspace_path}: keep your files there. Commands run with "
                        "terminal in a sandbox without network access.")]


class ContextTemplate:
    """An ordered list of sections (see the module docstring)."""

    def __init__(self, sections: list[Any]) -> None:
        if not isinstance(sections, (list, tuple)):
            raise ConfigError("ContextTemplate: sections must be a list of sections")
        self.sections: list[Any] = []
        for section in sections:
            self.add_section(section)

    @staticmethod
    def _check(section: Any) -> None:
        if not isinstance(getattr(section, "name", None), str) or not callable(getattr(section, "get_messages", None)):
            raise ConfigError(f"ContextTemplate: {section!r} is not a section: it needs a name and an async "
                              "get_messages(memory, scope, conversation, params)")

    async def build_context(self, memory: Any, scope: str, conversation: str,
                            params: dict[str, Any] | None = None) -> list[dict[str, Any]]:
        """The messages of every enabled section, in order."""
        shared = params if params is not None else {}
        out: list[dict[str, Any]] = []
        for section in self.sections:
            if not getattr(section, "enabled", True):
                continue
            try:
                messages = section.get_messages(memory, scope, conversation, shared)
                if inspect.isawaitable(messages):
                    messages = await messages
            except Exception as exc:
                raise RuntimeError(f"context section {section.name!r} failed: {type(exc).__name__}: {exc}") from exc
            out.extend(messages or [])
        return out

    def get_section(self, name: str) -> Any:
        return next((s for s in self.sections if s.name == name), None)

    def add_section(self, section: Any, index: int | None = None) -> None:
        self._check(section)
        if index is None:
            self.sections.append(section)
        else:
            self.sections.insert(index, section)

    def remove_section(self, name: str) -> bool:
        """Remove the section named ``name``; False when there is none."""
        for i, section in enumerate(self.sections):
            if section.name == name:
                del self.sections[i]
                return True
        return False

    def get_section_names(self) -> list[str]:
        return [s.name for s in self.sections]

    def __repr__(self) -> str:
        return f"ContextTemplate({self.get_section_names()})"


def create_default_template(instructions: list[dict[str, Any]], enable_ask_for_user_input: bool = False,
                            enable_filesystem: bool = False, filesystem_visibility: str = "conversation",
                            subagent_configs: dict[str, Any] | None = None,
                            history: Any = None) -> ContextTemplate:
    """``[SystemInstructions, FrameworkInstructions, history]`` (history: ConversationHistorySection())."""
    return ContextTemplate([
        SystemInstructionsSection(instructions),
        FrameworkInstructionsSection(enable_ask_for_user_input, enable_filesystem, filesystem_visibility,
                                     subagent_configs),
        history if history is not None else ConversationHistorySection(),
    ])
