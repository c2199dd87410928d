"""Reading a document for ``add_document``: an http(s) URL, a ``file://`` URL, or a local path."""

from __future__ import annotations

import asyncio
from pathlib import Path
from urllib.parse import unquote, urlsplit

import httpx

from autonomy.errors import ConfigError

__all__ = ["MAX_DOCUMENT_BYTES", "fetch_document"]

#: Documents larger than this are refused (the whole document is held in memory to extract its text).
MAX_DOCUMENT_BYTES = 64 * 1024 * 1024


async def fetch_document(document_url: str, timeout: float = 60.0) -> tuple[bytes, str | None]:
    """The document's bytes and its content type when the server said one (None for files)."""
    if not isinstance(document_url, str) or not document_url.strip():
        raise ConfigError("add_document(document_url=...): must be an http(s):// URL, a file:// URL or a path")
    parts = urlsplit(document_url)
    if parts.scheme in ("http", "https"):
        return await _download(document_url, timeout)
    if parts.scheme in ("file", ""):
        path = Path(unquote(parts.path) if parts.scheme == "file" else document_url)
        return await asyncio.to_thread(_read_file, path, document_url), None
    raise ConfigError(f"add_document(document_url={document_url!r}): scheme {parts.scheme!r} is not supported "
                      "(use http://, https://, file:// or a path)")


def _read_file(path: Path, document_url: str) -> bytes:
    try:
        size = path.stat().st_size
        if size > MAX_DOCUMENT_BYTES:
            raise ConfigError(f"add_document(document_url={document_url!r}): {size} bytes, more than the "
                              f"{MAX_DOCUMENT_BYTES} a document may have")
        return path.read_bytes()
    except OSError as exc:
        raise ConfigError(f"add_document(document_url={document_url!r}): cannot read it: {exc.strerror}") from exc


async def _download(url: str, timeout: float) -> tuple[bytes, str | None]:
    shown = url.split("?")[0]
    try:
        async with httpx.AsyncClient(timeout=timeout, follow_redirects=True) as client:
            async with client.stream("GET", url) as response:
                if response.status_code >= 400:
                    raise ConfigError(f"add_document(document_url={shown!r}): the server answered HTTP "
                                      f"{response.status_code}")
                chunks, size = [], 0
                async for chunk in response.aiter_bytes():
                    size += len(chunk)
                    if size > MAX_DOCUMENT_BYTES:
                        raise ConfigError(f"add_document(document_url={shown!r}): larger than the "
                                          f"{MAX_DOCUMENT_BYTES} bytes a document may have")
                    chunks.append(chunk)
                return b"".join(chunks), response.headers.get("content-type")
    except httpx.HTTPError as exc:
        raise ConfigError(f"add_document(document_url={shown!r}): cannot download it: "
                          f"{type(exc).__name__}: {exc}") from exc
