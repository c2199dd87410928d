"""Upstream's ``autonomy.models.clients.litellm_client`` path.

Upstream picks a LiteLLM provider and maps aliases to provider model ids. We do not use LiteLLM:
``Model`` sends names verbatim to the endpoint the environment configures (a LiteLLM proxy via
``LITELLM_PROXY_API_BASE`` among them, docs/models.md), so :class:`LiteLLMClient` is ``Model`` and
``PROVIDER_ALIASES`` lists upstream's alias names, for apps that display them.
"""

from __future__ import annotations

from typing import Any

from autonomy.models.messages import to_openai_messages
from autonomy.models.model import Model

__all__ = ["LiteLLMClient", "PROVIDER_ALIASES", "ALL_PROVIDER_ALLOWED_FULL_NAMES", "normalize_messages"]

LiteLLMClient = Model

_CLAUDE_NOVA = ["claude-sonnet-4-5", "claude-haiku-4-5", "claude-opus-4-5", "claude-sonnet-4", "claude-opus-4",
                "claude-sonnet-4-v1", "claude-opus-4-v1", "nova-micro", "nova-lite", "nova-pro", "nova-premier",
                "nova-micro-v1", "nova-lite-v1", "nova-pro-v1", "nova-premier-v1", "embed-english",
                "embed-multilingual", "titan-embed"]
PROVIDER_ALIASES: dict[str, list[str]] = {
    "litellm_proxy": [*_CLAUDE_NOVA, "tts-1", "tts-1-hd", "whisper-1"],
    "bedrock": [*_CLAUDE_NOVA, "deepseek-r1", "mistral-large"],
    "ollama": ["deepseek-r1", "llama3.2", "llama3.3", "gemma3", "gemma3:27b", "nomic-embed-text"],
}
ALL_PROVIDER_ALLOWED_FULL_NAMES: frozenset[str] = frozenset(n for names in PROVIDER_ALIASES.values() for n in names)


def normalize_messages(messages: list[Any]) -> list[dict[str, Any]]:
    """OpenAI chat dicts from message dicts or message dataclasses (what ``Model.complete_chat`` sends)."""
    return to_openai_messages(messages)
