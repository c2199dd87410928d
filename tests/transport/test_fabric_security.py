"""Two clusters on one NATS server: each is its own account, so neither can reach nor see the other."""

import nats.errors
import pytest

from autonomy.errors import NodeNotFound
from autonomy.nodes.discovery import Cluster, Zone
from autonomy.nodes.remote import RemoteNode


class Secret:
    async def handle_message(self, context, message):
        await context.reply("cluster A's secret")


class Intruder:
    async def handle_message(self, context, message):
        await context.reply("intruder")


@pytest.fixture
async def clusters(fabric):  # noqa: F811
    a = await fabric.node("vault", cluster="a")
    b = await fabric.node("intruder", cluster="b")
    await a.start_worker("secret", Secret())
    yield a, b
    await a.stop()
    await b.stop()


async def test_another_clusters_node_cannot_discover_this_clusters_nodes(clusters):
    a, b = clusters
    assert a.name not in await b.list_nodes()
    assert b.name not in await a.list_nodes()
    assert await Cluster.nodes(b) == [RemoteNode(b, b.name)]
    assert await Zone.nodes(a) == [RemoteNode(a, a.name)]


async def test_another_clusters_node_cannot_reach_this_clusters_workers(clusters):
    a, b = clusters
    with pytest.raises(NodeNotFound):
        await b.send_and_receive("secret", "give", node=a.name, timeout=5)
    with pytest.raises(NodeNotFound):
        await (await b.send("secret", "give", node=a.name)).receive(timeout=5)


async def test_another_clusters_node_cannot_ship_a_worker_or_call_the_controller(clusters):
    a, b = clusters
    remote = RemoteNode(b, a.name)
    with pytest.raises(NodeNotFound):
        await remote.start_worker("intruder", Intruder())
    with pytest.raises(NodeNotFound):
        await remote.list_workers()
    assert a.get_worker("intruder") is None
    assert await a.list_workers() == [{"name": "secret"}]


async def test_raw_nats_publishes_on_another_clusters_subjects_go_nowhere(clusters, fabric):  # noqa: F811
    """Even knowing cluster A's subject names, cluster B's login publishes into B's own account."""
    a, b = clusters
    nc = b.transport._nc
    with pytest.raises(nats.errors.NoRespondersError):
        await nc.request(f"autonomy.{fabric.a.cluster}.node.{a.name}", b"secret\ngive", timeout=2)
