"""Upstream's ``autonomy.knowledge.search`` path (real home: :mod:`autonomy.knowledge.pieces`)."""

from autonomy.knowledge.pieces import SearchHit, SearchResults, TextPiece

__all__ = ["SearchHit", "SearchResults", "TextPiece"]
