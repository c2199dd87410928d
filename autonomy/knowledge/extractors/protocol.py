"""Upstream's ``autonomy.knowledge.extractors.protocol`` path (real home: :mod:`autonomy.knowledge.extractors`)."""

from autonomy.knowledge.extractors import TextExtractor

__all__ = ["TextExtractor"]
