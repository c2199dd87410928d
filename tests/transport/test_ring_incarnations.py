"""Incarnations under the watch ring (the default presence): a node restarted under its name is a new
incarnation, callers waiting on the old one get NodeLeft at once, the new one serves new requests.
The same code serves the heartbeats (autonomy/transport/roster.py): the last tests run them too."""

from __future__ import annotations

import asyncio

import pytest

from autonomy.errors import ConfigError, NodeLeft
from autonomy.nodes.node import Node
from autonomy.transport.presence import Presence
from autonomy.transport.presence_choice import presence_from_env
from autonomy.transport.ring_presence import RingPresence
from tests.support.until import until


@pytest.fixture(autouse=True)
def _the_default_presence(monkeypatch):
    """These tests are about the default presence, the ring, whatever the environment says."""
    monkeypatch.delenv("AUTONOMY_FABRIC_PRESENCE", raising=False)


class Sleeper:
    """Never replies; ``entered`` is set when a request is being handled (a handshake)."""

    def __init__(self) -> None:
        self.entered = asyncio.Event()

    async def handle_message(self, context, message):
        self.entered.set()
        await asyncio.sleep(3600)


class Echo:
    async def handle_message(self, context, message):
        await context.reply(f"echo {message}")


async def _node(fabric, name: str) -> Node:
    return await Node.create(name, cluster=fabric.a.cluster, zone=fabric.zone, fabric=fabric.config())


async def _lists(node: Node, name: str) -> bool:
    return name in await node.list_nodes()


async def _waiting_calls(fabric, main: Node, name: str):
    """A target named ``name`` with a sleeper, and a request and a mailbox of ``main`` waiting on it."""
    target = await _node(fabric, name)
    sleeper = Sleeper()
    await target.start_worker("sleeper", sleeper)
    await until(lambda: _lists(main, name), what="main to list the target")
    call = asyncio.ensure_future(main.send_and_receive("sleeper", "x", node=name))
    mailbox = await main.send("sleeper", "y", node=name)
    await asyncio.wait_for(sleeper.entered.wait(), 20)
    return target, call, mailbox


async def test_a_node_restarted_under_its_name_ends_the_old_incarnations_calls_at_once(fabric):
    main = await fabric.node("main")
    name = fabric.name("runner")
    target, call, mailbox = await _waiting_calls(fabric, main, name)
    new = None
    try:
        presence = main.transport._presence
        assert isinstance(presence, RingPresence)
        old = target.transport.incarnation
        assert presence.incarnation_of(name) == old
        await target.transport._nc.close()  # gone without a "bye", as after a SIGKILL ...
        new = await _node(fabric, name)  # ... and restarted at once by its supervisor: a new incarnation
        with pytest.raises(NodeLeft):
            await asyncio.wait_for(call, 15)
        with pytest.raises(NodeLeft):
            await mailbox.receive(timeout=15)
        assert presence.incarnation_of(name) == new.transport.incarnation != old
        await new.start_worker("echo", Echo())
        assert await main.send_and_receive("echo", "again", node=name, timeout=15) == "echo again"
        assert new.transport._presence.incarnation_of(main.name) == main.transport.incarnation  # from the answers
    finally:
        call.cancel()
        for node in (new, target, main):
            if node is not None:
                await node.stop()


async def test_a_ping_answered_by_another_incarnation_ends_the_calls_to_the_one_known(fabric):
    main = await fabric.node("main")
    name = fabric.name("runner")
    presence = main.transport._presence
    target = None
    try:
        target = await _node(fabric, name)
        await until(lambda: _lists(main, name), what="main to list the target")
        for node in (main, target):
            node.transport._presence_task.cancel()  # the pings below are the only ones
        await target.start_worker("sleeper", sleeper := Sleeper())
        call = asyncio.ensure_future(main.send_and_receive("sleeper", "x", node=name))
        await asyncio.wait_for(sleeper.entered.wait(), 20)
        # the target now answers pings as another incarnation would (a restart the ping is first to hear of)
        target.transport.incarnation = "0123456789ab"
        assert await presence.ping(name)
        with pytest.raises(NodeLeft):
            await asyncio.wait_for(call, 15)
        assert name in await main.list_nodes()  # the new incarnation is listed
    finally:
        for node in (target, main):
            if node is not None:
                await node.stop()


async def test_a_caller_waiting_on_a_node_it_does_not_watch_still_learns_it_is_gone(fabric):
    # pods sort as a-main < b1 < b2 < b3: main's ring successors are b1 and b2, not b3
    main = await fabric.node("a-main")
    others = [await fabric.node(pod) for pod in ("b1", "b2")]
    name = fabric.name("b3")
    target, call, mailbox = await _waiting_calls(fabric, main, name)
    try:
        for node in (*others, target):
            await until(lambda node=node: _lists(node, main.name))
            node.transport._presence_task.cancel()  # only main checks on anyone
        assert name not in list(main.transport._presence.successors())[:2]
        await target.transport._nc.close()
        with pytest.raises(NodeLeft):
            await asyncio.wait_for(call, 15)  # main pings the nodes its callers wait on
        with pytest.raises(NodeLeft):
            await mailbox.receive(timeout=15)
        assert name not in await main.list_nodes()
    finally:
        call.cancel()
        for node in (target, *others, main):
            await node.stop()


async def test_heartbeats_remain_an_option_with_the_same_incarnations(fabric, monkeypatch):
    monkeypatch.setenv("AUTONOMY_FABRIC_PRESENCE", "heartbeat")
    main = await fabric.node("main")
    name = fabric.name("runner")
    target, call, mailbox = await _waiting_calls(fabric, main, name)
    new = None
    try:
        assert type(main.transport._presence) is Presence
        assert main.transport._presence.incarnation_of(name) == target.transport.incarnation
        await target.transport._nc.close()
        new = await _node(fabric, name)
        with pytest.raises(NodeLeft):
            await asyncio.wait_for(call, 15)
        with pytest.raises(NodeLeft):
            await mailbox.receive(timeout=15)
        assert main.transport._presence.incarnation_of(name) == new.transport.incarnation
    finally:
        call.cancel()
        for node in (new, target, main):
            if node is not None:
                await node.stop()


def test_the_presence_mechanism_is_chosen_by_the_environment(monkeypatch):
    monkeypatch.delenv("AUTONOMY_FABRIC_PRESENCE", raising=False)
    assert presence_from_env() is RingPresence
    monkeypatch.setenv("AUTONOMY_FABRIC_PRESENCE", " Heartbeat ")
    assert presence_from_env() is Presence
    monkeypatch.setenv("AUTONOMY_FABRIC_PRESENCE", "gossip")
    with pytest.raises(ConfigError, match="AUTONOMY_FABRIC_PRESENCE='gossip' .*heartbeat, ring"):
        presence_from_env()


async def test_nodes_running_either_mechanism_list_each_other_and_see_each_other_leave(fabric, monkeypatch):
    # a cluster in the middle of an upgrade: some nodes still run the heartbeats
    ring = await fabric.node("ring")
    monkeypatch.setenv("AUTONOMY_FABRIC_PRESENCE", "heartbeat")
    beating = await fabric.node("beating")
    later = None
    try:
        monkeypatch.delenv("AUTONOMY_FABRIC_PRESENCE")
        later = await fabric.node("later")  # a ring node that joins after the heartbeat node
        assert type(beating.transport._presence) is Presence
        for node in (ring, beating, later):
            await until(lambda node=node: _all_listed(node, [ring, beating, later]), what=f"{node.name} to list all")
        await beating.start_worker("echo", Echo())
        assert await ring.send_and_receive("echo", "x", node=beating.name, timeout=15) == "echo x"
        assert ring.transport._presence.incarnation_of(beating.name) == beating.transport.incarnation
        await beating.transport._nc.close()  # gone without a "bye"
        for node in (ring, later):
            await until(lambda node=node: _gone(node, beating.name), what=f"{node.name} to drop the heartbeat node")
    finally:
        for node in (later, beating, ring):
            if node is not None:
                await node.stop()


async def _all_listed(node: Node, nodes: list[Node]) -> bool:
    return {n.name for n in nodes} <= set(await node.list_nodes())


async def _gone(node: Node, name: str) -> bool:
    return name not in await node.list_nodes()
