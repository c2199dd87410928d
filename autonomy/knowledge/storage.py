"""Where Knowledge keeps its documents and text pieces (``InMemory``, ``Database``, or your own).

Every call names the knowledge (its ``name``), so one storage can hold several knowledges apart.
Vectors are compared by cosine distance (``1 - cos``), nearest first.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Protocol, runtime_checkable

from autonomy.knowledge.pieces import SearchResults, TextPiece

__all__ = ["Storage", "cosine_distance"]


@runtime_checkable
class Storage(Protocol):
    async def store_document(self, knowledge: str, document_name: str, text: str) -> None:
        """Keep ``text`` as the document ``document_name`` (replacing one of that name, and its pieces)."""
        ...

    async def documents(self, knowledge: str) -> list[tuple[str, str]]:
        """Every document as ``(name, text)``, in the order they were first stored."""
        ...

    async def store_text_piece(self, knowledge: str, document_name: str, piece: TextPiece) -> None: ...

    async def search_text(self, knowledge: str, embedding: Sequence[float], max_results: int,
                          max_distance: float) -> SearchResults:
        """Up to ``max_results`` pieces within ``max_distance`` of ``embedding``, nearest first."""
        ...


def cosine_distance(a: Sequence[float], b: Sequence[float]) -> float:
    """``1 - cos(a, b)``: 0 for the same direction, 1 for orthogonal, 2 for opposite (1 if either is zero)."""
    dot = sum(x * y for x, y in zip(a, b, strict=True))
    norm = math.sqrt(sum(x * x for x in a)) * math.sqrt(sum(y * y for y in b))
    return 1.0 if norm == 0 else 1.0 - dot / norm
