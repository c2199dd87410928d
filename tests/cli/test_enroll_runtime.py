"""``autonomy cluster enroll --runtime docker|process``: the runtime is stored with the cluster and used by
every later controller start; ``cluster show`` and ``zone status`` say which runtime runs the zones."""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.cli.conftest import Cli, write_app

DOCKER = pytest.mark.skipif(os.geteuid() != 0 or not Path("/etc/debian_version").exists(),
                            reason="needs root on Debian (scripts/system-deps installs and starts Docker there)")
ZONE = """\
name: tiny
pods:
  - name: main-pod
    containers:
      - name: main
        image: main
"""


def _stored(cli: Cli) -> dict[str, object]:
    return json.loads((cli.home / "cluster.json").read_text())


@pytest.fixture
def stopping(cli: Cli) -> Iterator[Cli]:
    cli.env = {"AUTONOMY_RUNTIME": ""}  # the CI's environment must not choose for these tests
    try:
        yield cli
    finally:
        stopped = cli("cluster", "stop")
        assert stopped.code == 0, stopped


def test_an_unreachable_docker_engine_is_one_line_naming_the_flag_and_enrolls_nothing(stopping: Cli) -> None:
    cli = stopping
    missing = cli.home.parent / "no-docker.sock"
    refused = cli("cluster", "enroll", "--runtime", "docker", env={"DOCKER_HOST": f"unix://{missing}"})
    assert refused.code == 5, refused  # unavailable
    lines = refused.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: --runtime docker: the Docker Engine at "), refused
    assert "--runtime process" in lines[0]
    assert not (cli.home / "cluster.json").exists()  # nothing half-enrolled
    assert not (cli.home / "controller.sock").exists()


def test_an_unknown_runtime_is_refused_by_the_flag(stopping: Cli) -> None:
    refused = stopping("cluster", "enroll", "--runtime", "podman")
    assert refused.code == 2 and "--runtime" in refused.stderr and "'process', 'docker'" in refused.stderr


@pytest.mark.slow
def test_the_process_runtime_is_the_default_stored_and_shown(stopping: Cli) -> None:
    cli = stopping
    enrolled = cli("cluster", "enroll", "--no-input", "-o", "json")
    assert enrolled.code == 0, enrolled
    assert json.loads(enrolled.stdout)["runtime"] == "process"
    assert _stored(cli)["runtime"] == "process"
    shown = cli("cluster", "show")
    assert shown.code == 0 and "runtime" in shown.stdout and "process" in shown.stdout
    write_app(cli.cwd, ZONE)
    assert cli("zone", "deploy", timeout=300).code == 0
    status = cli("zone", "status")
    assert status.code == 0 and any(line.split()[:2] == ["runtime", "process"] for line in status.stdout.splitlines())


@DOCKER
@pytest.mark.slow
def test_a_cluster_with_zones_keeps_its_runtime(stopping: Cli) -> None:
    cli = stopping
    assert cli("cluster", "enroll", "--runtime", "process").code == 0
    write_app(cli.cwd, ZONE)
    assert cli("zone", "deploy", timeout=300).code == 0
    refused = cli("cluster", "enroll", "--runtime", "docker")
    assert refused.code == 1, refused
    assert "--runtime docker: the cluster in" in refused.stderr and "(tiny)" in refused.stderr
    assert "autonomy zone delete NAME" in refused.stderr
    assert _stored(cli)["runtime"] == "process"
    # the variable overrides one start, it never switches an enrolled cluster
    again = cli("cluster", "enroll", "-o", "json", env={"AUTONOMY_RUNTIME": "docker"})
    assert again.code == 0 and json.loads(again.stdout)["runtime"] == "process", again
    assert _stored(cli)["runtime"] == "process"


@DOCKER
@pytest.mark.slow
@pytest.mark.timeout(300)
def test_the_docker_runtime_is_stored_and_used_by_every_later_start(stopping: Cli) -> None:
    cli = stopping
    enrolled = cli("cluster", "enroll", "--runtime", "docker", "-o", "json")
    assert enrolled.code == 0, enrolled
    info = json.loads(enrolled.stdout)
    assert info["runtime"] == "docker" and info["network"].startswith("docker")
    assert _stored(cli)["runtime"] == "docker"

    assert cli("cluster", "stop").code == 0
    started = cli("cluster", "start", "-o", "json")  # no flag, no variable: the stored runtime
    assert started.code == 0, started
    assert json.loads(started.stdout)["runtime"] == "docker"

    assert cli("cluster", "stop").code == 0
    overridden = cli("cluster", "start", "-o", "json", env={"AUTONOMY_RUNTIME": "process"})
    assert overridden.code == 0, overridden
    assert json.loads(overridden.stdout)["runtime"] == "process"  # the variable overrides for this start
    assert _stored(cli)["runtime"] == "docker"  # and changes nothing stored

    assert cli("cluster", "stop").code == 0
    switched = cli("cluster", "enroll", "--runtime", "process", "-o", "json")  # no zone: it may switch
    assert switched.code == 0, switched
    assert json.loads(switched.stdout)["runtime"] == "process" and _stored(cli)["runtime"] == "process"
