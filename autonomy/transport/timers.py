"""Timeouts on the hot path: a loop timer that fails a future, instead of ``asyncio.timeout()``.

``asyncio.timeout()`` around ``await future`` costs a context manager, a current-task lookup, a
timer and, on expiry, a task cancellation turned back into an error: measured, a request/reply
with ``timeout=`` ran at 0.4x the one without (docs/benchmarks.md, scale). A timer from
``loop.call_later`` that sets the error on the future, cancelled once the future is done, costs
one timer and keeps the caller's task untouched. Usage::

    timer = loop.call_later(timeout, expire, future, DeliveryTimeout, address, timeout)
    try:
        return await future
    finally:
        timer.cancel()
"""

from __future__ import annotations

import asyncio
from typing import Any

__all__ = ["expire"]


def expire(future: asyncio.Future[Any], error: type[BaseException], *args: Any) -> None:
    """Fail ``future`` with ``error(*args)`` unless it is already done (a timer's callback)."""
    if not future.done():
        future.set_exception(error(*args))
