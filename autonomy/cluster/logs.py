"""Reading containers' log files for ``zone logs``: the last lines, then (follow) new lines as written."""

from __future__ import annotations

import asyncio
import os
from collections.abc import AsyncIterator, Callable
from pathlib import Path

__all__ = ["tail_lines", "follow_logs"]

POLL = 0.2  # a log file has no change event that works everywhere: polling its size is the portable way


def tail_lines(path: Path, count: int) -> list[str]:
    """The last ``count`` lines of ``path`` (the rotated ``.1`` file too when needed)."""
    lines: list[str] = []
    for p in (path.with_name(path.name + ".1"), path):
        try:
            lines.extend(p.read_text(errors="replace").splitlines())
        except OSError:
            continue
    return lines[-count:] if count > 0 else []


async def follow_logs(files: list[tuple[str, Path]], tail: int, alive: Callable[[], bool]) -> AsyncIterator[str]:
    """Yield ``[label] line`` for the last ``tail`` lines of each file, then new lines until ``alive()``
    turns false. A file that shrinks (rotated) is read again from its start."""
    prefix = len(files) > 1
    offsets: dict[Path, int] = {}
    for label, path in files:
        for line in await asyncio.to_thread(tail_lines, path, tail):
            yield f"[{label}] {line}" if prefix else line
        offsets[path] = _size(path)
    partial: dict[Path, bytes] = {}
    while alive():
        await asyncio.sleep(POLL)
        for label, path in files:
            size = _size(path)
            if size < offsets[path]:
                offsets[path] = 0
            if size == offsets[path]:
                continue
            data = partial.pop(path, b"") + await asyncio.to_thread(_read, path, offsets[path], size)
            offsets[path] = size
            *complete, rest = data.split(b"\n")
            if rest:
                partial[path] = rest
            for raw in complete:
                line = raw.decode(errors="replace")
                yield f"[{label}] {line}" if prefix else line


def _read(path: Path, start: int, end: int) -> bytes:
    with open(path, "rb") as f:
        f.seek(start)
        return f.read(end - start)


def _size(path: Path) -> int:
    try:
        return os.stat(path).st_size
    except OSError:
        return 0
