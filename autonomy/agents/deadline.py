"""A turn's time limit: ``asyncio.timeout`` at the cost of one loop timer.

``async with Deadline(seconds) as deadline:`` cancels the block when ``seconds`` pass and raises
:class:`TimeoutError` out of it (``deadline.expired()`` is then True), like ``asyncio.timeout``: a
cancellation that comes from elsewhere (the task was cancelled too) stays a cancellation. Unlike it,
the deadline cannot be moved.

Why not ``asyncio.timeout``: every agent turn runs under one, and its context manager (state enum,
``reschedule``, the task's cancel count both ways) cost ~5 us of a remote turn's ~170 us
(docs/benchmarks.md, "Scale"); this is a timer handle and two flags.
"""

from __future__ import annotations

import asyncio
from types import TracebackType

__all__ = ["Deadline"]


class Deadline:
    """See the module docstring. Use once, in one task."""

    __slots__ = ("_delay", "_task", "_handle", "_expired", "_cancelling")

    def __init__(self, delay: float) -> None:
        self._delay = delay
        self._task: asyncio.Task[object] | None = None
        self._handle: asyncio.TimerHandle | None = None
        self._expired = False
        self._cancelling = 0

    def expired(self) -> bool:
        """Whether the time ran out (the block was cancelled for it)."""
        return self._expired

    async def __aenter__(self) -> Deadline:
        task = asyncio.current_task()
        if task is None:
            raise RuntimeError("Deadline should be used inside a task")
        self._task = task
        self._cancelling = task.cancelling()
        self._handle = asyncio.get_running_loop().call_later(self._delay, self._expire)
        return self

    def _expire(self) -> None:
        self._expired = True
        self._task.cancel()  # type: ignore[union-attr]

    async def __aexit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                        tb: TracebackType | None) -> None:
        self._handle.cancel()  # type: ignore[union-attr]
        # as asyncio.timeout: our own cancellation becomes TimeoutError unless the task was cancelled too
        if self._expired and self._task.uncancel() <= self._cancelling and exc_type is asyncio.CancelledError:  # type: ignore[union-attr]
            raise TimeoutError from exc
