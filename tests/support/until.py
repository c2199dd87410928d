"""The one way tests wait for a condition: poll it with a deadline, fail with what was awaited.

``await until(condition)`` in async tests (``condition`` may be sync or async); ``until_sync`` in
blocking tests (the cluster's client is synchronous). Use them only where there is no event to wait
on (another process, a server thread): a handshake (an ``asyncio.Event`` set by the code under test)
is better whenever the test owns the code. Deadlines are generous: the machine may be loaded.
"""

from __future__ import annotations

import asyncio
import inspect
import time
from collections.abc import Callable
from typing import Any

__all__ = ["until", "until_sync"]

INTERVAL = 0.02


def _timed_out(timeout: float, what: str, describe: Callable[[], str] | None) -> AssertionError:
    detail = f"\n{describe()}" if describe else ""
    return AssertionError(f"timed out after {timeout:g} s waiting for {what}{detail}")


async def until(condition: Callable[[], Any], timeout: float = 20.0, what: str = "the condition",
                describe: Callable[[], str] | None = None, interval: float = INTERVAL) -> Any:
    """Poll ``condition()`` (awaited when it returns an awaitable) until it is truthy; return its value.

    Fails with AssertionError after ``timeout`` seconds, naming ``what`` and ``describe()``'s text."""
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if inspect.isawaitable(value):
            value = await value
        if value:
            return value
        if time.monotonic() > deadline:
            raise _timed_out(timeout, what, describe)
        await asyncio.sleep(interval)


def until_sync(condition: Callable[[], Any], timeout: float = 20.0, what: str = "the condition",
               describe: Callable[[], str] | None = None, interval: float = INTERVAL) -> Any:
    """:func:`until` for blocking tests: ``condition`` is a plain callable, the wait is ``time.sleep``."""
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() > deadline:
            raise _timed_out(timeout, what, describe)
        time.sleep(interval)
