"""Client-side throttling of model requests, and retries with exponential backoff.

A :class:`Throttle` is shared by every ``Model`` of the same name and endpoint in one event loop. A
request first waits in a bounded queue (``max_waiting``; a full queue fails at once) for both a rate
token and a concurrency slot; waiting longer than ``max_wait_seconds`` fails with ``ModelTimeout``.
The rate is a token bucket refilled at ``requests_per_minute`` with a burst of ``max_in_progress``.
It adapts (AIMD): a 429 halves the rate (not below 1 rpm); each success adds 1 rpm, up to the
configured rate. Retries (:func:`with_retries`) apply to every Model, throttled or not.
"""

from __future__ import annotations

import asyncio
import time
import weakref
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from typing import Any, TypeVar

from autonomy.errors import ModelError, ModelTimeout

__all__ = ["Throttle", "throttle_for", "with_retries"]

T = TypeVar("T")


class Throttle:
    """Rate, concurrency and queue limits for one model (see the module docstring)."""

    def __init__(self, *, requests_per_minute: float, max_in_progress: int, max_waiting: int,
                 max_wait_seconds: float) -> None:
        self.configured_rpm = max(1.0, float(requests_per_minute))
        self.rpm = self.configured_rpm
        self.max_in_progress = max(1, int(max_in_progress))
        self.max_waiting = max(0, int(max_waiting))
        self.max_wait_seconds = max_wait_seconds
        self.waiting = 0
        self.in_progress = 0
        self._tokens = float(self.max_in_progress)
        self._refilled = time.monotonic()
        self._rate_lock = asyncio.Lock()  # FIFO: requests get tokens in arrival order
        self._slots = asyncio.Semaphore(self.max_in_progress)

    def _refill(self) -> None:
        now = time.monotonic()
        self._tokens = min(float(self.max_in_progress), self._tokens + (now - self._refilled) * self.rpm / 60.0)
        self._refilled = now

    async def _take_token(self) -> None:
        async with self._rate_lock:
            while True:
                self._refill()
                if self._tokens >= 1.0:
                    self._tokens -= 1.0
                    return
                await asyncio.sleep((1.0 - self._tokens) * 60.0 / self.rpm)

    @asynccontextmanager
    async def slot(self, model: str) -> AsyncIterator[None]:
        """Hold one request slot for the body of the ``async with``; raises ModelError/ModelTimeout."""
        if self.waiting >= self.max_waiting:
            raise ModelError(f"Model {model!r}: {self.waiting} requests already wait in the throttle queue "
                             "(throttle_max_requests_waiting_in_queue): retry later, or raise that limit",
                             model=model)
        self.waiting += 1
        acquired = False
        try:
            async with asyncio.timeout(self.max_wait_seconds):
                await self._take_token()
                await self._slots.acquire()
                acquired = True
        except TimeoutError as exc:
            raise ModelTimeout(f"Model {model!r}: waited {self.max_wait_seconds:g} s in the throttle queue "
                               "(throttle_max_seconds_to_wait_in_queue): retry later, or raise the limits",
                               model=model) from exc
        finally:
            self.waiting -= 1
        self.in_progress += 1
        try:
            yield
        finally:
            self.in_progress -= 1
            if acquired:
                self._slots.release()

    def rate_limited(self) -> None:
        """The endpoint answered 429: halve the rate."""
        self.rpm = max(1.0, self.rpm / 2)

    def succeeded(self) -> None:
        self.rpm = min(self.configured_rpm, self.rpm + 1.0)


_per_loop: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, dict[Any, Throttle]] = weakref.WeakKeyDictionary()


def throttle_for(key: Any, make: Callable[[], Throttle]) -> Throttle:
    """The throttle shared under ``key`` in the running loop; ``make()`` creates it on first use."""
    throttles = _per_loop.setdefault(asyncio.get_running_loop(), {})
    throttle = throttles.get(key)
    if throttle is None:
        throttle = throttles[key] = make()
    return throttle


async def with_retries(attempt: Callable[[], Awaitable[T]], *, model: str, max_retries: int, initial_delay: float,
                       max_delay: float, throttle: Throttle | None = None) -> T:
    """Run ``attempt()``; on a retryable ModelError (429, 5xx) retry up to ``max_retries`` times.

    The delay before retry ``k`` (0-based) is the answer's ``Retry-After`` if it gave one, else
    ``initial_delay * 2**k``, at most ``max_delay``. With a throttle, each attempt holds a slot and
    the backoff does not. Other errors (connection refused, 4xx) are raised at once.
    """
    retries = 0
    while True:
        try:
            if throttle is None:
                result = await attempt()
            else:
                async with throttle.slot(model):
                    result = await attempt()
                throttle.succeeded()
            return result
        except ModelError as exc:
            if not exc.retryable or retries >= max_retries:
                raise
            if throttle is not None and exc.status == 429:
                throttle.rate_limited()
            delay = exc.retry_after if exc.retry_after is not None else initial_delay * 2**retries
            retries += 1
            await asyncio.sleep(min(delay, max_delay))
