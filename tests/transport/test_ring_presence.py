"""Presence by watch ring (autonomy/transport/ring_presence.py), the fabric's default: constant cost per
node, the same guarantees as the heartbeats (incarnations: tests/transport/test_ring_incarnations.py; zone
scopes: tests/transport/test_ring_scopes.py)."""

import logging
import os
import signal
import subprocess
import sys

import pytest

from autonomy.errors import NodeNotFound, WorkerNotFound
from autonomy.transport.ring_presence import RingPresence
from tests.support.until import until
from tests.transport.fabric import APPS, ROOT


@pytest.fixture(autouse=True)
def _the_default_presence(monkeypatch):
    """These tests are about the default presence, the ring, whatever the environment says."""
    monkeypatch.delenv("AUTONOMY_FABRIC_PRESENCE", raising=False)


def _presence(node) -> RingPresence:
    presence = node.transport._presence
    assert isinstance(presence, RingPresence)
    return presence


async def _sees(node, names):
    return set(names) <= set(await node.list_nodes())


async def _stop_all(nodes):
    for node in nodes:
        await node.stop()


async def test_each_node_pings_two_successors_whatever_the_cluster_size(fabric):  # noqa: F811
    nodes = [await fabric.node(f"ring{i}") for i in range(7)]
    try:
        names = sorted(n.name for n in nodes)
        for node in nodes:
            await until(lambda node=node: _sees(node, names), what="every node to list every other")
        for node in nodes:
            node.transport._presence_task.cancel()  # rounds are run by hand below, to count their pings
        watched: dict[str, int] = dict.fromkeys(names, 0)
        for node in nodes:
            presence = _presence(node)
            before = presence.pings_sent
            await presence.watch_once()
            assert presence.pings_sent - before == 2  # not one per node in the cluster
            for name in list(presence.successors())[:2]:
                watched[name] += 1
        assert set(watched.values()) == {2}  # every node is watched by two others
    finally:
        await _stop_all(nodes)


async def test_a_run_of_vanished_neighbours_is_found_in_one_round_and_told_to_everyone(fabric):  # noqa: F811
    nodes = [await fabric.node(f"run{i}") for i in range(6)]
    by_name = {n.name: n for n in nodes}
    try:
        names = sorted(by_name)
        for node in nodes:
            await until(lambda node=node: _sees(node, names), what="every node to list every other")
        watcher = by_name[names[0]]
        vanished = names[1:4]  # the watcher's next three: its two watched nodes and the one after
        for name in vanished:
            await by_name[name].transport._nc.close()  # gone without a "bye", as after a SIGKILL
        await _presence(watcher).watch_once()
        assert not set(vanished) & set(await watcher.list_nodes())
        for name in names[4:]:
            await until(lambda name=name: _lacks(by_name[name], vanished), what=f"{name} to hear they are gone")
    finally:
        await _stop_all(nodes)


async def _lacks(node, names):
    return not set(names) & set(await node.list_nodes())


@pytest.mark.slow
async def test_a_frozen_node_is_not_declared_gone_while_its_connection_lives(fabric, caplog):  # noqa: F811
    main = await fabric.node("main")
    name = fabric.name("frozen")
    runner = _start_runner(fabric, name)
    try:
        await until(lambda: _echoes(main, name), timeout=30, what="the runner to join and start its workers")
        caplog.set_level(logging.WARNING, logger="autonomy.transport")
        os.kill(runner.pid, signal.SIGSTOP)  # alive, connected, and answering nothing
        await until(lambda: _slow_warnings(caplog, name) >= 2, timeout=30, what="two unanswered pings")
        assert name in await main.list_nodes()
        os.kill(runner.pid, signal.SIGCONT)
        assert await main.send_and_receive("echo", "y", node=name, timeout=10) == "echo:y"
        assert name in await main.list_nodes()
    finally:
        os.kill(runner.pid, signal.SIGCONT)
        runner.terminate()
        runner.wait(timeout=15)
        await main.stop()


def _start_runner(fabric, name):  # noqa: F811
    return subprocess.Popen([sys.executable, str(APPS / "runner.py")], env=fabric.env(name), cwd=ROOT,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


async def _echoes(node, name):
    try:
        return await node.send_and_receive("echo", "x", node=name, timeout=5) == "echo:x"
    except (NodeNotFound, WorkerNotFound):
        return False


def _slow_warnings(caplog, name):
    return sum(1 for r in caplog.records if name in r.getMessage() and "slow to answer" in r.getMessage())


async def test_a_false_gone_report_drops_nobody_and_the_reported_node_says_hello(fabric):  # noqa: F811
    first = await fabric.node("one")
    second = await fabric.node("two")
    try:
        await until(lambda: _sees(second, [first.name]))
        for node in (first, second):
            node.transport._presence_task.cancel()  # no ring rounds: the pings counted below are the check
        presence = _presence(second)
        hellos = []

        async def heard(msg):
            hellos.append(msg.data)

        sub = await presence._nc.subscribe(presence._subjects.presence_prefix + first.name, cb=heard)
        before = presence.pings_sent
        notice = f"gone {first.name} {first.transport.incarnation}".encode()
        await presence._nc.publish(presence._subjects.presence_prefix + second.name, notice)
        await until(lambda: presence.pings_sent > before and first.name not in presence._probing,
                    what="the node told of it to ping the reported node itself")
        assert first.name in await second.list_nodes()  # it answered: not dropped
        assert presence.incarnation_of(first.name) == first.transport.incarnation
        await until(lambda: hellos, what="the reported node to say hello again")
        assert hellos[0] == f"hello {first.transport.incarnation}".encode()
        await sub.unsubscribe()
    finally:
        await _stop_all([first, second])
