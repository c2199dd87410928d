"""Which provider serves a model name, and under which name.

Nodes pass upstream model names verbatim (``claude-sonnet-4-v1``, ``nova-micro-v1``, ``llama3.2``,
...). :func:`resolve` maps a name to a :class:`Route` with these rules, first match wins:

1. a provider whose ``models`` lists the name exactly (providers in config order): the name is
   passed through unchanged;
2. a provider whose ``aliases`` has the name: the alias's target is sent instead;
3. an ``anthropic`` provider also accepts upstream's Claude names (:data:`CLAUDE_MODEL_IDS`), sent
   as the Anthropic API model ids they stand for;
4. the ``default`` provider takes any other name: replaced by its ``default_model`` when set (the
   embedded model serves ``claude-sonnet-4-v1`` as ``smollm2``), else passed through (an
   OpenAI-compatible proxy such as LiteLLM or Ollama resolves it);
5. otherwise :class:`~autonomy.errors.ModelNotFound` (404) listing every accepted name.
"""

from __future__ import annotations

from dataclasses import dataclass

from autonomy.errors import ModelNotFound
from autonomy.gateway.config import GatewayConfig, ProviderConfig

__all__ = ["CLAUDE_MODEL_IDS", "Route", "resolve", "catalog"]

#: Upstream's Claude aliases -> Anthropic API model ids (what an ``anthropic`` provider is sent).
CLAUDE_MODEL_IDS: dict[str, str] = {
    "claude-sonnet-4-5": "claude-sonnet-4-5",
    "claude-haiku-4-5": "claude-haiku-4-5",
    "claude-opus-4-5": "claude-opus-4-5",
    "claude-sonnet-4": "claude-sonnet-4-20250514",
    "claude-sonnet-4-v1": "claude-sonnet-4-20250514",
    "claude-opus-4": "claude-opus-4-20250514",
    "claude-opus-4-v1": "claude-opus-4-20250514",
    "claude-3-5-sonnet-v2": "claude-3-5-sonnet-20241022",
}


@dataclass(frozen=True)
class Route:
    """``requested`` (the name the client sent) is served by ``provider`` as ``upstream_model``."""

    requested: str
    provider: ProviderConfig
    upstream_model: str


def _aliases(provider: ProviderConfig) -> dict[str, str]:
    builtin = CLAUDE_MODEL_IDS if provider.kind == "anthropic" else {}
    return {**builtin, **provider.aliases}


def resolve(config: GatewayConfig, model: str) -> Route:
    """The route for ``model`` (rules in the module docstring); raises ModelNotFound."""
    for provider in config.providers:
        if model in provider.models:
            return Route(model, provider, model)
    for provider in config.providers:
        aliases = _aliases(provider)
        if model in aliases:
            return Route(model, provider, aliases[model])
    for provider in config.providers:
        if provider.default:
            return Route(model, provider, provider.default_model or model)
    raise ModelNotFound(model, [name for name, _ in catalog(config)])


def catalog(config: GatewayConfig) -> list[tuple[str, ProviderConfig]]:
    """Every name the gateway accepts explicitly, with its provider, in routing order, no duplicates."""
    seen: dict[str, ProviderConfig] = {}
    for provider in config.providers:
        for name in provider.models:
            seen.setdefault(name, provider)
    for provider in config.providers:
        for name in _aliases(provider):
            seen.setdefault(name, provider)
    return list(seen.items())
