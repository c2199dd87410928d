"""The local cluster enrolled with `--runtime docker`, driven by the CLI as a user does: the zone's pods run
as Docker Engine containers built from its Dockerfiles, and every command works as with processes."""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit

import docker
import httpx
import pytest

from tests.cli.conftest import Cli, write_app
from tests.cli.test_end_to_end import MAIN, ZONE

pytestmark = [
    pytest.mark.slow,
    pytest.mark.timeout(900),  # the base image is built first when autonomy's source changed
    pytest.mark.skipif(os.geteuid() != 0 or not Path("/etc/debian_version").exists(),
                       reason="needs root on Debian (scripts/system-deps installs and starts Docker there)"),
]


@pytest.fixture
def docker_cluster(cli: Cli) -> Iterator[Cli]:
    cli.env = {"AUTONOMY_RUNTIME": ""}  # the runtime stored at enroll, not the environment's
    built = cli("image", "build-base", timeout=900)
    assert built.code == 0, built
    enrolled = cli("cluster", "enroll", "--no-input", "--runtime", "docker", "-o", "json")
    assert enrolled.code == 0, enrolled
    try:
        yield cli
    finally:
        stopped = cli("cluster", "stop")
        assert stopped.code == 0, stopped


def test_a_zone_deployed_with_the_docker_runtime_serves_logs_and_is_deleted(docker_cluster: Cli) -> None:
    cli = docker_cluster
    cluster_id = json.loads(cli("cluster", "show", "-o", "json").stdout)["id"]
    write_app(cli.cwd, ZONE, MAIN, secrets='GREETING: "hi there"\n')
    deployed = cli("zone", "deploy", "-o", "json", timeout=300)
    assert deployed.code == 0, deployed
    result = json.loads(deployed.stdout)
    assert "main: Step 2/3 : COPY . ." in deployed.stderr  # the Dockerfile was built as written

    status = json.loads(cli("zone", "status", "-o", "json").stdout)
    assert status["runtime"] == "docker"
    assert sorted(p["node"] for p in status["pods"]) == [
        f"{cluster_id}-hello-main-pod", f"{cluster_id}-hello-runner-pod-0", f"{cluster_id}-hello-runner-pod-1"]
    assert all(c["state"] == "running" for p in status["pods"] for c in p["containers"])
    assert "hi there" not in json.dumps(status)

    url = urlsplit(result["url"])
    answer = httpx.get(f"http://127.0.0.1:{url.port}/hello", headers={"Host": url.netloc}, timeout=10).json()
    assert answer == {"node": f"{cluster_id}-hello-main-pod", "greeting": "hi there", "zone": "hello"}

    logs = cli("zone", "logs", "hello", "--pod", "main-pod")
    assert logs.code == 0 and f"started {cluster_id}-hello-main-pod greeting set: True" in logs.stdout

    deleted = cli("zone", "delete")
    assert deleted.code == 0, deleted
    assert json.loads(cli("zone", "list", "-o", "json").stdout) == []
    engine = docker.from_env()  # the zone's containers and images are gone with it
    try:
        assert not engine.containers.list(all=True, filters={"label": f"computer.autonomy.cluster={cluster_id}"})
        assert not engine.images.list(name=f"autonomy-local/{cluster_id[:8]}-hello/*")
    finally:
        engine.close()
