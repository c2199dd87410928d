"""``gather(*aws, batch_size=None)``: ``asyncio.gather`` with an optional cap on concurrency (spec §1.10).

Results come back in the order of the arguments. With ``batch_size`` at most that many awaitables
run at once (the next starts when one finishes: a sliding window, not fixed batches). The first
exception propagates, as ``asyncio.gather`` does, and the awaitables not started yet are closed
without running; ``return_exceptions=True`` returns exceptions in place of results instead.
"""

from __future__ import annotations

import asyncio
import inspect
from collections.abc import Awaitable
from typing import Any

__all__ = ["gather"]


async def gather(*aws: Awaitable[Any], batch_size: int | None = None, return_exceptions: bool = False) -> list[Any]:
    """Await ``aws`` concurrently (at most ``batch_size`` at once); their results in order."""
    if batch_size is not None and (isinstance(batch_size, bool) or not isinstance(batch_size, int)
                                   or batch_size < 1):
        for aw in aws:
            if inspect.iscoroutine(aw):
                aw.close()
        raise ValueError(f"gather: batch_size must be a positive integer or None, not {batch_size!r}")
    if batch_size is None or batch_size >= len(aws):
        return list(await asyncio.gather(*aws, return_exceptions=return_exceptions))
    semaphore = asyncio.Semaphore(batch_size)
    started: set[int] = set()
    failed = False

    async def limited(i: int, aw: Awaitable[Any]) -> Any:
        nonlocal failed
        async with semaphore:
            if failed:  # an earlier one failed: gather is about to raise, start nothing more
                raise asyncio.CancelledError
            started.add(i)
            try:
                return await aw
            except Exception:
                failed = not return_exceptions
                raise

    tasks = [asyncio.ensure_future(limited(i, aw)) for i, aw in enumerate(aws)]
    try:
        return list(await asyncio.gather(*tasks, return_exceptions=return_exceptions))
    except BaseException:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        for i, aw in enumerate(aws):
            if i not in started and inspect.iscoroutine(aw):
                aw.close()  # never started: no "coroutine was never awaited" warning
        raise
