"""Upstream's ``autonomy.knowledge.extractors.plain`` path: ``PlainTextExtractor`` is our ``DefaultTextExtractor``,
which reads plain text, Markdown, HTML and PDF (real home: :mod:`autonomy.knowledge.extractors`)."""

from autonomy.knowledge.extractors import DefaultTextExtractor as PlainTextExtractor

__all__ = ["PlainTextExtractor"]
