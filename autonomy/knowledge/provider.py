"""``KnowledgeProvider`` (anything that answers ``search_knowledge``), ``KnowledgeAggregator`` and ``NoopKnowledge``."""

from __future__ import annotations

import asyncio
from collections.abc import Iterable
from typing import Protocol, runtime_checkable

from autonomy.errors import ConfigError

__all__ = ["KnowledgeProvider", "KnowledgeAggregator", "NoopKnowledge"]


@runtime_checkable
class KnowledgeProvider(Protocol):
    async def search_knowledge(self, scope: str | None, conversation: str | None, query: str) -> str | None:
        """Text relevant to ``query`` for the model, or None when nothing is."""
        ...


class NoopKnowledge:
    """Knows nothing: every search answers None (a placeholder where a provider is required)."""

    async def search_knowledge(self, scope: str | None, conversation: str | None, query: str) -> str | None:
        return None


class KnowledgeAggregator:
    """Asks every provider at once; the answers that are not None, in the providers' order, a blank line apart."""

    def __init__(self, providers: Iterable[KnowledgeProvider]) -> None:
        self.providers = list(providers)
        for index, provider in enumerate(self.providers):
            if not callable(getattr(provider, "search_knowledge", None)):
                raise ConfigError(f"KnowledgeAggregator(providers[{index}]={provider!r}): not a knowledge provider "
                                  "(it needs an async search_knowledge(scope, conversation, query) method)")

    async def search_knowledge(self, scope: str | None, conversation: str | None, query: str) -> str | None:
        answers = await asyncio.gather(*(p.search_knowledge(scope, conversation, query) for p in self.providers))
        found = [answer for answer in answers if answer]
        return "\n\n".join(found) if found else None
