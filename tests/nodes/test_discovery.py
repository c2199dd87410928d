"""Zone and Cluster discovery over a real fabric, and for a standalone node."""


from autonomy import Cluster, RemoteNode, Zone
from autonomy.nodes.node import Node
from tests.support.until import until


async def test_zone_nodes_filters_by_pod_and_zone_and_cluster_lists_every_zone(fabric):  # noqa: F811
    main = await fabric.node("main")
    runners = [await fabric.node("runner") for _ in range(3)]
    other_zone = await fabric.node("runner", zone="appx")
    nodes = [main, *runners, other_zone]
    try:
        names = {n.name for n in nodes}
        await until(lambda: _sees(main, names))
        found = await Zone.nodes(main, filter="runner")
        assert sorted(r.name for r in found) == sorted(r.name for r in runners)
        assert all(isinstance(r, RemoteNode) and r.local_node is main for r in found)
        assert {r.name for r in await Zone.nodes(main)} == {main.name, *(r.name for r in runners)}
        assert {r.name for r in await Cluster.nodes(main)} == names
        assert {r.name for r in await Cluster.nodes(main, filter="appx")} == {other_zone.name}
        pod = runners[0].name[len(f"{fabric.a.cluster}-{fabric.zone}-"):]
        assert (await Zone.node(main, pod)).name == runners[0].name
        assert await Zone.node(main, "nope") is None
    finally:
        for node in nodes:
            await node.stop()


async def _sees(node, names):
    return names <= set(await node.list_nodes())


async def test_a_stopped_node_leaves_zone_nodes_promptly(fabric):  # noqa: F811
    main = await fabric.node("main")
    runner = await fabric.node("runner")
    try:
        await until(lambda: _sees(main, {runner.name}))
        await runner.stop()
        await until(lambda: _gone(main, runner.name), timeout=3)
    finally:
        await main.stop()
        await runner.stop()


async def _gone(node, name):
    return name not in {r.name for r in await Zone.nodes(node)}


async def test_a_standalone_node_finds_no_nodes(monkeypatch):
    for var in ("CLUSTER", "ZONE", "NODE", "AUTONOMY_FABRIC_URL"):
        monkeypatch.delenv(var, raising=False)
    async with Node.open("alone") as node:
        assert await Zone.nodes(node) == []
        assert await Zone.nodes(node, filter="runner") == []
        assert await Cluster.nodes(node) == []
        assert await Zone.node(node, "main") is None
        assert await node.list_nodes_priv() == []
