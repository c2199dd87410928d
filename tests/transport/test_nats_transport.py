import asyncio
import json

import pytest

from autonomy.errors import (
    FabricError,
    MessageTooLarge,
    NodeLeft,
    NodeNotFound,
    WorkerError,
    WorkerStopped,
)
from autonomy.nodes.node import Node
from autonomy.transport.base import FabricConfig
from tests.support.until import until


class Echo:
    async def handle_message(self, context, message):
        if message == "boom":
            raise ValueError("boom!")
        await context.reply(f"echo:{message}")


class Gate:
    def __init__(self):
        self.entered = asyncio.Event()
        self.release = asyncio.Event()

    async def handle_message(self, context, message):
        self.entered.set()
        await self.release.wait()
        await context.reply("released")


class Big:
    async def handle_message(self, context, message):
        await context.reply("x" * int(message))


async def test_an_unknown_node_raises_node_not_found(pair):
    a, _ = pair
    with pytest.raises(NodeNotFound):
        await a.send_and_receive("echo", "x", node="no-such-node", timeout=5)


async def test_a_message_larger_than_the_fabric_accepts_raises_before_sending(pair):
    a, b = pair
    await b.start_worker("echo", Echo())
    limit = a.transport._max_payload
    with pytest.raises(MessageTooLarge) as info:
        await a.send_and_receive("echo", "x" * limit, node=b.name)
    assert info.value.limit == limit
    with pytest.raises(MessageTooLarge):
        await (await a.create_mailbox("big")).send("echo", "x" * limit, node=b.name)


async def test_a_reply_larger_than_the_fabric_accepts_fails_the_request(pair):
    a, b = pair
    await b.start_worker("big", Big())
    limit = a.transport._max_payload
    with pytest.raises(WorkerError, match="MessageTooLarge"):
        await a.send_and_receive("big", str(limit + 1), node=b.name, timeout=5)


async def test_a_graceful_stop_fails_waiting_requests_and_leaves_discovery(fabric):  # noqa: F811
    a = await fabric.node("main")
    b = await fabric.node("runner")
    try:
        gate = Gate()
        await b.start_worker("gate", gate)
        call = asyncio.ensure_future(a.send_and_receive("gate", "x", node=b.name))
        mailbox = await a.send("gate", "y", node=b.name)
        await asyncio.wait_for(gate.entered.wait(), 10)
        await b.stop()
        with pytest.raises((WorkerStopped, NodeLeft)):
            await asyncio.wait_for(call, 10)
        with pytest.raises((WorkerStopped, NodeLeft)):
            await mailbox.receive(timeout=10)
        await until(lambda: _not_in(a, b.name))
        with pytest.raises(NodeNotFound):
            await a.send_and_receive("gate", "x", node=b.name, timeout=5)
    finally:
        await a.stop()
        await b.stop()


async def _not_in(node, name):
    return name not in await node.list_nodes()


async def test_a_new_node_sees_the_nodes_already_there_when_create_returns(fabric):  # noqa: F811
    first = await fabric.node("one")
    second = await fabric.node("two")
    try:
        third = await fabric.node("three")
        try:
            assert {first.name, second.name, third.name} <= set(await third.list_nodes())
            await until(lambda: _has(first, third.name), timeout=5)
        finally:
            await third.stop()
    finally:
        await first.stop()
        await second.stop()


async def _has(node, name):
    return name in await node.list_nodes()


async def test_a_second_node_with_the_same_name_is_refused(fabric):  # noqa: F811
    first = await fabric.node("solo")
    observer = await fabric.node("observer")
    try:
        await first.start_worker("echo", Echo())
        with pytest.raises(FabricError, match="already in this cluster"):
            await Node.create(first.name, cluster=fabric.a.cluster, zone=fabric.zone, fabric=fabric.config())
        assert await observer.send_and_receive("echo", "x", node=first.name, timeout=5) == "echo:x"
        assert first.name in await observer.list_nodes()  # the refused twin did not say "bye" for it
    finally:
        await first.stop()
        await observer.stop()


async def test_a_wrong_password_is_a_fabric_error_that_does_not_show_it(fabric, tmp_path):  # noqa: F811
    data = json.loads(fabric.file_a.read_text())
    data["password"] = "not-the-password-123"
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps(data))
    with pytest.raises(FabricError) as info:
        await Node.create("bad-node", fabric=FabricConfig((fabric.server.url,), str(bad)))
    assert "not-the-password-123" not in str(info.value)
    assert fabric.a.password not in str(info.value)
    assert "127.0.0.1" in str(info.value)


async def test_an_unreachable_server_is_a_fabric_error_naming_the_url(fabric, tmp_path):  # noqa: F811
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    with pytest.raises(FabricError, match=f"127.0.0.1:{port}"):
        await Node.create("lonely", fabric=FabricConfig((f"tls://127.0.0.1:{port}",), str(fabric.file_a)))


async def test_a_fabric_url_without_credentials_is_a_fabric_error(fabric):  # noqa: F811
    with pytest.raises(FabricError, match="AUTONOMY_FABRIC_CREDENTIALS"):
        await Node.create("nocreds", fabric=FabricConfig((fabric.server.url,), None))


async def test_credentials_of_another_cluster_than_CLUSTER_are_refused(fabric):  # noqa: F811
    with pytest.raises(FabricError, match="CLUSTER="):
        await Node.create("mixed", cluster=fabric.a.cluster, fabric=fabric.config("b"))


async def test_messages_inside_one_node_do_not_touch_the_fabric(pair):
    a, _ = pair
    await a.start_worker("echo", Echo())
    before = a.transport._nc.stats["out_msgs"]
    assert await a.send_and_receive("echo", "local", node=a.name) == "echo:local"
    assert a.transport._nc.stats["out_msgs"] == before
