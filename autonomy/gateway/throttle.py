"""Per-model throttling: a concurrency cap, a bounded waiting queue, and retries with backoff.

:class:`ModelThrottle` admits at most ``max_concurrency`` requests at once; up to ``max_queue``
more wait in FIFO order, each at most ``queue_timeout`` seconds; beyond that the request fails with
:class:`~autonomy.errors.GatewayBusy` (HTTP 429 with ``Retry-After``), so the node's own throttle
backs off. :func:`retry_delay` decides how long to wait before retrying an upstream 429/5xx.
"""

from __future__ import annotations

import asyncio
import contextlib
import email.utils
import time
from collections import deque
from collections.abc import AsyncIterator

from autonomy.errors import GatewayBusy
from autonomy.gateway.config import ThrottleConfig

__all__ = ["ModelThrottle", "Throttles", "RETRYABLE_STATUSES", "retry_delay"]

#: Upstream statuses worth retrying: rate limited, or a transient server failure.
RETRYABLE_STATUSES = frozenset({408, 409, 429, 500, 502, 503, 504, 529})


class ModelThrottle:
    """Admission control for one model. Cancellation while waiting leaves the queue cleanly."""

    def __init__(self, model: str, config: ThrottleConfig) -> None:
        self.model = model
        self.config = config
        self.running = 0
        self._waiters: deque[asyncio.Future[None]] = deque()

    @property
    def waiting(self) -> int:
        return len(self._waiters)

    @contextlib.asynccontextmanager
    async def slot(self) -> AsyncIterator[None]:
        """Hold one of the model's slots for the duration of the block; raises GatewayBusy."""
        await self._acquire()
        try:
            yield
        finally:
            self._release()

    async def _acquire(self) -> None:
        if self.running < self.config.max_concurrency and not self._waiters:
            self.running += 1
            return
        if len(self._waiters) >= self.config.max_queue:
            raise GatewayBusy(self.model, f"{self.running} requests running and {len(self._waiters)} "
                                          f"queued (max_queue={self.config.max_queue})")
        waiter: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._waiters.append(waiter)
        try:
            await asyncio.wait_for(asyncio.shield(waiter), self.config.queue_timeout)
        except (TimeoutError, asyncio.CancelledError) as exc:
            if waiter.done() and not waiter.cancelled():
                self._release()  # the slot was handed over just as we gave up: pass it on
            else:
                waiter.cancel()
                with contextlib.suppress(ValueError):
                    self._waiters.remove(waiter)
            if isinstance(exc, TimeoutError):
                raise GatewayBusy(self.model, f"waited {self.config.queue_timeout:g} s in the queue "
                                              "(queue_timeout)") from None
            raise

    def _release(self) -> None:
        # Hand the slot straight to the next live waiter (running stays the same), else free it.
        while self._waiters:
            waiter = self._waiters.popleft()
            if not waiter.done():
                waiter.set_result(None)
                return
        self.running -= 1


class Throttles:
    """One :class:`ModelThrottle` per (provider, model), made on first use; owned by one gateway app."""

    def __init__(self) -> None:
        self._throttles: dict[tuple[str, str], ModelThrottle] = {}

    def get(self, provider: str, model: str, config: ThrottleConfig) -> ModelThrottle:
        key = (provider, model)
        throttle = self._throttles.get(key)
        if throttle is None or throttle.config != config:
            throttle = self._throttles[key] = ModelThrottle(model, config)
        return throttle


def retry_delay(attempt: int, retry_after: str | None, config: ThrottleConfig) -> float:
    """Seconds to wait before retry number ``attempt`` (1-based).

    ``Retry-After`` (seconds or an HTTP date) wins when present; otherwise ``initial_backoff``
    doubled per attempt. Either way capped at ``max_backoff``.
    """
    delay: float | None = None
    if retry_after:
        try:
            delay = float(retry_after)
        except ValueError:
            with contextlib.suppress(TypeError, ValueError):
                when = email.utils.parsedate_to_datetime(retry_after)
                delay = when.timestamp() - time.time()
    if delay is None:
        delay = config.initial_backoff * (2 ** (attempt - 1))
    return max(0.0, min(delay, config.max_backoff))
