"""An agent turn's time limit (autonomy.agents.deadline): asyncio.timeout's semantics, one timer."""

from __future__ import annotations

import asyncio

import pytest

from autonomy.agents.deadline import Deadline


async def test_a_block_that_outlives_its_deadline_raises_timeout_error():
    deadline = Deadline(0.01)
    with pytest.raises(TimeoutError):
        async with deadline:
            await asyncio.Event().wait()
    assert deadline.expired()


async def test_a_block_that_ends_in_time_is_untouched_and_its_timer_is_gone():
    deadline = Deadline(0)  # due at the next loop turn, but the block ends before any
    async with deadline:
        pass
    for _ in range(3):  # loop turns (not wall time): a timer left behind would cancel this task here
        await asyncio.sleep(0)
    assert not deadline.expired()
    assert asyncio.current_task().cancelling() == 0


async def test_a_cancellation_from_outside_stays_a_cancellation():
    entered = asyncio.Event()

    async def turn() -> None:
        async with Deadline(30):
            entered.set()
            await asyncio.Event().wait()

    task = asyncio.get_running_loop().create_task(turn())
    await entered.wait()
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task


async def test_an_outside_cancellation_that_meets_the_deadline_is_not_swallowed():
    async def turn() -> None:
        async with Deadline(0):
            asyncio.current_task().cancel()  # cancelled by someone else too, before the deadline's turn
            await asyncio.Event().wait()

    task = asyncio.get_running_loop().create_task(turn())
    with pytest.raises(asyncio.CancelledError):
        await task
