"""One contract, every transport: what a caller sees when it talks to a worker.

Each test runs over the in-process transport (a standalone node: ``node=`` names itself), over NATS
between two nodes, and over NATS from a node to itself by name (delivered without leaving the
process). Behaviour that exists on one transport only (a node that does not exist, the fabric's size
limit, a node leaving) is tested in that transport's own file.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass

import pytest

from autonomy.errors import DeliveryTimeout, WorkerError, WorkerNotFound, WorkerStopped
from autonomy.nodes.node import Node
from tests.support.until import until


@dataclass
class Link:
    caller: Node  # sends
    host: Node  # runs the workers
    target: str  # what the caller passes as node=
    crosses_nodes: bool


@pytest.fixture(params=["in-process", "nats", "nats-to-itself"])
async def link(request) -> AsyncIterator[Link]:
    if request.param == "in-process":
        async with Node.open("standalone") as node:
            assert not node.transport.is_remote  # the in-process transport
            yield Link(node, node, node.name, crosses_nodes=False)
        return
    fabric = request.getfixturevalue("fabric")  # the module's NATS server, started only for these params
    a, b = await fabric.node("main"), await fabric.node("runner")
    try:
        if request.param == "nats":
            yield Link(a, b, b.name, crosses_nodes=True)
        else:
            yield Link(b, b, b.name, crosses_nodes=False)
    finally:
        await a.stop()
        await b.stop()


class Echo:
    async def handle_message(self, context, message):
        if message == "boom":
            raise ValueError("boom!")
        await context.reply(f"echo:{message}")


class Streamer:
    async def handle_message(self, context, message):
        for i in range(int(message)):
            await context.reply(f"part {i}")


class OneAtATime:
    """Records the messages it saw and how many it handled at once."""

    def __init__(self):
        self.active = self.max_active = 0
        self.seen = []

    async def handle_message(self, context, message):
        self.active += 1
        self.max_active = max(self.max_active, self.active)
        await asyncio.sleep(0)  # let the next message in, if anything would let it
        self.seen.append(message)
        self.active -= 1
        await context.reply(message)


class Gate:
    def __init__(self):
        self.entered = asyncio.Event()
        self.release = asyncio.Event()

    async def handle_message(self, context, message):
        self.entered.set()
        await self.release.wait()
        await context.reply("released")


async def test_a_request_gets_the_workers_reply_text_intact(link):
    await link.host.start_worker("echo", Echo())
    assert await link.caller.send_and_receive("echo", "hi", node=link.target, timeout=10) == "echo:hi"
    text = "línea 1\nline 2 ✓\n\n"
    assert await link.caller.send_and_receive("echo", text, node=link.target, timeout=10) == f"echo:{text}"


async def test_the_first_reply_answers_a_request_and_a_mailbox_gets_every_reply_in_order(link):
    await link.host.start_worker("streamer", Streamer())
    assert await link.caller.send_and_receive("streamer", "3", node=link.target, timeout=10) == "part 0"
    mailbox = await link.caller.send("streamer", "50", node=link.target)
    assert [await mailbox.receive(timeout=10) for _ in range(50)] == [f"part {i}" for i in range(50)]


async def test_a_worker_handles_one_senders_messages_one_at_a_time_in_order(link):
    worker = OneAtATime()
    await link.host.start_worker("serial", worker)
    mailbox = await link.caller.create_mailbox("orders")
    for i in range(100):
        await mailbox.send("serial", str(i), node=link.target)
    assert [await mailbox.receive(timeout=10) for _ in range(100)] == [str(i) for i in range(100)]
    assert worker.seen == [str(i) for i in range(100)] and worker.max_active == 1


async def test_an_unknown_address_raises_worker_not_found_naming_it(link):
    with pytest.raises(WorkerNotFound) as info:
        await link.caller.send_and_receive("nobody", "x", node=link.target, timeout=10)
    assert info.value.address == "nobody"
    if link.crosses_nodes:
        assert info.value.node == link.target


async def test_a_failing_worker_raises_worker_error_at_the_caller_and_lives_on(link):
    await link.host.start_worker("echo", Echo())
    with pytest.raises(WorkerError, match="ValueError: boom!") as info:
        await link.caller.send_and_receive("echo", "boom", node=link.target, timeout=10)
    assert info.value.address == "echo"
    mailbox = await link.caller.send("echo", "boom", node=link.target)
    with pytest.raises(WorkerError):
        await mailbox.receive(timeout=10)
    assert await link.caller.send_and_receive("echo", "still alive", node=link.target, timeout=10) == \
        "echo:still alive"


async def test_no_reply_in_time_raises_delivery_timeout(link):
    gate = Gate()
    await link.host.start_worker("gate", gate)
    with pytest.raises(DeliveryTimeout) as info:
        await link.caller.send_and_receive("gate", "x", node=link.target, timeout=0.2)
    assert isinstance(info.value, TimeoutError) and info.value.timeout == 0.2
    if link.crosses_nodes:
        assert info.value.node == link.target
    gate.release.set()


async def test_stopping_a_worker_fails_its_running_and_queued_requests_with_worker_stopped(link):
    gate = Gate()
    await link.host.start_worker("gate", gate)
    running = asyncio.ensure_future(link.caller.send_and_receive("gate", "1", node=link.target, timeout=30))
    await asyncio.wait_for(gate.entered.wait(), 10)
    queued = asyncio.ensure_future(link.caller.send_and_receive("gate", "2", node=link.target, timeout=30))
    await until(lambda: link.host.endpoint("gate").queued == 1, what="the second request queued behind the first")
    await link.host.stop_worker("gate")
    for call in (running, queued):
        with pytest.raises(WorkerStopped):
            await call
    with pytest.raises(WorkerNotFound):
        await link.caller.send_and_receive("gate", "after", node=link.target, timeout=10)
