"""What a newcomer meets in the first hour: the public port, a stopped cluster, URLs that work everywhere."""

from __future__ import annotations

import json
import socket
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
import yaml

from autonomy.cluster import public_port
from tests.cli.conftest import Cli, write_app
from tests.cluster.conftest import _cleanup


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture
def held_port() -> Iterator[int]:
    """A loopback port another program listens on."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        s.listen(1)
        yield int(s.getsockname()[1])


@pytest.fixture
def stopped_cli(cli: Cli) -> Iterator[Cli]:
    try:
        yield cli
    finally:
        cli("cluster", "stop")
        _cleanup(cli.home)


def test_enroll_takes_the_next_free_port_when_the_default_is_busy_and_says_so(
        held_port: int, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("AUTONOMY_PUBLIC_PORT", raising=False)
    monkeypatch.setattr(public_port, "DEFAULT_PORT", held_port)
    port, note = public_port.choose_port(None)
    assert port > held_port and note == f"port {held_port} is in use: the public port is {port}"
    with pytest.raises(Exception, match="--port N` \\(or AUTONOMY_PUBLIC_PORT=N\\)"):
        public_port.choose_port(held_port)  # asked for: refused, never moved silently


def test_a_busy_port_is_one_line_naming_the_flag_and_the_variable(stopped_cli: Cli, held_port: int) -> None:
    refused = stopped_cli("cluster", "enroll", "--port", str(held_port))
    assert refused.code == 1 and "Traceback" not in refused.stderr
    assert len(refused.stderr.strip().splitlines()) == 1, refused.stderr
    assert "--port" in refused.stderr and "AUTONOMY_PUBLIC_PORT" in refused.stderr and str(held_port) in refused.stderr


@pytest.mark.slow
def test_the_port_is_stored_at_enroll_and_read_only_commands_do_not_start_a_stopped_cluster(stopped_cli: Cli) -> None:
    cli = stopped_cli
    port = _free_port()
    enrolled = cli("cluster", "enroll", "--port", str(port), "-o", "json")
    assert enrolled.code == 0, enrolled
    shown = json.loads(enrolled.stdout)
    assert shown["public_port"] == port and json.loads((cli.home / "cluster.json").read_text())["public_port"] == port
    assert shown["console_path_url"] == f"http://127.0.0.1:{port}/"
    assert httpx.get(f"http://127.0.0.1:{port}/").status_code == 200  # the console answers at once
    assert cli("cluster", "stop").code == 0

    for args in (["cluster", "show"], ["zone", "list"], ["zone", "status", "hello"], ["zone", "logs", "hello"],
                 ["cluster", "model", "list"], ["zone", "url", "hello"]):
        refused = cli(*args)
        assert refused.code == 1, (args, refused)
        assert "is stopped" in refused.stderr and "autonomy cluster start" in refused.stderr, (args, refused.stderr)
    assert not (cli.home / "controller.sock").exists()  # none of them started it

    # The environment of the command that starts it does not move the port (the Cli sets AUTONOMY_PUBLIC_PORT=0).
    started = cli("cluster", "start", "-o", "json")
    assert started.code == 0, started
    assert json.loads(started.stdout)["public_port"] == port


@pytest.mark.slow
def test_zone_urls_have_a_form_for_any_client_and_listings_keep_them_whole(stopped_cli: Cli) -> None:
    cli = stopped_cli
    assert cli("cluster", "enroll").code == 0
    write_app(cli.cwd, "name: hello\npods:\n  - name: main-pod\n    public: true\n    containers:\n"
                       "      - name: main\n        image: main\n")
    deployed = cli("zone", "deploy")
    assert deployed.code == 0, deployed
    assert "any client: http://127.0.0.1:" in deployed.stdout and "/z/hello/" in deployed.stdout

    urls = json.loads(cli("zone", "url", "hello", "-o", "json").stdout)
    assert urls["path_url"].startswith("http://127.0.0.1:") and urls["path_url"].endswith("/z/hello/")
    assert urls["console_path_url"].endswith("/zones/hello")
    assert yaml.safe_load(cli("zone", "url", "-o", "yaml").stdout) == urls  # NAME from ./autonomy.yaml
    # The path form works from Python (no *.localhost resolution) and a bare / leads to the console page.
    root = httpx.get(urls["path_url"], follow_redirects=True)
    assert root.status_code == 200 and str(root.url) == urls["console_path_url"]

    listed = cli("zone", "list", env={"COLUMNS": "60"})
    header, row = listed.stdout.splitlines()[:2]
    assert header.split("\t")[:4] == ["ZONE", "STATE", "URL", "ANY CLIENT"] and row.split("\t")[1] == "running"
    assert row.split("\t")[3] == urls["path_url"]
    assert urls["url"] in listed.stdout
    assert yaml.safe_load(cli("zone", "list", "-o", "yaml").stdout)[0]["state"] == "running"

    logs = cli("zone", "logs", "hello", "--pod", "nopod")
    assert logs.code == 1 and "None" not in logs.stderr and "its pods are main-pod" in logs.stderr, logs.stderr


def test_a_missing_dir_is_named(cli: Cli, tmp_path: Path) -> None:
    refused = cli("zone", "deploy", "--dir", str(tmp_path / "missing"))
    assert refused.code == 3 and "missing: does not exist: --dir must name the zone's directory" in refused.stderr
