"""Splitting a document's text into the pieces that are embedded and searched."""

from __future__ import annotations

from typing import Protocol, runtime_checkable

from autonomy.errors import ConfigError

__all__ = ["Chunker", "NaiveChunker"]


@runtime_checkable
class Chunker(Protocol):
    async def chunk(self, text: str) -> list[str]: ...


class NaiveChunker:
    """Pieces of at most ``max_characters``, each starting ``overlap`` characters before the previous one ends.

    A piece ends at the last whitespace in its window when there is one past the overlap, so words are
    not cut; a word longer than the window is cut. Whitespace-only pieces are dropped.
    """

    def __init__(self, max_characters: int = 256, overlap: int = 16) -> None:
        if not isinstance(max_characters, int) or max_characters < 1:
            raise ConfigError(f"NaiveChunker(max_characters={max_characters!r}): must be a whole number >= 1")
        if not isinstance(overlap, int) or not 0 <= overlap < max_characters:
            raise ConfigError(f"NaiveChunker(overlap={overlap!r}): must be a whole number >= 0 and < "
                              f"max_characters ({max_characters})")
        self.max_characters = max_characters
        self.overlap = overlap

    async def chunk(self, text: str) -> list[str]:
        return self.chunk_sync(text)

    def chunk_sync(self, text: str) -> list[str]:
        pieces: list[str] = []
        start, size = 0, len(text)
        while start < size:
            end = min(start + self.max_characters, size)
            if end < size:
                cut = max(text.rfind(" ", start, end), text.rfind("\n", start, end))
                if cut > start + self.overlap:
                    end = cut
            piece = text[start:end].strip()
            if piece:
                pieces.append(piece)
            if end >= size:
                break
            start = max(end - self.overlap, start + 1)
        return pieces
