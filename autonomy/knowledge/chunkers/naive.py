"""Upstream's ``autonomy.knowledge.chunkers.naive`` path (real home: :mod:`autonomy.knowledge.chunker`)."""

from autonomy.knowledge.chunker import NaiveChunker

__all__ = ["NaiveChunker"]
