"""Text from documents: plain text, Markdown, HTML and PDF (``pypdfium2``, the ``[pdf]`` extra).

The content type is the one given, else guessed from the document's name or URL (``.md``, ``.html``,
``.pdf``...), else from the bytes (``%PDF-``, an ``<html`` start); anything else is read as UTF-8 text.
Markdown is kept as it is (models read it well); HTML loses its tags, scripts and styles, keeping
line breaks at block elements.

Upstream's submodule paths are thin re-exports of this module: ``.protocol`` (``TextExtractor``),
``.multi_document`` (``MultiDocumentExtractor``), ``.plain`` (``PlainTextExtractor``) and ``.pypdfium2``
(``PdfTextExtractor``), all of them this module's ``DefaultTextExtractor``, which reads every type.
"""

from __future__ import annotations

import asyncio
import html
import importlib.util
import mimetypes
import re
from html.parser import HTMLParser
from typing import Protocol, runtime_checkable

from autonomy.errors import ConfigError, MissingExtra

__all__ = ["TextExtractor", "DefaultTextExtractor", "guess_content_type", "html_to_text", "create_extractor"]

_TEXT_TYPES = {"application/json", "application/xml", "application/x-yaml", "application/yaml", "text/csv"}
_MARKDOWN = {".md": "text/markdown", ".markdown": "text/markdown", ".txt": "text/plain"}


@runtime_checkable
class TextExtractor(Protocol):
    async def extract_text(self, content: bytes, content_type: str | None = None,
                           document_name: str | None = None) -> str: ...


def guess_content_type(content: bytes, content_type: str | None = None, name: str | None = None) -> str:
    """The bare media type (``text/html``) for ``content``, from the given type, the name, then the bytes."""
    if content_type:
        return content_type.split(";")[0].strip().lower()
    if name:
        path = re.sub(r"[?#].*$", "", name).lower()
        for suffix, kind in _MARKDOWN.items():
            if path.endswith(suffix):
                return kind
        guessed, _ = mimetypes.guess_type(path)
        if guessed:
            return guessed
    head = content[:512].lstrip().lower()
    if head.startswith(b"%pdf-"):
        return "application/pdf"
    if head.startswith((b"<!doctype html", b"<html")):
        return "text/html"
    return "text/plain"


class _HTMLText(HTMLParser):
    _SKIP = {"script", "style", "noscript", "template", "head"}
    _BLOCK = {"p", "div", "br", "li", "ul", "ol", "tr", "table", "section", "article", "header", "footer",
              "h1", "h2", "h3", "h4", "h5", "h6", "pre", "blockquote", "title", "hr"}

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self._skipping = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in self._SKIP:
            self._skipping += 1
        elif tag in self._BLOCK:
            self.parts.append("\n")

    def handle_endtag(self, tag: str) -> None:
        if tag in self._SKIP:
            self._skipping = max(0, self._skipping - 1)
        elif tag in self._BLOCK:
            self.parts.append("\n")

    def handle_data(self, data: str) -> None:
        if not self._skipping:
            self.parts.append(data)


def html_to_text(markup: str) -> str:
    """The visible text of an HTML page: one line per block, runs of spaces collapsed."""
    parser = _HTMLText()
    parser.feed(markup)
    parser.close()
    lines = (re.sub(r"[ \t\r\f\v]+", " ", line).strip() for line in html.unescape("".join(parser.parts)).split("\n"))
    return "\n".join(line for line in lines if line)


def _pdf_to_text(content: bytes) -> str:
    import pypdfium2 as pdfium

    try:
        document = pdfium.PdfDocument(content)
    except pdfium.PdfiumError as exc:
        raise ConfigError(f"the document is not a readable PDF: {exc}") from exc
    try:
        pages = []
        for index in range(len(document)):
            page = document[index]
            textpage = page.get_textpage()
            pages.append(textpage.get_text_range().replace("\r\n", "\n").strip())
            textpage.close()
            page.close()
        return "\n\n".join(p for p in pages if p)
    finally:
        document.close()


class DefaultTextExtractor:
    """Plain text, Markdown and other text types as UTF-8; HTML without markup; PDF with pypdfium2."""

    async def extract_text(self, content: bytes, content_type: str | None = None,
                           document_name: str | None = None) -> str:
        kind = guess_content_type(content, content_type, document_name)
        if kind == "application/pdf":
            if importlib.util.find_spec("pypdfium2") is None:
                raise MissingExtra("Text extraction from PDF", "pdf")
            return await asyncio.to_thread(_pdf_to_text, content)
        if kind in ("text/html", "application/xhtml+xml"):
            return html_to_text(content.decode("utf-8", errors="replace"))
        if kind.startswith("text/") or kind in _TEXT_TYPES:
            return content.decode("utf-8", errors="replace")
        raise ConfigError(f"content_type {kind!r} of document {document_name!r} cannot be read as text: "
                          "give text, Markdown, HTML or PDF, or pass a text_extractor that reads it")


def create_extractor() -> TextExtractor:
    """The extractor ``Knowledge`` uses when none is given (upstream's factory; no MarkItDown here)."""
    return DefaultTextExtractor()
