"""Model providers behind the gateway: OpenAI-compatible, Anthropic, and the embedded GGUF model."""

from __future__ import annotations

from autonomy.gateway.config import ProviderConfig
from autonomy.gateway.providers.base import ChatStream, Completion, NotSupported, Provider, UpstreamError

__all__ = ["ChatStream", "Completion", "NotSupported", "Provider", "UpstreamError", "build_provider"]


def build_provider(config: ProviderConfig) -> Provider:
    """The provider object for ``config``; heavy SDKs are imported only for the kinds in use."""
    if config.kind == "openai":
        from autonomy.gateway.providers.openai_compatible import OpenAICompatibleProvider

        return OpenAICompatibleProvider(config)
    if config.kind == "anthropic":
        from autonomy.gateway.providers.anthropic import AnthropicProvider

        return AnthropicProvider(config)
    from autonomy.gateway.providers.embedded import EmbeddedProvider

    return EmbeddedProvider(config)
