"""Upstream's ``autonomy.knowledge.extractors.pypdfium2`` path: ``PdfTextExtractor`` is our ``DefaultTextExtractor``,
which reads plain text, Markdown, HTML and PDF (real home: :mod:`autonomy.knowledge.extractors`)."""

from autonomy.knowledge.extractors import DefaultTextExtractor as PdfTextExtractor

__all__ = ["PdfTextExtractor"]
