"""``InMemory``: Knowledge storage in the process (exact search over every piece; lost at exit)."""

from __future__ import annotations

from collections.abc import Sequence

from autonomy.errors import ConfigError
from autonomy.knowledge.pieces import SearchHit, SearchResults, TextPiece
from autonomy.knowledge.storage import cosine_distance

__all__ = ["InMemory"]


class InMemory:
    """Documents and pieces in dicts; a search compares the query with every piece (fine to ~100k pieces)."""

    def __init__(self) -> None:
        self._documents: dict[str, dict[str, str]] = {}
        self._pieces: dict[str, list[tuple[str, TextPiece]]] = {}

    async def store_document(self, knowledge: str, document_name: str, text: str) -> None:
        self._documents.setdefault(knowledge, {})[document_name] = text
        pieces = self._pieces.get(knowledge)
        if pieces:
            self._pieces[knowledge] = [(name, piece) for name, piece in pieces if name != document_name]

    async def documents(self, knowledge: str) -> list[tuple[str, str]]:
        return list(self._documents.get(knowledge, {}).items())

    async def store_text_piece(self, knowledge: str, document_name: str, piece: TextPiece) -> None:
        self._pieces.setdefault(knowledge, []).append((document_name, piece))

    async def search_text(self, knowledge: str, embedding: Sequence[float], max_results: int,
                          max_distance: float) -> SearchResults:
        hits = []
        for name, piece in self._pieces.get(knowledge, []):
            if piece.embedding is None:
                continue
            if len(piece.embedding) != len(embedding):
                raise ConfigError(f"knowledge {knowledge!r}: the query's embedding has {len(embedding)} dimensions, "
                                  f"the stored pieces {len(piece.embedding)}: use the model the documents were "
                                  "added with")
            distance = cosine_distance(embedding, piece.embedding)
            if distance <= max_distance:
                hits.append(SearchHit(name, piece, distance))
        hits.sort(key=lambda hit: hit.distance)
        return SearchResults(hits[:max_results])
