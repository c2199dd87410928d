"""The node's life cycle: names, identity, Node.start as a process, HTTP basics."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import textwrap

import httpx
import pytest
from fastapi import FastAPI

from autonomy import HttpServer, Node, NodeDep
from autonomy.errors import InvalidName
from tests.support.until import until_sync


class Echo:
    async def handle_message(self, context, message):
        await context.reply(message)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


async def test_node_name_comes_from_NODE_then_the_argument_then_random(monkeypatch):
    monkeypatch.delenv("NODE", raising=False)
    async with Node.open("given") as node:
        assert node.name == "given"
    async with Node.open() as node:
        assert len(node.name) == 24 and int(node.name, 16) >= 0
    monkeypatch.setenv("NODE", "from-env")
    async with Node.open("given") as node:
        assert node.name == "from-env"


async def test_identifier_is_awaitable_and_stable():
    async with Node.open() as node:
        first = await node.identifier()
        assert first.startswith("I") and len(first) == 65
        assert await node.identifier() == first


async def test_a_standalone_node_has_no_other_nodes():
    async with Node.open() as node:
        assert await node.list_nodes() == []


def run_script(body: str, env: dict[str, str], **kwargs) -> subprocess.Popen:
    script = textwrap.dedent(body)
    full_env = {**os.environ, **env}
    return subprocess.Popen([sys.executable, "-c", script], env=full_env, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, **kwargs)


def wait_http(url: str, deadline: float = 20.0) -> httpx.Response:
    def answer() -> httpx.Response | None:
        try:
            return httpx.get(url, timeout=1)
        except httpx.TransportError:
            return None
    return until_sync(answer, timeout=deadline, what=f"{url} to answer")


def test_node_start_runs_main_serves_http_and_exits_on_sigterm():
    port = free_port()
    proc = run_script(
        """
        from autonomy import Node

        class Echo:
            async def handle_message(self, context, message):
                await context.reply(message)

        async def main(node):
            await node.start_worker("echo", Echo())
            print("ready", node.name, await node.send_and_receive("echo", "ping"), flush=True)

        Node.start(main)
        """,
        {"DEFAULT_HOST_HTTP": "127.0.0.1", "DEFAULT_PORT_HTTP": str(port), "NODE": "proc-node"},
    )
    try:
        assert proc.stdout.readline().split() == ["ready", "proc-node", "ping"]
        response = wait_http(f"http://127.0.0.1:{port}/workers")
        assert response.status_code == 200
        assert response.json() == {"workers": [{"name": "echo"}]}
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=20) == 0
    finally:
        proc.kill()
        proc.communicate()


def test_node_start_returns_after_main_when_not_waiting():
    proc = run_script(
        """
        from autonomy import Node

        async def main(node):
            print("main ran", flush=True)

        Node.start(main, wait_until_interrupted=False)
        print("returned", flush=True)
        """,
        {"DEFAULT_HOST_HTTP": "127.0.0.1", "DEFAULT_PORT_HTTP": "0"},
    )
    out, err = proc.communicate(timeout=30)
    assert proc.returncode == 0, err
    assert out.split("\n")[:2] == ["main ran", "returned"]


def test_a_failing_main_fails_the_process():
    proc = run_script(
        """
        from autonomy import Node

        async def main(node):
            raise RuntimeError("main is broken")

        Node.start(main)
        """,
        {"DEFAULT_HOST_HTTP": "127.0.0.1", "DEFAULT_PORT_HTTP": "0"},
    )
    _, err = proc.communicate(timeout=30)
    assert proc.returncode != 0
    assert "main is broken" in err


def test_http_port_in_use_is_a_clear_error():
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        proc = run_script(
            "from autonomy import Node\nNode.start(None)\n",
            {"DEFAULT_HOST_HTTP": "127.0.0.1", "DEFAULT_PORT_HTTP": str(port)},
        )
        _, err = proc.communicate(timeout=30)
    assert proc.returncode != 0
    assert f"Cannot serve HTTP on 127.0.0.1:{port}" in err and "DEFAULT_PORT_HTTP" in err


async def test_http_server_serves_workers_and_user_routes_with_the_node_injected():
    app = FastAPI()

    @app.get("/hello")
    async def hello(node: NodeDep):
        return {"node": node.name}

    async with Node.open("web", http_server=HttpServer("127.0.0.1:0", app=app)) as node:
        await node.start_worker("w1", Echo())
        base = f"http://127.0.0.1:{node.http_server.address[1]}"
        async with httpx.AsyncClient(base_url=base) as client:
            assert (await client.get("/hello")).json() == {"node": "web"}
            assert (await client.get("/workers")).json() == {"workers": [{"name": "w1"}]}
            assert (await client.get("/no-such-route")).status_code == 404


async def test_index_html_is_served_at_the_root(tmp_path, monkeypatch):
    (tmp_path / "index.html").write_text("<h1>hello</h1>")
    monkeypatch.chdir(tmp_path)
    async with Node.open(http_server=HttpServer("127.0.0.1:0")) as node:
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{node.http_server.address[1]}") as client:
            response = await client.get("/")
            assert response.status_code == 200
            assert response.text == "<h1>hello</h1>"


async def test_api_key_protects_the_built_in_routes(monkeypatch):
    monkeypatch.setenv("API_KEY", "s3cret")
    async with Node.open(http_server=HttpServer("127.0.0.1:0")) as node:
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{node.http_server.address[1]}") as client:
            refused = await client.get("/workers")
            assert refused.status_code == 401
            assert "s3cret" not in refused.text
            assert (await client.get("/workers", params={"api_key": "wrong"})).status_code == 401
            assert (await client.get("/workers", params={"api_key": "s3cret"})).status_code == 200


async def test_log_levels_can_be_read_and_changed_over_http():
    async with Node.open(http_server=HttpServer("127.0.0.1:0")) as node:
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{node.http_server.address[1]}") as client:
            levels = (await client.get("/logs/levels")).json()
            assert "default" in levels["levels"] and "debug" in levels["available_levels"]
            changed = await client.post("/logs/levels", json={"level": "DEBUG", "module": "agent"})
            assert changed.status_code == 200
            assert changed.json()["levels"]["agent"] == "DEBUG"
            assert (await client.post("/logs/levels", json={"level": "LOUD"})).status_code == 400
            assert (await client.post("/logs/levels", json={})).status_code == 400
            assert (await client.post("/logs/levels", content=b"not json",
                                      headers={"content-type": "application/json"})).status_code in (400, 422)


@pytest.mark.parametrize("bad", ["main-pod.x", "a b", "x>y"])
async def test_node_names_that_break_addressing_are_refused(bad, monkeypatch):
    monkeypatch.delenv("NODE", raising=False)
    with pytest.raises(InvalidName):
        await Node.create(bad)
