"""What the layers above plug into the node runtime (autonomy/nodes/extensions.py, wired by autonomy.assembly)."""

from __future__ import annotations

import pytest

from autonomy import Node
from autonomy.http import HttpServer
from autonomy.models import clients
from autonomy.nodes.controller import CONTROLLER_ADDRESS, NodeRequest, decode_message, encode_message
from autonomy.nodes.extensions import EXTENSIONS


class RecordingServer:
    def __init__(self, events: list[str]) -> None:
        self.events = events

    async def start(self, node: Node) -> None:
        self.events.append(f"http start {node.name}")

    async def stop(self) -> None:
        self.events.append("http stop")


async def test_importing_autonomy_wires_the_http_server_agent_methods_and_model_clean_up(monkeypatch):
    # Wired as hooks that import their layer on first use (docs/startup.md), so check what they do.
    assert isinstance(EXTENSIONS.default_http_server(), HttpServer)
    assert {"start_agent", "start_agents"} <= set(EXTENSIONS.controller_methods)
    closed: list[str] = []

    async def recording() -> None:
        closed.append("models")

    monkeypatch.setattr(clients, "aclose_clients", recording)
    await EXTENSIONS.loop_closers["models"]()
    assert closed == ["models"]


def test_node_start_runs_the_plugged_in_http_server_and_loop_closers_in_order(monkeypatch):
    events: list[str] = []

    async def closer() -> None:
        events.append("loop closer")

    async def main(node: Node) -> None:
        events.append("main")

    monkeypatch.setattr(EXTENSIONS, "default_http_server", lambda: RecordingServer(events))
    monkeypatch.setitem(EXTENSIONS.loop_closers, "test", closer)
    monkeypatch.setenv("NODE", "plugged")
    Node.start(main, wait_until_interrupted=False)
    assert events == ["http start plugged", "main", "http stop", "loop closer"]


async def ask_controller(node: Node, method: str, *args: object) -> object:
    reply = await node.send_and_receive(CONTROLLER_ADDRESS, encode_message(NodeRequest(method, args)), timeout=30)
    return decode_message(reply)


async def test_the_node_controller_serves_plugged_in_methods_with_the_node_first(monkeypatch):
    async def shout(node: Node, word: str) -> str:
        return f"{node.name}: {word.upper()}"

    monkeypatch.setitem(EXTENSIONS.controller_methods, "shout", shout)
    async with Node.open("ctl") as node:
        response = await ask_controller(node, "shout", "hi")
        assert response.success and response.result == "ctl: HI"
        monkeypatch.delitem(EXTENSIONS.controller_methods, "shout")
        response = await ask_controller(node, "shout", "hi")
        assert not response.success and response.error == "Unknown method: shout"


@pytest.mark.parametrize("method", ["_handler", "__init__"])
async def test_the_controller_exposes_only_its_handle_methods(method):
    async with Node.open("ctl2") as node:
        response = await ask_controller(node, method)
        assert not response.success and response.error == f"Unknown method: {method}"
