"""Upstream's ``autonomy.knowledge.chunkers`` path (real home: :mod:`autonomy.knowledge.chunker`)."""

from autonomy.knowledge.chunker import Chunker, NaiveChunker

__all__ = ["Chunker", "NaiveChunker"]
