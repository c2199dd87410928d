"""Upstream's ``autonomy.knowledge.util`` path: ``download_url`` over :func:`.documents.fetch_document`
(http(s)://, file:// or a path; our size limit and clear errors)."""

from __future__ import annotations

from autonomy.knowledge.documents import fetch_document

__all__ = ["download_url"]


async def download_url(url: str) -> bytes:
    """The bytes of the document at ``url``."""
    content, _ = await fetch_document(url)
    return content
