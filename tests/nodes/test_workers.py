"""Workers on one node: ordering, state, concurrency, replies, failures, stopping."""

from __future__ import annotations

import asyncio
import logging

import pytest

from autonomy import (
    DeliveryTimeout,
    Node,
    WorkerError,
    WorkerNotFound,
    WorkerStopped,
)
from autonomy.errors import AddressInUse, InvalidName


class Echo:
    async def handle_message(self, context, message):
        await context.reply(message)


class Counter:
    """Keeps state between messages."""

    def __init__(self):
        self.count = 0

    async def handle_message(self, context, message):
        self.count += 1
        await context.reply(str(self.count))


class OneAtATime:
    """Records how many messages it handles at once."""

    def __init__(self):
        self.active = 0
        self.max_active = 0
        self.seen = []

    async def handle_message(self, context, message):
        self.active += 1
        self.max_active = max(self.max_active, self.active)
        await asyncio.sleep(0.001)
        self.seen.append(message)
        self.active -= 1
        await context.reply(message)


class FailsOnBoom:
    async def handle_message(self, context, message):
        if message == "boom":
            raise RuntimeError("exploded")
        await context.reply("fine")


class Blocker:
    def __init__(self):
        self.started = asyncio.Event()
        self.release = asyncio.Event()

    async def handle_message(self, context, message):
        self.started.set()
        await self.release.wait()
        await context.reply(message)


@pytest.fixture
async def node():
    async with Node.open("test-node") as node:
        yield node


async def test_worker_keeps_its_state_between_messages(node):
    await node.start_worker("counter", Counter())
    replies = [await node.send_and_receive("counter", "tick") for _ in range(3)]
    assert replies == ["1", "2", "3"]


async def test_worker_handles_one_message_at_a_time_in_arrival_order(node):
    worker = OneAtATime()
    await node.start_worker("serial", worker)
    replies = await asyncio.gather(*(node.send_and_receive("serial", str(i)) for i in range(50)))
    assert replies == [str(i) for i in range(50)]
    assert worker.seen == [str(i) for i in range(50)]
    assert worker.max_active == 1


async def test_thousands_of_workers_run_concurrently(node):
    workers = [OneAtATime() for _ in range(2000)]
    for i, worker in enumerate(workers):
        await node.start_worker(f"w{i}", worker)
    replies = await asyncio.gather(*(node.send_and_receive(f"w{i}", f"m{i}") for i in range(2000)))
    assert replies == [f"m{i}" for i in range(2000)]
    assert all(w.seen == [f"m{i}"] for i, w in enumerate(workers))


async def test_a_failing_worker_reports_the_error_and_lives_on(node, caplog):
    await node.start_worker("fragile", FailsOnBoom())
    with caplog.at_level(logging.ERROR, logger="autonomy.nodes"):
        with pytest.raises(WorkerError) as info:
            await node.send_and_receive("fragile", "boom")
    assert "exploded" in str(info.value)
    assert info.value.address == "fragile"
    assert any("fragile" in r.getMessage() for r in caplog.records)
    assert await node.send_and_receive("fragile", "ok") == "fine"


async def test_unknown_address_fails_fast_with_a_named_error(node):
    with pytest.raises(WorkerNotFound) as info:
        await node.send_and_receive("nobody", "hi")
    assert info.value.address == "nobody"
    with pytest.raises(WorkerNotFound):
        await node.send("nobody", "hi")


async def test_mailbox_receive_times_out(node):
    mailbox = await node.create_mailbox("inbox")
    with pytest.raises(DeliveryTimeout):
        await mailbox.receive(timeout=0.01)


async def test_a_worker_can_send_to_a_named_mailbox(node):
    mailbox = await node.create_mailbox("inbox")

    class Forwarder:
        async def handle_message(self, context, message):
            await context.node.send("echo", message)  # fire and forget
            mb = await context.node.send("echo", message.upper())
            await context.reply(await mb.receive(timeout=5))

    await node.start_worker("echo", Echo())
    await node.start_worker("fwd", Forwarder())
    await mailbox.send("fwd", "hi")
    assert await mailbox.receive(timeout=5) == "HI"


@pytest.mark.parametrize("name", ["", "has space", "dot.ted", "slash/ed", 42])
async def test_invalid_worker_names_raise_value_error(node, name):
    with pytest.raises(InvalidName) as refused:
        await node.start_worker(name, Echo())
    assert isinstance(refused.value, ValueError)  # what upstream raises


async def test_a_second_worker_at_the_same_address_is_refused(node):
    await node.start_worker("echo", Echo())
    with pytest.raises(AddressInUse, match="already in use") as refused:
        await node.start_worker("echo", Echo())
    assert isinstance(refused.value, ValueError)  # upstream raises ValueError: callers catching it still do


async def test_messages_must_be_text(node):
    await node.start_worker("echo", Echo())
    with pytest.raises(TypeError, match="str"):
        await node.send("echo", b"bytes")


async def test_list_workers_shows_user_workers_and_hides_internal_ones(node):
    await node.start_worker("visible", Echo())
    await node.start_internal_worker("hidden", Echo())
    assert await node.list_workers() == [{"name": "visible"}]
    assert await node.send_and_receive("hidden", "x") == "x"


async def test_stopping_the_node_fails_pending_requests():
    node = await Node.create("short-lived")
    blocker = Blocker()
    await node.start_worker("blocker", blocker)
    request = asyncio.ensure_future(node.send_and_receive("blocker", "x"))
    await asyncio.wait_for(blocker.started.wait(), 5)
    await node.stop()
    with pytest.raises(WorkerStopped):
        await request


async def test_stop_logs_a_part_that_fails_to_stop_and_still_stops_the_rest(caplog):
    class BrokenClient:
        async def close(self):
            raise OSError("socket already gone")

    node = await Node.create("stop-failures")
    await node.start_worker("echo", Echo())
    node.mcp_clients["broken"] = BrokenClient()
    cancelled = asyncio.Event()

    async def background():
        try:
            await asyncio.Event().wait()
        except asyncio.CancelledError:
            cancelled.set()
            raise RuntimeError("failed while being cancelled") from None

    started = asyncio.Event()

    async def runs():
        started.set()
        await background()

    node.spawn(runs(), "watcher")
    await asyncio.wait_for(started.wait(), 10)
    with caplog.at_level(logging.ERROR, logger="autonomy.nodes"):
        await node.stop()
    messages = [r.getMessage() for r in caplog.records]
    assert any("MCP client 'broken'" in m for m in messages), messages  # logged, not suppressed
    assert any("watcher" in m for m in messages), messages  # the task's failure on cancellation is seen
    # ... and the rest was still stopped: the worker is gone, the background task has ended.
    assert cancelled.is_set() and node._background == set()
    assert await node.list_workers() == []
