"""A node process starts lean: what it imports until someone uses more (docs/startup.md).

Each check runs a fresh interpreter (what is imported is process-wide state), so a change that makes
``import autonomy`` or a bare runner pull in FastAPI, pydantic, the agents or aiohttp again fails here
instead of silently costing every node of every zone ~0.5 s of CPU at start.
"""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from autonomy.http.deferred import DeferredApp
from tests.transport.fabric import ROOT

# Loaded on first use only: none of them may come with `import autonomy` or a bare runner's start.
HEAVY = ["fastapi", "pydantic", "starlette", "aiohttp", "multidict", "openai", "mcp", "httpx",
         "autonomy.agents", "autonomy.models", "autonomy.knowledge", "autonomy.memory", "autonomy.tools",
         "autonomy.flows", "autonomy.http.app"]

_LOADED = f"import json, sys; print('LOADED ' + json.dumps([m for m in {HEAVY!r} if m in sys.modules]))"


def _loaded(code: str, env: dict[str, str] | None = None) -> list[str]:
    proc = subprocess.run([sys.executable, "-c", f"{code}\n{_LOADED}"], cwd=ROOT, env=env, capture_output=True,
                          text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr[-3000:]
    line = next(line for line in proc.stdout.splitlines() if line.startswith("LOADED "))
    return json.loads(line[len("LOADED "):])


def test_import_autonomy_and_its_node_names_load_no_agents_models_or_fastapi():
    assert _loaded("import autonomy\nfrom autonomy import Node, Worker, RemoteNode, Zone, gather") == []


def test_an_upstream_name_still_imports_its_layer_on_first_use():
    loaded = _loaded("from autonomy import Agent, Model, NodeDep\nassert Agent.__name__ == 'Agent'")
    assert {"autonomy.agents", "autonomy.models", "fastapi"} <= set(loaded)


_RUNNER = """
import asyncio
from autonomy import Node

async def get(address, path):
    reader, writer = await asyncio.open_connection(*address)
    writer.write(f"GET {path} HTTP/1.1\\r\\nHost: t\\r\\nConnection: close\\r\\n\\r\\n".encode())
    data = await reader.read()
    writer.close()
    return data.split(b"\\r\\n", 1)[0].decode(), data.split(b"\\r\\n\\r\\n", 1)[1].decode()

async def main(node):
    import json, sys
    names = await node.list_nodes()  # joined the fabric
    before = [m for m in HEAVY if m in sys.modules]
    status, body = await get(node.http_server.address, "/agents")  # the first request builds the app
    print("RESULT " + json.dumps({"joined": node.name in names, "before": before, "status": status,
                                  "body": json.loads(body), "after": "fastapi" in sys.modules}))

Node.start(main, wait_until_interrupted=False)
"""


def test_a_bare_runner_joins_and_serves_without_fastapi_until_its_first_request(fabric):  # noqa: F811
    env = fabric.env(fabric.name("runner"))
    proc = subprocess.run([sys.executable, "-c", f"HEAVY = {HEAVY!r}\n{_RUNNER}"], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr[-3000:]
    result = json.loads(next(line for line in proc.stdout.splitlines() if line.startswith("RESULT "))[7:])
    assert result["joined"]
    assert result["before"] == []
    assert result["status"] == "HTTP/1.1 200 OK"
    assert result["body"] == {"agents": []}
    assert result["after"]


async def test_a_deferred_app_builds_once_and_a_failed_build_is_retried_by_the_next_request():
    calls: list[str] = []
    sent: list[dict[str, object]] = []

    async def app(scope, receive, send):
        await send({"type": "http.response.start", "status": 204, "headers": []})

    def build():
        calls.append("build")
        if len(calls) == 1:
            raise RuntimeError("first build fails")
        return app

    async def receive():
        return {"type": "http.request", "body": b""}

    async def send(message):
        sent.append(message)

    deferred = DeferredApp(build)
    scope = {"type": "http", "method": "GET", "path": "/"}
    with pytest.raises(RuntimeError, match="first build fails"):
        await deferred(scope, receive, send)
    await deferred(scope, receive, send)
    await deferred(scope, receive, send)
    assert calls == ["build", "build"]
    assert [m["status"] for m in sent] == [204, 204]
