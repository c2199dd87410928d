"""Checking and assembling ``Agent.start``'s context and subagent arguments (spec §1.3, §1.7).

Errors are ``ConfigError`` (a ``ValueError``, as upstream raises) naming the argument and the fix.
"""

from __future__ import annotations

from typing import Any

from autonomy.errors import ConfigError

__all__ = ["context_setup", "subagents_setup", "SUMMARY_KEYS", "SUBAGENT_KEYS"]

SUMMARY_KEYS = ("floor", "ceiling", "size", "model", "instructions")
SUBAGENT_KEYS = ("role", "instructions", "model", "tools", "max_iterations", "max_execution_time",
                 "max_messages_in_short_term_memory", "max_tokens_in_short_term_memory", "enable_long_term_memory",
                 "auto_start", "runner_filter", "enable_ask_for_user_input", "enable_filesystem",
                 "filesystem_visibility", "context_summary")


def context_setup(instructions: str, context_template: Any, context_summary: Any, max_messages: int | None,
                  max_tokens: int | None, enable_ask_for_user_input: bool, enable_filesystem: bool,
                  filesystem_visibility: str, subagent_configs: dict[str, Any] | None,
                  ) -> tuple[Any, int | None, int | None]:
    """``(template or None, max_messages, max_tokens)`` for the agent's memory and context.

    No template and no summary: None (the agent's fast default: instructions then history). A
    summary: ``[SystemInstructions, FrameworkInstructions, SummarizedHistorySection]`` and memory of
    ``2 * ceiling`` messages without a token limit, as upstream."""
    if context_template is not None and context_summary:
        raise ConfigError("Agent.start: context_template and context_summary cannot both be given: put a "
                          "SummarizedHistorySection in your template instead")
    if context_template is not None:
        if not callable(getattr(context_template, "build_context", None)):
            raise ConfigError(f"Agent.start: context_template must be a ContextTemplate, not {context_template!r}")
        return context_template, max_messages, max_tokens
    if not context_summary:
        return None, max_messages, max_tokens
    if context_summary is True:
        config: dict[str, Any] = {}
    elif isinstance(context_summary, dict):
        unknown = sorted(set(context_summary) - set(SUMMARY_KEYS))
        if unknown:
            raise ConfigError(f"Agent.start: context_summary has unknown key(s) {', '.join(unknown)}; it takes "
                              f"{', '.join(SUMMARY_KEYS)}")
        config = context_summary
    else:
        raise ConfigError(f"Agent.start: context_summary must be True or a dict with {', '.join(SUMMARY_KEYS)}, "
                          f"not {context_summary!r}")
    from autonomy.agents.context import create_default_template
    from autonomy.agents.summary import SummarizedHistorySection

    section = SummarizedHistorySection(config.get("model"), config.get("floor", 10), config.get("ceiling", 20),
                                       config.get("size", 2048), config.get("instructions"))
    from autonomy.agents.agent import system_message

    template = create_default_template([system_message(instructions, enable_ask_for_user_input)],
                                       enable_ask_for_user_input, enable_filesystem, filesystem_visibility,
                                       subagent_configs, history=section)
    return template, section.ceiling * 2, None


def subagents_setup(subagents: Any, runner_filter: Any) -> dict[str, dict[str, Any]]:
    """The checked subagent configurations by role (``subagents`` maps role -> SubagentConfig, or is a
    list of SubagentConfig with ``role``)."""
    if isinstance(subagents, list):
        items = []
        for i, config in enumerate(subagents):
            if not isinstance(config, dict) or not isinstance(config.get("role"), str):
                raise ConfigError(f"Agent.start: subagents[{i}] must be a SubagentConfig dict with a 'role'")
            items.append((config["role"], config))
    elif isinstance(subagents, dict):
        items = list(subagents.items())
    else:
        raise ConfigError("Agent.start: subagents must be a dict of role -> SubagentConfig "
                          "({'instructions': ...}), not " + type(subagents).__name__)
    if runner_filter is not None and not isinstance(runner_filter, str):
        raise ConfigError(f"Agent.start: subagent_runner_filter must be a string, not {runner_filter!r}")
    configs: dict[str, dict[str, Any]] = {}
    from autonomy.nodes.address import validate_address

    for role, config in items:
        where = f"subagents[{role!r}]"
        if not isinstance(role, str) or not role:
            raise ConfigError(f"Agent.start: subagent roles must be non-empty strings, not {role!r}")
        validate_address(role, "subagent role")
        if not isinstance(config, dict):
            raise ConfigError(f"Agent.start: {where} must be a SubagentConfig dict, not {type(config).__name__}")
        unknown = sorted(set(config) - set(SUBAGENT_KEYS))
        if unknown:
            raise ConfigError(f"Agent.start: {where} has unknown key(s) {', '.join(unknown)}; it takes "
                              f"{', '.join(SUBAGENT_KEYS)}")
        if not isinstance(config.get("instructions"), str) or not config["instructions"].strip():
            raise ConfigError(f"Agent.start: {where}['instructions'] is required: say what this subagent does")
        configs[role] = {**config, "role": role}
    return configs
