"""``SearchableKnowledge``: documents cut into pieces, embedded with ``model.embeddings``, searched by meaning."""

from __future__ import annotations

from typing import Any

from autonomy.errors import ConfigError
from autonomy.knowledge.base import KnowledgeBase, shrink
from autonomy.knowledge.chunker import Chunker, NaiveChunker
from autonomy.knowledge.extractors import TextExtractor
from autonomy.knowledge.pieces import SearchHit, TextPiece
from autonomy.knowledge.storage import Storage

__all__ = ["SearchableKnowledge", "DEFAULT_EMBEDDING_MODEL", "EMBEDDING_BATCH"]

#: The model used when none is given: upstream's alias; the local cluster's gateway serves it (and any
#: other name) with its embedded all-MiniLM-L6-v2.
DEFAULT_EMBEDDING_MODEL = "embed-english"
#: Pieces embedded per request.
EMBEDDING_BATCH = 64


class SearchableKnowledge(KnowledgeBase):
    """Answers a query with the ``max_results`` pieces nearest to it within ``max_distance`` (cosine).

    The answer groups pieces by document (``"Document name: X\\n- piece\\n- piece"``), nearest document
    first, and stops adding pieces before ``max_knowledge_size`` characters; None when nothing is near.
    """

    def __init__(self, name: str, model: Any = None, storage: Storage | None = None,
                 text_extractor: TextExtractor | None = None, chunker: Chunker | None = None, max_results: int = 10,
                 max_distance: float = 0.2, max_knowledge_size: int = 4096) -> None:
        super().__init__(name, storage, text_extractor, max_knowledge_size)
        if model is None:
            from autonomy.models import Model

            model = Model(DEFAULT_EMBEDDING_MODEL)
        if not callable(getattr(model, "embeddings", None)):
            raise ConfigError(f"Knowledge(model={model!r}): searchable knowledge needs a model with embeddings "
                              "(e.g. Model('embed-english'))")
        if not isinstance(max_results, int) or max_results < 1:
            raise ConfigError(f"Knowledge(max_results={max_results!r}): must be a whole number >= 1")
        if not isinstance(max_distance, int | float) or not 0 <= max_distance <= 2:
            raise ConfigError(f"Knowledge(max_distance={max_distance!r}): must be a cosine distance from 0 to 2")
        self.model = model
        self.chunker: Chunker = chunker or NaiveChunker()
        self.max_results = max_results
        self.max_distance = float(max_distance)

    async def _embed(self, texts: list[str]) -> list[list[float]]:
        vectors: list[list[float]] = []
        for start in range(0, len(texts), EMBEDDING_BATCH):
            batch = texts[start:start + EMBEDDING_BATCH]
            answer = await self.model.embeddings(batch)
            if len(answer) != len(batch):
                raise ConfigError(f"model {self.model!r} gave {len(answer)} embeddings for {len(batch)} texts")
            vectors.extend(list(map(float, vector)) for vector in answer)
        return vectors

    async def _index(self, document_name: str, text: str) -> None:
        chunks = await self.chunker.chunk(text)
        if not chunks:
            return
        pieces = [TextPiece(chunk, vector) for chunk, vector in zip(chunks, await self._embed(chunks), strict=True)]
        many = getattr(self.storage, "store_text_pieces", None)
        if many is not None:
            await many(self.name, document_name, pieces)
            return
        for piece in pieces:
            await self.storage.store_text_piece(self.name, document_name, piece)

    async def search(self, query: str) -> list[SearchHit]:
        """The hits for ``query``, nearest first."""
        if not isinstance(query, str) or not query.strip():
            raise ConfigError("query: must be a non-empty string")
        (vector,) = await self._embed([query])
        results = await self.storage.search_text(self.name, vector, self.max_results, self.max_distance)
        return list(results)

    async def search_knowledge(self, scope: str | None, conversation: str | None, query: str) -> str | None:
        hits = await self.search(query)
        if not hits:
            return None
        grouped: dict[str, list[str]] = {}
        for hit in hits:
            grouped.setdefault(hit.document_name, []).append(hit.text_piece.text)
        blocks: list[str] = []
        size = 0
        for document, pieces in grouped.items():
            header = f"Document name: {document}"
            lines: list[str] = []
            for piece in pieces:
                line = f"- {piece}"
                extra = len(line) + 1 + (len(header) + 2 if not lines else 0)
                if size + extra > self.max_knowledge_size and (blocks or lines):
                    break
                lines.append(line)
                size += extra
            if lines:
                blocks.append("\n".join([header, *lines]))
            if size >= self.max_knowledge_size:
                break
        return shrink("\n\n".join(blocks), self.max_knowledge_size)
