"""The data Knowledge stores and finds: text pieces with their embeddings, and search hits."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field

__all__ = ["TextPiece", "SearchHit", "SearchResults"]


@dataclass
class TextPiece:
    """A chunk of a document's text and its embedding (None in unsearchable knowledge)."""

    text: str
    embedding: list[float] | None = None


@dataclass
class SearchHit:
    """A piece found by a search; ``distance`` is the cosine distance to the query (0 = same direction)."""

    document_name: str
    text_piece: TextPiece
    distance: float = 0.0


@dataclass
class SearchResults:
    """The hits of one search, nearest first (iterable, with ``len``)."""

    hits: list[SearchHit] = field(default_factory=list)

    def __iter__(self) -> Iterator[SearchHit]:
        return iter(self.hits)

    def __len__(self) -> int:
        return len(self.hits)

    def __bool__(self) -> bool:
        return bool(self.hits)
