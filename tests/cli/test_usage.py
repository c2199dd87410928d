"""Usage errors exit 2 with click's message; commands needing a cluster say how to get one."""

from __future__ import annotations

import pytest

from tests.cli.conftest import Cli


@pytest.mark.parametrize("args", [
    ("nope",),
    ("zone", "nope"),
    ("zone", "deploy", "--bogus"),
    ("zone", "list", "-o", "xml"),
    ("zone", "logs", "app", "--tail", "-1"),
    ("cluster", "show", "extra-argument"),
])
def test_usage_errors_exit_2_without_traceback(cli: Cli, args: tuple[str, ...]) -> None:
    result = cli(*args)
    assert result.code == 2, result
    assert "Usage:" in result.stderr and "Traceback" not in result.stderr


def test_version_and_help(cli: Cli) -> None:
    version = cli("--version")
    assert version.code == 0 and version.stdout.startswith("autonomy ")
    help_ = cli("zone", "--help")
    assert help_.code == 0 and all(c in help_.stdout for c in ("deploy", "list", "delete", "status", "logs"))


@pytest.mark.parametrize("args", [("cluster", "show"), ("zone", "list"), ("zone", "status", "app")])
def test_commands_without_a_cluster_say_to_enroll(cli: Cli, args: tuple[str, ...]) -> None:
    result = cli(*args)
    assert result.code == 1 and "Traceback" not in result.stderr
    assert "autonomy cluster enroll" in result.stderr


def test_stop_without_a_running_cluster_is_not_an_error(cli: Cli) -> None:
    result = cli("cluster", "stop", "-o", "json")
    assert result.code == 0 and '"stopped": false' in result.stdout
