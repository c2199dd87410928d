"""Idle workers cost no task: after its last message a worker's cell goes back to having none."""

import asyncio

from autonomy.nodes.node import Node
from tests.support.until import until


class Echo:
    async def handle_message(self, context, message):
        await context.reply(message)


async def test_a_worker_has_no_task_once_its_messages_are_handled():
    async with Node.open("idle") as node:
        await node.start_worker("echo", Echo())
        cell = node.endpoint("echo")
        assert not cell.busy
        for i in range(3):
            assert await node.send_and_receive("echo", str(i), timeout=10) == str(i)
        await until(lambda: not cell.busy, what="the worker's drain task to end")
        assert not [t for t in asyncio.all_tasks() if "_drain" in repr(t.get_coro())]


async def test_listing_and_getting_workers_skips_agents_mailboxes_and_internal_workers():
    async with Node.open("listing") as node:
        await node.start_worker("visible", Echo())
        await node.start_internal_worker("hidden", Echo())
        mailbox = await node.create_mailbox("box")
        assert await node.list_workers() == [{"name": "visible"}]
        assert isinstance(node.get_worker("visible"), Echo)
        assert isinstance(node.get_worker("hidden"), Echo)
        assert node.get_worker("box") is None and node.get_worker("nope") is None
        await node.stop_worker("visible")
        assert node.get_worker("visible") is None and await node.list_workers() == []
        mailbox.close()


def test_a_node_stops_lingering_when_it_does_not_pay_off_and_tries_again_now_and_then():
    from autonomy.nodes.linger import Linger

    linger = Linger()
    while linger.worth_it():  # fan-out: nobody sends in the extra turn
        linger.record(False)
    tries = [linger.worth_it() for _ in range(64)]
    assert tries.count(True) == 2  # one drain in 32 tries again
    linger.record(True)  # and a sequential sender is back
    assert all(linger.worth_it() for _ in range(10))
