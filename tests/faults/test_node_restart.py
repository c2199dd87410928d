"""Fault: a node SIGKILLed and restarted under the same name at once (as the pod supervisor does).

Callers waiting on the killed incarnation get NodeLeft (never a hang, never an answer from the new
incarnation taken for the old request), and a late reply meant for a previous run of a caller is
never taken for a request of its new run."""

from __future__ import annotations

import asyncio
import os
import signal

import pytest

from autonomy import Node
from autonomy.errors import NodeLeft
from tests.nodes.test_remote_processes import _echoes, _start, _stop
from tests.transport.fabric import fabric  # noqa: F401 (fixture)

pytestmark = pytest.mark.slow


@pytest.mark.parametrize("restart_after", [0.0, 0.7, 4.0])
async def test_callers_of_a_killed_node_get_node_left_whatever_the_restart_timing(fabric, restart_after):  # noqa: F811
    main = await fabric.node("main")
    name = fabric.name("runner")
    runner = _start(fabric, name, "runner.py")
    try:
        deadline = asyncio.get_running_loop().time() + 60
        while not await _echoes(main, name):
            assert asyncio.get_running_loop().time() < deadline, "the runner did not start"
            await asyncio.sleep(0.05)
        call = asyncio.ensure_future(main.send_and_receive("sleeper", "forever", node=name))
        failed_at: list[float] = []
        call.add_done_callback(lambda _: failed_at.append(asyncio.get_running_loop().time()))
        mailbox = await main.send("sleeper", "forever", node=name)
        await asyncio.sleep(0.2)
        assert not call.done()
        loop = asyncio.get_running_loop()
        killed_at = loop.time()
        os.kill(runner.pid, signal.SIGKILL)
        runner.wait()
        if restart_after:
            await asyncio.sleep(restart_after)
        _stop(runner)
        runner = _start(fabric, name, "runner.py")  # the same name: a new incarnation
        with pytest.raises(NodeLeft):
            await asyncio.wait_for(call, 15)
        print(f"NodeLeft {failed_at[0] - killed_at:.2f} s after the kill (restart after {restart_after} s)")
        with pytest.raises(NodeLeft):
            await mailbox.receive(timeout=15)
        deadline = loop.time() + 60
        while not await _echoes(main, name):  # the new incarnation serves new requests
            assert loop.time() < deadline, "the restarted runner did not come back"
            await asyncio.sleep(0.05)
    finally:
        _stop(runner)
        await main.stop()


class Slow:
    """Replies ``text`` after ``delay`` seconds, for a message ``"text:delay"``."""

    async def handle_message(self, context, message):
        text, delay = message.split(":")
        await asyncio.sleep(float(delay))
        await context.reply(text)


async def test_a_late_reply_to_a_previous_run_of_a_caller_is_not_taken_for_a_new_request(fabric):  # noqa: F811
    server = await fabric.node("server")
    await server.start_worker("slow", Slow())
    name = fabric.name("caller")
    config = dict(cluster=fabric.a.cluster, zone=fabric.zone, fabric=fabric.config())
    caller = await Node.create(name, **config)
    old = asyncio.ensure_future(caller.send_and_receive("slow", "old:1.0", node=server.name))
    await asyncio.sleep(0.2)
    await caller.stop()  # the caller's process ends; the server still answers "old" in 0.8 s
    with pytest.raises(Exception):  # noqa: B017 (the old run's request fails however it fails)
        await old
    caller = await Node.create(name, **config)  # the caller's next run, under the same name
    try:
        assert await caller.send_and_receive("slow", "new:2.0", node=server.name, timeout=20) == "new"
    finally:
        await caller.stop()
        await server.stop()
