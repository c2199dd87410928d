"""The zone is the fabric's trust boundary: per-zone NATS users, subject permissions, allow= opt-in."""

from __future__ import annotations

import asyncio
import json
import ssl
import tempfile
from collections.abc import AsyncIterator
from pathlib import Path

import nats
import pytest

from autonomy import Cluster, Zone
from autonomy.errors import AccessDenied, ConfigError
from autonomy.nodes.node import Node
from autonomy.nodes.remote import RemoteNode
from autonomy.transport.base import FabricConfig
from autonomy.transport.credentials import ClusterCredentials
from autonomy.transport.embedded import EmbeddedNats
from autonomy.transport.permissions import ZoneUser, zone_permissions


class Secret:
    def __init__(self) -> None:
        self.node = None

    async def handle_message(self, context, message):
        await context.reply("secret of zone b")


class Echo:
    async def handle_message(self, context, message):
        await context.reply(f"echo {message}")


@pytest.fixture(scope="module")
def zoned() -> object:
    creds = ClusterCredentials.generate()
    c = creds.cluster
    names = {"a": [f"{c}-a-main", f"{c}-a-runner"], "b": [f"{c}-b-main", f"{c}-b-open"], "c": [f"{c}-c-main"]}
    users = [ZoneUser(creds.account, creds.zone_credentials(z).user, creds.zone_credentials(z).password,
                      zone_permissions(c, z, n)) for z, n in names.items()]
    # zone c's user may not publish to opted-in nodes: what the server then says must reach the sender
    users[2].permissions["publish"]["allow"].remove(f"autonomy.{c}.cluster.node.*")
    with tempfile.TemporaryDirectory(prefix="autonomy-zones-") as tmp, EmbeddedNats([creds]) as server:
        server.set_users(users)
        files = {}
        for zone in names:
            files[zone] = Path(tmp) / f"{zone}.json"
            files[zone].write_text(creds.zone_credentials(zone).to_json())
        yield creds, server, files


@pytest.fixture
async def nodes(zoned) -> AsyncIterator[dict[str, Node]]:
    creds, server, files = zoned
    c = creds.cluster

    async def make(zone: str, pod: str, allow: str | None = None) -> Node:
        return await Node.create(f"{c}-{zone}-{pod}", cluster=c, zone=zone, allow=allow,
                                 fabric=FabricConfig((server.url,), str(files[zone])))

    made = {"a-main": await make("a", "main"), "a-runner": await make("a", "runner"),
            "b-main": await make("b", "main"), "b-open": await make("b", "open", allow="cluster")}
    await made["b-main"].start_worker("secret", Secret())
    await made["b-open"].start_worker("echo", Echo())
    await made["a-runner"].start_worker("echo", Echo())
    await _until(lambda: len(made["a-main"].transport._cluster_presence.names) == 1)  # type: ignore[attr-defined]
    try:
        yield made
    finally:
        for node in made.values():
            await node.stop()


async def _until(condition, timeout: float = 10.0) -> None:
    deadline = asyncio.get_running_loop().time() + timeout
    while not condition():
        assert asyncio.get_running_loop().time() < deadline, "condition not met in time"
        await asyncio.sleep(0.02)


async def test_a_node_reaches_its_own_zone(nodes):
    assert await nodes["a-main"].send_and_receive("echo", "hi", node=nodes["a-runner"].name, timeout=10) == "echo hi"


async def test_another_zones_node_is_refused_at_once_naming_the_reason(nodes):
    with pytest.raises(AccessDenied, match="did not opt in to cluster-wide access"):
        await nodes["a-main"].send_and_receive("secret", "give", node=nodes["b-main"].name, timeout=30)


async def test_zone_nodes_lists_only_the_zone_and_cluster_nodes_only_opted_in_nodes(nodes):
    a = nodes["a-main"]
    assert [r.name for r in await Zone.nodes(a)] == sorted([nodes["a-main"].name, nodes["a-runner"].name])
    assert [r.name for r in await Cluster.nodes(a)] == [nodes["b-open"].name]
    assert nodes["b-main"].name not in await a.list_nodes()


async def test_an_opted_in_node_answers_other_zones_but_not_with_its_node_controller(nodes):
    a, opened = nodes["a-main"], nodes["b-open"].name
    assert await a.send_and_receive("echo", "x", node=opened, timeout=10) == "echo x"
    mailbox = await a.send("echo", "y", node=opened)
    assert await mailbox.receive(timeout=10) == "echo y"
    with pytest.raises(AccessDenied, match="answers only nodes of its own zone"):
        await RemoteNode(a, opened).start_worker("stolen", Secret())
    assert "stolen" not in [w["name"] for w in await nodes["b-open"].list_workers()]


async def test_shipping_a_worker_within_the_zone_works(nodes):
    await RemoteNode(nodes["a-main"], nodes["a-runner"].name).start_worker("shipped", Echo())
    assert await nodes["a-main"].send_and_receive("shipped", "z", node=nodes["a-runner"].name, timeout=10) == "echo z"


async def test_raw_nats_with_a_zones_credentials_cannot_use_another_zones_subjects(zoned, nodes):
    creds, server, files = zoned
    c = creds.cluster
    own = json.loads(files["a"].read_text())
    errors: list[str] = []

    async def on_error(exc: Exception) -> None:
        errors.append(str(exc))

    nc = await nats.connect(server.url, user=own["user"], password=own["password"], error_cb=on_error,
                            tls=ssl.create_default_context(cadata=own["ca_pem"]),
                            inbox_prefix=f"autonomy.{c}.z.a.inbox")
    try:
        await nc.subscribe(f"autonomy.{c}.z.b.>")
        await nc.subscribe(f"autonomy.{c}.cluster.node.{nodes['b-open'].name}")  # would steal its messages
        await nc.subscribe(f"autonomy.{c}.node.>")  # the cluster user's flat subjects
        await nc.publish(f"autonomy.{c}.z.b.node.{nodes['b-main'].name}", b"secret\nx")
        await nc.publish(f"autonomy.{c}.cluster.presence.{nodes['b-main'].name}", b"bye")  # spoof a departure
        await nc.flush()
        await _until(lambda: len(errors) >= 5)
    finally:
        await nc.close()
    assert all("permissions violation" in e for e in errors), errors
    assert any(f'"autonomy.{c}.z.b.>"' in e for e in errors)
    assert any(f"z.b.node.{nodes['b-main'].name}" in e for e in errors)


async def test_a_send_the_server_refuses_fails_at_once_with_access_denied(zoned, nodes):
    creds, server, files = zoned
    node = await Node.create(f"{creds.cluster}-c-main", cluster=creds.cluster, zone="c",
                             fabric=FabricConfig((server.url,), str(files["c"])))
    try:
        await _until(lambda: node.transport._cluster_presence.is_present(nodes["b-open"].name))  # type: ignore[attr-defined]
        # the server's answer (a timeout would be DeliveryTimeout after 60 s)
        with pytest.raises(AccessDenied, match="the fabric refused it .*permissions violation for publish"):
            await node.send_and_receive("echo", "x", node=nodes["b-open"].name, timeout=60)
    finally:
        await node.stop()


async def test_a_zones_credentials_refuse_another_zone_name(zoned):
    creds, server, files = zoned
    with pytest.raises(Exception, match="credentials are for zone 'a'"):
        await Node.create(f"{creds.cluster}-b-main", cluster=creds.cluster, zone="b",
                          fabric=FabricConfig((server.url,), str(files["a"])))


@pytest.mark.parametrize("allow, opted", [(None, False), ("zone", False), ("message.is_local", False),
                                          ("cluster", True), ("message.is_local or cluster=C", True),
                                          ("message.is_local or zone=z", False)])
def test_allow_is_evaluated(allow, opted):
    from autonomy.nodes.access import allows_cluster

    assert allows_cluster(allow, "C", "z") is opted


@pytest.mark.parametrize("allow", ["cluster=other", "everyone", "cluster and zone", 3])
def test_an_allow_that_cannot_be_enforced_is_refused_naming_allow(allow):
    from autonomy.nodes.access import allows_cluster

    with pytest.raises(ConfigError, match="allow="):
        allows_cluster(allow, "C", "z")
