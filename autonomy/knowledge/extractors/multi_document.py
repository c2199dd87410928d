"""Upstream's ``autonomy.knowledge.extractors.multi_document`` path: ``MultiDocumentExtractor`` is our
``DefaultTextExtractor``, which reads plain text, Markdown, HTML and PDF
(real home: :mod:`autonomy.knowledge.extractors`)."""

from autonomy.knowledge.extractors import DefaultTextExtractor as MultiDocumentExtractor

__all__ = ["MultiDocumentExtractor"]
