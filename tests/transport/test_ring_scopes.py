"""Zone scopes under the watch ring (the default presence): a ring per zone and one of the opted-in nodes,
on the subjects the per-zone NATS users are granted (autonomy/transport/permissions.py), nothing more."""

from __future__ import annotations

import asyncio
import logging
import tempfile
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest

from autonomy import Cluster
from autonomy.errors import NodeLeft
from autonomy.nodes.node import Node
from autonomy.transport.base import FabricConfig
from autonomy.transport.credentials import ClusterCredentials
from autonomy.transport.embedded import EmbeddedNats
from autonomy.transport.permissions import ZoneUser, zone_permissions
from autonomy.transport.ring_presence import RingPresence
from tests.support.until import until

PODS = {"a": ["main", "runner", "open"], "b": ["main", "runner", "open"]}
OPEN = "open"  # the pod of each zone that opts in to cluster-wide access


@pytest.fixture(scope="module")
def zoned() -> Iterator[tuple[ClusterCredentials, EmbeddedNats, dict[str, Path]]]:
    creds = ClusterCredentials.generate()
    c = creds.cluster
    users = [ZoneUser(creds.account, creds.zone_credentials(z).user, creds.zone_credentials(z).password,
                      zone_permissions(c, z, [f"{c}-{z}-{pod}" for pod in pods])) for z, pods in PODS.items()]
    with tempfile.TemporaryDirectory(prefix="autonomy-ring-zones-") as tmp, EmbeddedNats([creds]) as server:
        server.set_users(users)
        files = {}
        for zone in PODS:
            files[zone] = Path(tmp) / f"{zone}.json"
            files[zone].write_text(creds.zone_credentials(zone).to_json())
        yield creds, server, files


class Sleeper:
    def __init__(self) -> None:
        self.entered = asyncio.Event()

    async def handle_message(self, context, message):
        self.entered.set()
        await asyncio.sleep(3600)


@pytest.fixture
async def nodes(zoned, monkeypatch, caplog) -> AsyncIterator[dict[str, Node]]:
    creds, server, files = zoned
    c = creds.cluster
    monkeypatch.setenv("AUTONOMY_FABRIC_HEARTBEAT", "0.2")  # ring rounds every 0.2 s: many rounds per test
    monkeypatch.delenv("AUTONOMY_FABRIC_PRESENCE", raising=False)
    caplog.set_level(logging.WARNING, logger="autonomy.transport")
    made: dict[str, Node] = {}
    try:
        for zone, pods in PODS.items():
            for pod in pods:
                made[f"{zone}-{pod}"] = await Node.create(
                    f"{c}-{zone}-{pod}", cluster=c, zone=zone, allow="cluster" if pod == OPEN else None,
                    fabric=FabricConfig((server.url,), str(files[zone])))
        yield made
    finally:
        for node in made.values():
            await node.stop()


def _refusals(caplog) -> list[str]:
    return [r.getMessage() for r in caplog.records if "refused" in r.getMessage() or "violation" in r.getMessage()]


async def _sees(node: Node, names: set[str]) -> bool:
    return set(await node.list_nodes()) == names


async def test_each_zone_has_its_ring_and_the_opted_in_nodes_theirs_with_no_refused_subject(nodes, caplog):
    zone_of = {name: key.split("-")[0] for key, node in nodes.items() for name in [node.name]}
    opened = {n.name for key, n in nodes.items() if key.endswith(OPEN)}
    for key, node in nodes.items():
        own = {n for n, z in zone_of.items() if z == key.split("-")[0]}
        await until(lambda node=node, own=own: _sees(node, own | opened), what=f"{key} to list its zone and {opened}")
        presence = node.transport._presence
        assert isinstance(presence, RingPresence)
        assert set(presence.names) == own - {node.name}  # the zone's ring holds only the zone
        assert set(node.transport._cluster_presence.names) == opened - {node.name}
    pings = {key: n.transport._presence.pings_sent + n.transport._cluster_presence.pings_sent
             for key, n in nodes.items()}
    await until(lambda: all(n.transport._presence.pings_sent + n.transport._cluster_presence.pings_sent
                            >= pings[key] + 6 for key, n in nodes.items()), what="a few rounds of pings")
    assert not _refusals(caplog)  # every ping, hello and answer stayed within what the zone users may do
    a = nodes["a-main"]
    assert sorted(r.name for r in await Cluster.nodes(a)) == sorted(opened)


async def test_an_opted_in_node_that_vanishes_leaves_every_zones_listing(nodes, caplog):
    gone = nodes["b-open"]
    await until(lambda: all(_sees_name(n, gone.name) for n in nodes.values() if n is not gone))
    await gone.transport._nc.close()  # gone without a "bye", as after a SIGKILL
    for key, node in nodes.items():
        if node is not gone:
            await until(lambda node=node: not _sees_name(node, gone.name), what=f"{key} to drop {gone.name}")
    assert not _refusals(caplog)  # the departure was told on subjects the zone users may publish on


def _sees_name(node: Node, name: str) -> bool:
    cluster = node.transport._cluster_presence
    return node.transport._presence.is_present(name) or cluster.is_present(name)


async def test_a_caller_in_another_zone_gets_node_left_when_an_opted_in_node_vanishes(nodes):
    caller, target = nodes["a-main"], nodes["b-open"]
    for key in ("a-open", "b-main", "b-runner"):  # nobody but the caller checks on anyone
        nodes[key].transport._presence_task.cancel()
        nodes[key].transport._cluster_presence_task.cancel()
    sleeper = Sleeper()
    await target.start_worker("sleeper", sleeper)
    await until(lambda: caller.transport._cluster_presence.is_present(target.name))
    call = asyncio.ensure_future(caller.send_and_receive("sleeper", "x", node=target.name))
    try:
        await asyncio.wait_for(sleeper.entered.wait(), 20)
        await target.transport._nc.close()
        with pytest.raises(NodeLeft):
            await asyncio.wait_for(call, 15)  # the caller's cluster presence pings the node it waits on
    finally:
        call.cancel()


async def test_a_false_gone_report_from_another_zone_drops_nobody(nodes, caplog):
    liar, victim = nodes["a-open"], nodes["b-open"]
    await until(lambda: all(_sees_name(n, victim.name) for n in nodes.values() if n is not victim))
    scope = liar.transport._cluster_presence
    listeners = [n for n in nodes.values() if n is not victim]
    pings = {n.name: n.transport._cluster_presence.pings_sent for n in listeners}
    notice = f"gone {victim.name} {victim.transport.incarnation}".encode()
    await scope._nc.publish(scope._subjects.presence_prefix + liar.name, notice)  # its own subject: allowed
    await until(lambda: all(n.transport._cluster_presence.pings_sent > pings[n.name] for n in listeners),
                what="every node told to check for itself")
    await until(lambda: not any(victim.name in n.transport._cluster_presence._probing for n in listeners))
    assert all(_sees_name(n, victim.name) for n in listeners)
    assert not _refusals(caplog)
