"""``UnsearchableKnowledge``: every search answers the whole documents (or one), up to the size limit."""

from __future__ import annotations

from autonomy.knowledge.base import KnowledgeBase, shrink
from autonomy.knowledge.extractors import TextExtractor
from autonomy.knowledge.storage import Storage

__all__ = ["UnsearchableKnowledge"]


class UnsearchableKnowledge(KnowledgeBase):
    """Small knowledge given whole to the model: ``"Document name: X\\n<text>"`` per document.

    With ``document_name`` only that document is given. The answer is cut to ``max_knowledge_size``
    characters; None when there is no document.
    """

    def __init__(self, name: str, storage: Storage | None = None, text_extractor: TextExtractor | None = None,
                 document_name: str | None = None, max_knowledge_size: int = 4096) -> None:
        super().__init__(name, storage, text_extractor, max_knowledge_size)
        self.document_name = document_name

    async def search_knowledge(self, scope: str | None, conversation: str | None, query: str) -> str | None:
        documents = await self.storage.documents(self.name)
        if self.document_name is not None:
            documents = [(name, text) for name, text in documents if name == self.document_name]
        if not documents:
            return None
        text = "\n\n".join(f"Document name: {name}\n{body}" for name, body in documents)
        return shrink(text, self.max_knowledge_size)
