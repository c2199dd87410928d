"""Upstream's ``autonomy.knowledge.chunkers.protocol`` path (real home: :mod:`autonomy.knowledge.chunker`)."""

from autonomy.knowledge.chunker import Chunker

__all__ = ["Chunker"]
