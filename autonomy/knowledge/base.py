"""What searchable and unsearchable knowledge share: adding documents and texts, and the size limit."""

from __future__ import annotations

from typing import Any

from autonomy.errors import ConfigError
from autonomy.knowledge.documents import fetch_document
from autonomy.knowledge.extractors import DefaultTextExtractor, TextExtractor
from autonomy.knowledge.in_memory import InMemory
from autonomy.knowledge.storage import Storage

__all__ = ["KnowledgeBase", "shrink"]


def shrink(text: str, limit: int) -> str:
    """``text`` cut to at most ``limit`` characters (at a line end when one is near), marked when cut."""
    if len(text) <= limit:
        return text
    marker = "\n[...]"
    cut = text[: max(0, limit - len(marker))]
    newline = cut.rfind("\n")
    if newline > len(cut) * 3 // 4:
        cut = cut[:newline]
    return cut + marker if limit > len(marker) else text[:limit]


class KnowledgeBase:
    def __init__(self, name: str, storage: Storage | None, text_extractor: TextExtractor | None,
                 max_knowledge_size: int) -> None:
        if not isinstance(name, str) or not name.strip():
            raise ConfigError(f"Knowledge(name={name!r}): must be a non-empty string")
        if not isinstance(max_knowledge_size, int) or max_knowledge_size < 1:
            raise ConfigError(f"Knowledge(max_knowledge_size={max_knowledge_size!r}): must be a whole number of "
                              "characters >= 1")
        self.name = name
        self.storage: Any = storage if storage is not None else InMemory()
        self.text_extractor: TextExtractor = text_extractor or DefaultTextExtractor()
        self.max_knowledge_size = max_knowledge_size

    async def add_document(self, document_name: str, document_url: str, content_type: str | None = None) -> None:
        """Read ``document_url`` (http(s), file:// or a path), extract its text, and add it."""
        self._check_document_name(document_name)
        content, served_type = await fetch_document(document_url)
        text = await self.text_extractor.extract_text(content, content_type or served_type, document_url)
        await self.add_text(document_name, text)

    async def add_text(self, document_name: str, text: str, content_type: str | None = None) -> None:
        """Add ``text`` as the document ``document_name`` (replacing a document of that name).

        With ``content_type`` (e.g. ``text/html``) the text is first passed through the text extractor.
        """
        self._check_document_name(document_name)
        if not isinstance(text, str):
            raise ConfigError(f"add_text(text=...): must be a string, not {type(text).__name__}")
        if content_type:
            text = await self.text_extractor.extract_text(text.encode(), content_type, document_name)
        await self.storage.store_document(self.name, document_name, text)
        await self._index(document_name, text)

    async def _index(self, document_name: str, text: str) -> None:
        """Searchable knowledge embeds the text's pieces here."""

    @staticmethod
    def _check_document_name(document_name: str) -> None:
        if not isinstance(document_name, str) or not document_name.strip():
            raise ConfigError(f"document_name={document_name!r}: must be a non-empty string")
