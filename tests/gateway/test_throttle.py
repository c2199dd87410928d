"""ModelThrottle admission (cap, FIFO queue, timeout, cancellation) and the retry delay rule."""

from __future__ import annotations

import asyncio
import email.utils
import time

import pytest

from autonomy.errors import GatewayBusy
from autonomy.gateway.config import ThrottleConfig
from autonomy.gateway.throttle import ModelThrottle, retry_delay


async def test_waiters_are_admitted_in_arrival_order_as_slots_free() -> None:
    throttle = ModelThrottle("m", ThrottleConfig(max_concurrency=1, max_queue=10, queue_timeout=10))
    order: list[int] = []
    gate = asyncio.Event()

    async def use(i: int) -> None:
        async with throttle.slot():
            order.append(i)
            await gate.wait()

    tasks = [asyncio.create_task(use(i)) for i in range(4)]
    await asyncio.sleep(0)  # each task runs to its first wait: one holds the slot, three queue
    assert throttle.waiting == 3
    assert throttle.running == 1 and order == [0]
    gate.set()
    await asyncio.gather(*tasks)
    assert order == [0, 1, 2, 3] and throttle.running == 0


async def test_queue_wait_timeout_and_cancellation_leave_the_throttle_consistent() -> None:
    throttle = ModelThrottle("m", ThrottleConfig(max_concurrency=1, max_queue=5, queue_timeout=0.01))
    async with throttle.slot():
        with pytest.raises(GatewayBusy, match="queue_timeout"):
            async with throttle.slot():
                pass
        waiter = asyncio.create_task(throttle.slot().__aenter__())
        await asyncio.sleep(0)
        waiter.cancel()
        with pytest.raises(asyncio.CancelledError):
            await waiter
        assert throttle.waiting == 0
    assert throttle.running == 0
    async with throttle.slot():
        assert throttle.running == 1


def test_retry_after_wins_over_backoff_and_is_capped() -> None:
    config = ThrottleConfig(initial_backoff=0.5, max_backoff=10)
    assert retry_delay(1, None, config) == 0.5 and retry_delay(3, None, config) == 2.0
    assert retry_delay(1, "3", config) == 3.0 and retry_delay(1, "3600", config) == 10
    soon = email.utils.formatdate(time.time() + 5, usegmt=True)
    assert 3 <= retry_delay(1, soon, config) <= 5
