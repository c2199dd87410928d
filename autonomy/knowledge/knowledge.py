"""``Knowledge``: upstream's front door, searchable (embeddings) or not (whole documents)."""

from __future__ import annotations

from typing import Any

from autonomy.knowledge.chunker import Chunker
from autonomy.knowledge.extractors import TextExtractor
from autonomy.knowledge.searchable import SearchableKnowledge
from autonomy.knowledge.storage import Storage
from autonomy.knowledge.unsearchable import UnsearchableKnowledge

__all__ = ["Knowledge"]


class Knowledge:
    """``Knowledge(name, searchable=False, storage=InMemory(), ...)`` delegating to
    :class:`SearchableKnowledge` (``model``, ``chunker``, ``max_results``, ``max_distance``) or
    :class:`UnsearchableKnowledge` (``document_name``). ``model`` defaults to ``Model("embed-english")``.
    """

    def __init__(self, name: str, searchable: bool = False, storage: Storage | None = None,
                 text_extractor: TextExtractor | None = None, max_knowledge_size: int = 4096, model: Any = None,
                 chunker: Chunker | None = None, max_results: int = 10, max_distance: float = 0.2,
                 document_name: str | None = None) -> None:
        self.searchable = bool(searchable)
        self.knowledge: SearchableKnowledge | UnsearchableKnowledge
        if self.searchable:
            self.knowledge = SearchableKnowledge(name, model, storage, text_extractor, chunker, max_results,
                                                 max_distance, max_knowledge_size)
        else:
            self.knowledge = UnsearchableKnowledge(name, storage, text_extractor, document_name, max_knowledge_size)

    @property
    def name(self) -> str:
        return self.knowledge.name

    @property
    def storage(self) -> Any:
        return self.knowledge.storage

    def __repr__(self) -> str:
        return f"Knowledge({self.name!r}, searchable={self.searchable})"

    async def add_document(self, document_name: str, document_url: str, content_type: str | None = None) -> None:
        await self.knowledge.add_document(document_name, document_url, content_type)

    async def add_text(self, document_name: str, text: str, content_type: str | None = None) -> None:
        await self.knowledge.add_text(document_name, text, content_type)

    async def search_knowledge(self, scope: str | None, conversation: str | None, query: str) -> str | None:
        return await self.knowledge.search_knowledge(scope, conversation, query)
