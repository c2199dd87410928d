"""Conversation memory for agents."""

from autonomy.memory.memory import Memory, estimate_tokens, find_safe_trim_count, validate_tool_pairing

__all__ = ["Memory", "estimate_tokens", "find_safe_trim_count", "validate_tool_pairing"]
