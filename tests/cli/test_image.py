"""``autonomy image build-base`` as a user runs it."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from autonomy.images import BASE_TAGS, base_key
from tests.cli.conftest import Cli


def test_build_base_without_a_docker_engine_says_how_to_start_one(cli: Cli) -> None:
    done = cli("image", "build-base", env={"DOCKER_HOST": "unix:///nonexistent/docker.sock"})
    assert done.code == 5  # unavailable (503): docs/cli.md
    assert done.stderr.startswith("error: The Docker Engine at unix:///nonexistent/docker.sock does not answer")
    assert "start the Docker Engine" in done.stderr and "Traceback" not in done.stderr
    assert done.stdout == ""


@pytest.mark.slow
@pytest.mark.timeout(900)
@pytest.mark.skipif(os.geteuid() != 0 or not Path("/etc/debian_version").exists(),
                    reason="needs root on Debian (scripts/system-deps installs and starts Docker there)")
def test_build_base_prints_the_image_its_key_and_the_time_each_step_took(cli: Cli) -> None:
    done = cli("image", "build-base", "-o", "json", timeout=900)
    assert done.code == 0, done.stderr
    result = json.loads(done.stdout)
    assert result["image"] == BASE_TAGS[0] and result["tags"] == list(BASE_TAGS)
    assert result["key"] == base_key() and result["id"].startswith("sha256:")
    assert result["seconds"]["total"] > 0
    assert "base:" in done.stderr  # progress goes to stderr, with the elapsed seconds
    again = cli("image", "build-base", timeout=900)
    assert again.code == 0, again.stderr
    assert "no: up to date" in again.stdout and result["id"] in again.stdout
