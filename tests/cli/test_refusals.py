"""A zone that cannot deploy is refused before anything starts: exit 1, a message, no traceback."""

from __future__ import annotations

import pytest

from tests.cli.conftest import Cli, write_app
from tests.zones.test_spec import REFUSALS

GOOD = """\
name: app
pods:
  - name: main-pod
    public: true
    containers:
      - name: main
        image: main
        env: {KEY: secrets.KEY}
"""


def assert_refused(cli: Cli, *messages: str, args: tuple[str, ...] = ("zone", "deploy")) -> str:
    result = cli(*args)
    assert result.code == 3, result  # invalid zone files (docs/cli.md)
    assert "Traceback" not in result.stderr and result.stdout == ""
    for message in messages:
        assert message in result.stderr, result.stderr
    # Nothing deployed: the controller was not even started, the home not even created.
    assert not cli.home.exists()
    return result.stderr


@pytest.mark.parametrize(("text", "path", "words"), REFUSALS)
def test_every_spec_refusal_names_file_field_and_fix(cli: Cli, text: str, path: str, words: str) -> None:
    write_app(cli.cwd, text + "\n")
    stderr = assert_refused(cli, "error: autonomy.yaml: ", words)
    if path:
        assert f"autonomy.yaml: {path}: " in stderr


def test_yaml_syntax_error_names_the_line(cli: Cli) -> None:
    write_app(cli.cwd, "name: a\npods:\n  - name: p\n    containers: [unclosed\n")
    assert_refused(cli, "autonomy.yaml: line ", "invalid YAML")


def test_missing_zone_file(cli: Cli) -> None:
    assert_refused(cli, "autonomy.yaml: not found", "--dir")


def test_missing_secret_and_unrunnable_image_are_reported_together(cli: Cli) -> None:
    write_app(cli.cwd, GOOD.replace("image: main", "image: docker.io/library/postgres:16"), secrets="OTHER: x\n")
    stderr = assert_refused(cli)
    assert "pods[0].containers[0].env.KEY: secrets.KEY is not defined in secrets.yaml" in stderr
    assert "pods[0].containers[0].image: 'docker.io/library/postgres:16': this local backend cannot run" in stderr


def test_bad_secrets_file_is_refused_without_its_values(cli: Cli) -> None:
    write_app(cli.cwd, GOOD, secrets="KEY: [sk-very-secret]\n")
    stderr = assert_refused(cli, "secrets.yaml: KEY: the value of 'KEY' must be a string")
    assert "sk-very-secret" not in stderr


def test_local_image_without_folder_is_refused(cli: Cli) -> None:
    write_app(cli.cwd, GOOD.replace("image: main", "image: web"), secrets="KEY: x\n")
    assert_refused(cli, "pods[0].containers[0].image: 'web': no folder images/web/")


def test_dry_run_checks_and_shows_plans_without_a_cluster(cli: Cli) -> None:
    write_app(cli.cwd, GOOD + "    portals: {outlets: [{to: 'localhost:7000'}]}\n", secrets="KEY: x\n")
    result = cli("zone", "deploy", "--dry-run", "-o", "json")
    assert result.code == 0, result
    assert '"main-pod/main"' in result.stdout and "main.py" in result.stdout
    assert "note: pods[0].portals: ignored" in result.stderr
    assert not cli.home.exists()


def test_delete_reads_the_zone_name_even_from_a_spec_with_problems(cli: Cli) -> None:
    write_app(cli.cwd, "name: app\npods: []\n")
    # The name was read (the command got as far as the cluster, which is not enrolled here).
    result = cli("zone", "delete")
    assert result.code == 1 and "autonomy cluster enroll" in result.stderr and "Traceback" not in result.stderr
