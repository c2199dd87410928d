"""RemoteNode against real nodes joined by a real NATS fabric (in one event loop)."""


import pytest

from autonomy import RemoteNode
from autonomy.errors import (
    AutonomyError,
    InvalidName,
    RemoteNodeError,
    WorkerNotFound,
)
from autonomy.nodes.controller import NodeRequest, NodeResponse
from autonomy.nodes.node import Node


class Greeter:
    """Replies with its node's name: shows that the worker runs where it was shipped."""

    def __init__(self, greeting):
        self.greeting = greeting
        self.node = None
        self.count = 0

    async def handle_message(self, context, message):
        self.count += 1
        await context.reply(f"{self.greeting} {message} from {self.node.name} #{self.count}")


async def test_start_worker_ships_the_worker_by_value_and_it_keeps_state(pair):
    a, b = pair
    runner = RemoteNode(a, b.name)
    await runner.start_worker("greeter", Greeter("hello"))
    assert await runner.send_and_receive("greeter", "ann") == f"hello ann from {b.name} #1"
    assert await a.send_and_receive("greeter", "bob", node=b.name) == f"hello bob from {b.name} #2"
    assert {"name": "greeter"} in await runner.list_workers()
    await runner.stop_worker("greeter")
    assert {"name": "greeter"} not in await runner.list_workers()
    with pytest.raises(WorkerNotFound):
        await runner.send_and_receive("greeter", "x", timeout=5)


async def test_start_worker_validates_the_name_before_sending(pair):
    a, b = pair
    with pytest.raises(InvalidName):
        await RemoteNode(a, b.name).start_worker("bad name", Greeter("x"))
    with pytest.raises(InvalidName):
        await RemoteNode(a, b.name).start_worker("a.b", Greeter("x"))


async def test_a_remote_controller_failure_is_a_runtime_error_named_remote_node_error(pair):
    a, b = pair
    runner = RemoteNode(a, b.name)
    await runner.start_worker("greeter", Greeter("x"))
    with pytest.raises(RemoteNodeError, match="Remote node error: .*already in use") as info:
        await runner.start_worker("greeter", Greeter("y"))
    assert isinstance(info.value, RuntimeError) and isinstance(info.value, AutonomyError)  # upstream: RuntimeError
    with pytest.raises(RemoteNodeError, match="Unknown method: nope"):
        await runner.send_generic_request("nope")


async def test_send_request_returns_the_response_as_is(pair):
    a, b = pair
    response = await RemoteNode(a, b.name).send_request(NodeRequest("nope"))
    assert response == NodeResponse(False, None, "Unknown method: nope")


async def test_identifier_list_agents_and_list_nodes_priv_come_from_the_remote_node(pair):
    a, b = pair
    runner = RemoteNode(a, b.name)
    assert await runner.identifier() == await b.identifier() != await a.identifier()
    assert await runner.list_agents() == []
    assert f"forward_to_{a.name}" in await runner.list_nodes_priv()
    assert runner.name == b.name


async def test_send_returns_a_mailbox_that_gets_every_reply(pair):
    a, b = pair
    runner = RemoteNode(a, b.name)
    await runner.start_worker("greeter", Greeter("hi"))
    mailbox = await runner.send("greeter", "x")
    assert await mailbox.receive(timeout=5) == f"hi x from {b.name} #1"


class Ok:
    async def handle_message(self, context, message):
        await context.reply(f"ok {message}")


async def test_a_standalone_node_delivers_node_addressed_messages_locally():
    """Upstream: without a fabric, the node= argument is ignored (local development)."""
    async with Node.open("standalone") as node:
        await node.start_worker("w", Ok())
        assert await RemoteNode(node, "elsewhere").send_and_receive("w", "x", timeout=5) == "ok x"
