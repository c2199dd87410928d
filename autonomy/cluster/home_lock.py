"""One process of a kind per cluster home: an exclusive, non-blocking ``flock`` held while it runs."""

from __future__ import annotations

import contextlib
import fcntl
from collections.abc import Iterator
from pathlib import Path

from autonomy.errors import ClusterError

__all__ = ["exclusive"]


@contextlib.contextmanager
def exclusive(lock_path: Path, refusal: str) -> Iterator[None]:
    """Hold the lock at ``lock_path`` (its folder made 0700 when missing) while the block runs; raise
    ClusterError(``refusal``) at once when another process holds it. The kernel drops the lock with its
    holder, so a killed process never leaves a stale one."""
    lock_path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    with open(lock_path, "a+") as lock:
        try:
            fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError as exc:
            raise ClusterError(refusal) from exc
        yield
