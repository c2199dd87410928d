"""gather(*aws, batch_size=): results in order, at most batch_size running at once."""

from __future__ import annotations

import asyncio

import pytest

from autonomy import gather


async def test_results_keep_their_order_and_concurrency_is_capped():
    running, peak = 0, 0
    gates = [asyncio.Event() for _ in range(6)]

    async def job(i):
        nonlocal running, peak
        running += 1
        peak = max(peak, running)
        await gates[i].wait()
        running -= 1
        return i * 10

    task = asyncio.ensure_future(gather(*(job(i) for i in range(6)), batch_size=2))
    for gate in reversed(gates):  # finishing in reverse order does not change the result order
        await asyncio.sleep(0)
        gate.set()
    assert await task == [0, 10, 20, 30, 40, 50]
    assert peak == 2


async def test_without_batch_size_all_run_at_once():
    started = asyncio.Event()
    count = 0

    async def job():
        nonlocal count
        count += 1
        if count == 3:
            started.set()
        await started.wait()
        return count

    assert await asyncio.wait_for(gather(job(), job(), job()), 30) == [3, 3, 3]


async def test_the_first_failure_propagates_and_unstarted_work_never_runs():
    ran = []

    async def job(i):
        ran.append(i)
        if i == 0:
            raise RuntimeError("boom")
        await asyncio.sleep(0)
        return i

    with pytest.raises(RuntimeError, match="boom"):
        await gather(*(job(i) for i in range(5)), batch_size=1)
    assert ran == [0]
    assert await gather(job(0), job(1), batch_size=1, return_exceptions=True) != []


async def test_a_bad_batch_size_is_refused():
    async def job():
        return 1

    with pytest.raises(ValueError, match="batch_size must be a positive integer"):
        await gather(job(), batch_size=0)
