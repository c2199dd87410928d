"""examples/webui under the Docker runtime: a Node.js UI beside a Python node in one pod (upstream's pattern).

The UI (Node.js installed by the Dockerfile's ``RUN apt-get``) serves the page on the pod's public port;
its ``/api/hello`` calls the Python node over the pod's shared localhost (127.0.0.1:8001, which nothing
outside the pod reaches). Deployed with the CLI as a user does, read through the public gateway.

The UI's Node.js layer is kept between runs (a tag on it, ``autonomy-test-cache/webui-nodejs``) so that a
second run rebuilds nothing but the small layers: deleting the zone removes its images, and with them the
untagged layers the next build would have reused.
"""

from __future__ import annotations

import json
import os
import shutil
import socket
from pathlib import Path
from urllib.parse import urlsplit

import docker
import httpx
import pytest

from tests.cli.conftest import Cli
from tests.support.until import until_sync

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "webui"
CACHE_TAG = ("autonomy-test-cache/webui-nodejs", "latest")

pytestmark = [
    pytest.mark.slow,
    pytest.mark.timeout(1500),  # the first run builds the base image and installs Node.js from the Debian mirror
    pytest.mark.skipif(os.geteuid() != 0 or not Path("/etc/debian_version").exists(),
                       reason="needs root on Debian (scripts/system-deps installs and starts Docker there)"),
]


def _keep_nodejs_layer(engine: docker.DockerClient, cluster_id: str) -> None:
    """Tag the UI image's first layer above the Debian root (its ``RUN apt-get install nodejs``)."""
    root = engine.images.get("autonomy/debian-rootfs:bookworm").id
    for image in engine.images.list(name=f"autonomy-local/{cluster_id[:8]}-webui/ui"):
        current = image.id
        while True:
            parent = engine.api.inspect_image(current).get("Parent")
            if not parent or parent == root:
                break
            current = parent
        if parent == root:
            engine.api.tag(current, *CACHE_TAG, force=True)


def test_the_webui_example_serves_its_page_and_the_ui_calls_the_python_node(cli: Cli) -> None:
    cli.env = {"AUTONOMY_RUNTIME": ""}
    built = cli("image", "build-base", timeout=900)
    assert built.code == 0, built
    enrolled = cli("cluster", "enroll", "--no-input", "--runtime", "docker", "-o", "json")
    assert enrolled.code == 0, enrolled
    cluster_id = json.loads(enrolled.stdout)["id"]
    engine = docker.from_env()
    try:
        shutil.copytree(EXAMPLE, cli.cwd, dirs_exist_ok=True)
        deployed = cli("zone", "deploy", "-o", "json", timeout=1200)
        assert deployed.code == 0, deployed
        url = urlsplit(json.loads(deployed.stdout)["url"])
        gateway, host = f"http://127.0.0.1:{url.port}", {"Host": url.netloc}

        page = httpx.get(f"{gateway}/", headers=host, timeout=10)
        assert page.status_code == 200 and "<h1>Autonomy web UI</h1>" in page.text, page.text

        def round_trip() -> dict | None:  # the node container may still be starting when the UI answers
            answer = httpx.get(f"{gateway}/api/hello", params={"name": "test"}, headers=host, timeout=15)
            return answer.json() if answer.status_code == 200 else None

        answer = until_sync(round_trip, timeout=90, what="the UI's round trip to the Python node")
        assert answer["ui"].startswith("node.js v")
        assert answer["node"] == {"greeting": "Hello, test!", "node": f"{cluster_id}-webui-main-pod", "zone": "webui"}

        status = json.loads(cli("zone", "status", "-o", "json").stdout)
        assert status["runtime"] == "docker"
        (pod,) = status["pods"]
        assert {c["container"]: c["state"] for c in pod["containers"]} == {"ui": "running", "main": "running"}
        # the UI wrote beside its code (its container's own app directory), as Next.js writes .next/cache
        ui = engine.containers.get(f"autonomy-{cluster_id[:8]}-webui-main-pod-0-ui")
        written = until_sync(lambda: ui.exec_run(["cat", "/app/visits.log"]).exit_code == 0, timeout=30,
                             what="the UI's visits.log in its app directory")
        assert written and ui.attrs["Config"]["User"] == f"{status['uid']}:{status['uid']}"
        # the node listens on the pod's localhost only: the pod's address does not serve its port
        with pytest.raises(OSError), socket.create_connection((pod["address"], 8001), timeout=5):
            pass
        _keep_nodejs_layer(engine, cluster_id)
        deleted = cli("zone", "delete")
        assert deleted.code == 0, deleted
    finally:
        engine.close()
        stopped = cli("cluster", "stop")
        assert stopped.code == 0, stopped
