"""NaiveChunker and text extraction (plain text, Markdown, HTML, PDF through pypdfium2)."""

from __future__ import annotations

import pytest

from autonomy.errors import ConfigError
from autonomy.knowledge import DefaultTextExtractor, NaiveChunker
from autonomy.knowledge.extractors import guess_content_type


async def test_naive_chunker_cuts_at_spaces_with_overlap_and_covers_the_text():
    text = " ".join(f"word{i}" for i in range(200))
    pieces = await NaiveChunker(max_characters=50, overlap=10).chunk(text)
    assert len(pieces) > 5
    assert all(len(p) <= 50 for p in pieces)
    assert all(not p.startswith(" ") and not p.endswith(" ") for p in pieces)
    words = {w for p in pieces for w in p.split()}
    assert {f"word{i}" for i in range(200)} <= words  # nothing lost (overlapping pieces may repeat a word)
    assert pieces[1].split()[0] in pieces[0]  # each piece starts inside the previous one


async def test_naive_chunker_defaults_and_edges():
    chunker = NaiveChunker()
    assert (chunker.max_characters, chunker.overlap) == (256, 16)
    assert await chunker.chunk("") == []
    assert await chunker.chunk("   \n ") == []
    assert await chunker.chunk("short text") == ["short text"]
    long_word = "x" * 600
    pieces = await chunker.chunk(long_word)
    assert all(len(p) <= 256 for p in pieces) and "".join(pieces).count("x") >= 600


@pytest.mark.parametrize("kwargs, field", [({"max_characters": 0}, "max_characters"),
                                           ({"max_characters": 10, "overlap": 10}, "overlap"),
                                           ({"overlap": -1}, "overlap")])
def test_naive_chunker_refuses_bad_sizes_naming_them(kwargs, field):
    with pytest.raises(ConfigError, match=field):
        NaiveChunker(**kwargs)


def _pdf(lines: list[str]) -> bytes:
    """A minimal one-page PDF with ``lines`` in Helvetica (offsets computed, as a PDF writer does)."""
    text = "BT /F1 14 Tf 72 720 Td 18 TL " + " ".join(f"({line}) Tj T*" for line in lines) + " ET"
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents 4 0 R "
        b"/Resources << /Font << /F1 5 0 R >> >> >>",
        b"<< /Length %d >>\nstream\n" % len(text) + text.encode() + b"\nendstream",
        b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>",
    ]
    out, offsets = bytearray(b"%PDF-1.4\n"), []
    for number, body in enumerate(objects, 1):
        offsets.append(len(out))
        out += b"%d 0 obj\n" % number + body + b"\nendobj\n"
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1)
    out += b"".join(b"%010d 00000 n \n" % offset for offset in offsets)
    out += b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (len(objects) + 1, xref)
    return bytes(out)


async def test_text_from_pdf_html_markdown_and_plain_text():
    extractor = DefaultTextExtractor()
    pdf = await extractor.extract_text(_pdf(["Invoices are due in thirty days.", "Late fees apply."]))
    assert "Invoices are due in thirty days." in pdf and "Late fees apply." in pdf

    page = ("<!DOCTYPE html><html><head><title>T</title><style>p{color:red}</style></head><body>"
            "<h1>Returns</h1><p>Items may be returned&nbsp;within <b>14 days</b>.</p>"
            "<script>alert('x')</script><ul><li>one</li><li>two</li></ul></body></html>")
    text = await extractor.extract_text(page.encode(), "text/html; charset=utf-8")
    assert text.splitlines() == ["Returns", "Items may be returned\xa0within 14 days.", "one", "two"]

    markdown = "# Title\n\n- a *point*\n"
    assert await extractor.extract_text(markdown.encode(), document_name="notes.md") == markdown
    assert await extractor.extract_text("héllo".encode()) == "héllo"


def test_content_type_comes_from_the_type_then_the_name_then_the_bytes():
    assert guess_content_type(b"", "Text/HTML; charset=utf-8") == "text/html"
    assert guess_content_type(b"", None, "https://x.test/guide.pdf?v=2") == "application/pdf"
    assert guess_content_type(b"", None, "README.md") == "text/markdown"
    assert guess_content_type(b"%PDF-1.7 ...") == "application/pdf"
    assert guess_content_type(b"  <!doctype html><p>x") == "text/html"
    assert guess_content_type(b"plain") == "text/plain"


async def test_unreadable_content_is_refused_naming_the_type():
    with pytest.raises(ConfigError, match="image/png"):
        await DefaultTextExtractor().extract_text(b"\x89PNG....", "image/png", "logo.png")
    with pytest.raises(ConfigError, match="not a readable PDF"):
        await DefaultTextExtractor().extract_text(b"%PDF-1.4 broken", "application/pdf")
