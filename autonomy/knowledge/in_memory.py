"""``InMemory``: Knowledge storage in the process (exact search over every piece; lost at exit)."""

from __future__ import annotations

import math
import operator
from collections.abc import Sequence

from autonomy.errors import ConfigError
from autonomy.knowledge.pieces import SearchHit, SearchResults, TextPiece

__all__ = ["InMemory"]


class InMemory:
    """Documents and pieces in dicts; a search compares the query with every piece (fine to ~100k pieces)."""

    def __init__(self) -> None:
        self._documents: dict[str, dict[str, str]] = {}
        # each piece with its embedding scaled to unit length (None: not searchable), so a search is one
        # dot product per piece
        self._pieces: dict[str, list[tuple[str, TextPiece, list[float] | None]]] = {}

    async def store_document(self, knowledge: str, document_name: str, text: str) -> None:
        self._documents.setdefault(knowledge, {})[document_name] = text
        pieces = self._pieces.get(knowledge)
        if pieces:
            self._pieces[knowledge] = [entry for entry in pieces if entry[0] != document_name]

    async def documents(self, knowledge: str) -> list[tuple[str, str]]:
        return list(self._documents.get(knowledge, {}).items())

    async def store_text_piece(self, knowledge: str, document_name: str, piece: TextPiece) -> None:
        self._pieces.setdefault(knowledge, []).append((document_name, piece, _unit(piece.embedding)))

    async def search_text(self, knowledge: str, embedding: Sequence[float], max_results: int,
                          max_distance: float) -> SearchResults:
        query = _unit(embedding) or [0.0] * len(embedding)
        hits = []
        for name, piece, unit in self._pieces.get(knowledge, []):
            if unit is None:
                continue
            if len(unit) != len(query):
                raise ConfigError(f"knowledge {knowledge!r}: the query's embedding has {len(query)} dimensions, "
                                  f"the stored pieces {len(unit)}: use the model the documents were added with")
            distance = 1.0 - sum(map(operator.mul, query, unit))
            if distance <= max_distance:
                hits.append(SearchHit(name, piece, distance))
        hits.sort(key=lambda hit: hit.distance)
        return SearchResults(hits[:max_results])


def _unit(vector: Sequence[float] | None) -> list[float] | None:
    """``vector`` scaled to length 1; None for None; a zero vector stays zero (distance 1 to everything)."""
    if vector is None:
        return None
    norm = math.sqrt(sum(x * x for x in vector))
    return [x / norm for x in vector] if norm else [0.0 for _ in vector]
