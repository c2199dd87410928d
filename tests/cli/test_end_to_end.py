"""The CLI against the real local cluster: enroll, deploy, list, status, logs, public URL, delete, stop."""

from __future__ import annotations

import json
from collections.abc import Iterator
from urllib.parse import urlsplit

import httpx
import pytest

from tests.cli.conftest import Cli, write_app
from tests.support.until import until_sync

ZONE = """\
name: hello
pods:
  - name: main-pod
    public: true
    containers:
      - name: main
        image: main
        env:
          - GREETING: secrets.GREETING
          - LOG_LEVEL: INFO
  - name: runner-pod
    clones: 2
    containers:
      - name: runner
        image: main
"""

MAIN = """\
import os

from fastapi import FastAPI

from autonomy import HttpServer, Node

app = FastAPI()


@app.get("/hello")
async def hello():
    return {"node": os.environ["NODE"], "greeting": os.environ.get("GREETING"), "zone": os.environ["ZONE"]}


async def main(node):
    print("started", os.environ["NODE"], "greeting set:", "GREETING" in os.environ, flush=True)


Node.start(main, http_server=HttpServer(app=app))
"""


@pytest.fixture
def cluster(cli: Cli) -> Iterator[Cli]:
    enrolled = cli("cluster", "enroll", "--no-input", "-o", "json")
    assert enrolled.code == 0, enrolled
    try:
        yield cli
    finally:
        stopped = cli("cluster", "stop")
        assert stopped.code == 0, stopped


def test_deployed_zone_runs_serves_its_public_url_and_is_deleted(cluster: Cli) -> None:
    cli = cluster
    shown = json.loads(cli("cluster", "show", "-o", "json").stdout)
    cluster_id = shown["id"]
    assert len(cluster_id) == 32 and shown["kind"] == "local"

    write_app(cli.cwd, ZONE, MAIN, secrets='GREETING: "hi there"\n')
    deployed = cli("zone", "deploy", "-o", "json")
    assert deployed.code == 0, deployed
    result = json.loads(deployed.stdout)  # progress went to stderr: stdout is only the result
    assert result["zone"] == "hello"
    assert result["url"].startswith(f"http://{cluster_id}-hello.localhost:")
    assert "ready" in deployed.stderr

    listed = json.loads(cli("zone", "list", "-o", "json").stdout)
    assert [z["zone"] for z in listed] == ["hello"]

    status = json.loads(cli("zone", "status", "-o", "json").stdout)
    nodes = sorted(p["node"] for p in status["pods"])
    assert nodes == [f"{cluster_id}-hello-main-pod", f"{cluster_id}-hello-runner-pod-0",
                     f"{cluster_id}-hello-runner-pod-1"]
    assert all(c["state"] == "running" for p in status["pods"] for c in p["containers"])
    assert "hi there" not in json.dumps(status)  # secrets never appear in listings

    url = urlsplit(result["url"])
    answer = httpx.get(f"http://127.0.0.1:{url.port}/hello", headers={"Host": url.netloc}, timeout=10).json()
    assert answer == {"node": f"{cluster_id}-hello-main-pod", "greeting": "hi there", "zone": "hello"}

    logs = cli("zone", "logs", "hello", "--pod", "main-pod")
    assert logs.code == 0 and f"started {cluster_id}-hello-main-pod greeting set: True" in logs.stdout

    text_status = cli("zone", "status")
    assert text_status.code == 0 and "runner-pod" in text_status.stdout

    deleted = cli("zone", "delete")
    assert deleted.code == 0 and "Deleted zone hello" in deleted.stdout
    assert json.loads(cli("zone", "list", "-o", "json").stdout) == []
    again = cli("zone", "delete", "hello")
    assert again.code == 4 and "no zone 'hello'" in again.stderr and "Traceback" not in again.stderr


def test_failing_container_fails_the_deploy_with_its_log(cluster: Cli) -> None:
    cli = cluster
    write_app(cli.cwd, "name: broken\npods:\n  - name: main-pod\n    containers: [{name: main, image: main}]\n",
              "raise SystemExit('cannot start: missing configuration')\n")
    deployed = cli("zone", "deploy")
    assert deployed.code == 1 and "Traceback" not in deployed.stderr.split("error:", 1)[0]
    assert "cannot start: missing configuration" in deployed.stderr


MCP_ZONE = """\
name: tools
pods:
  - name: main-pod
    public: true
    containers:
      - name: main
        image: main
      - name: time
        image: ghcr.io/build-trust/mcp-proxy
        args: ["--sse-port", "8001", "--pass-environment", "--", "mcp-server-time"]
"""

MCP_MAIN = """\
import httpx
from fastapi import FastAPI

from autonomy import HttpServer, Node

app = FastAPI()


@app.get("/tools-status")
async def tools_status():
    async with httpx.AsyncClient() as client:
        return (await client.get("http://localhost:8001/status", timeout=5)).json()


async def main(node):
    pass


Node.start(main, http_server=HttpServer(app=app))
"""


def test_mcp_proxy_container_serves_its_pod_on_localhost(cluster: Cli) -> None:
    cli = cluster
    write_app(cli.cwd, MCP_ZONE, MCP_MAIN)
    deployed = cli("zone", "deploy", "-o", "json")
    assert deployed.code == 0, deployed
    url = urlsplit(json.loads(deployed.stdout)["url"])
    def tools_status() -> httpx.Response | None:  # the proxy may still be starting when the node is up
        answer = httpx.get(f"http://127.0.0.1:{url.port}/tools-status", headers={"Host": url.netloc}, timeout=10)
        return answer if answer.status_code == 200 else None
    response = until_sync(tools_status, timeout=30, what="GET /tools-status to answer 200")
    assert response.json()["server_instances"] == {"default": "configured"}
