"""The gateway daemon as a controller starts it: adopted when it runs the same code, replaced when not, its API
socket private, bad requests refused naming the field."""

from __future__ import annotations

import stat
import tempfile
from pathlib import Path

import httpx
import pytest

from autonomy.cluster import gateways_link
from autonomy.cluster.gateways_link import GatewaysLink, daemon_health

pytestmark = pytest.mark.slow


@pytest.fixture
def home():
    path = Path(tempfile.mkdtemp(prefix="agd-", dir="/tmp"))  # Unix socket paths: at most 108 bytes
    yield path
    gateways_link.stop_daemon(path)
    import shutil

    shutil.rmtree(path, ignore_errors=True)


async def test_a_running_daemon_is_adopted_and_one_of_another_version_replaced(home, monkeypatch):
    first = GatewaysLink(home, "127.0.0.1", 0)
    await first.connect()
    assert stat.S_IMODE((home / "gateways.sock").stat().st_mode) == 0o600
    adopted = GatewaysLink(home, "127.0.0.1", first.public_port)
    await adopted.connect()
    assert adopted.pid == first.pid and adopted.model_url == first.model_url

    monkeypatch.setattr(gateways_link, "code_version", lambda: "another-version")
    replaced = GatewaysLink(home, "127.0.0.1", first.public_port)
    await replaced.connect()
    assert replaced.pid != first.pid
    assert replaced.public_port == first.public_port and replaced.model_url == first.model_url  # same ports
    assert daemon_health(home)["pid"] == replaced.pid


async def test_the_daemon_refuses_bad_requests_naming_the_field(home):
    link = GatewaysLink(home, "127.0.0.1", 0)
    await link.connect()
    transport = httpx.AsyncHTTPTransport(uds=str(home / "gateways.sock"))
    async with httpx.AsyncClient(transport=transport, base_url="http://gateways", timeout=10) as http:
        answer = await http.put("/routes", content=b"[[[")
        assert answer.status_code == 400 and "JSON object" in answer.json()["message"]
        answer = await http.put("/routes", json={"public": []})
        assert answer.status_code == 400 and "public, sources" in answer.json()["message"]
        answer = await http.post("/controller", json={"pid": "x"})
        assert answer.status_code == 400 and answer.json()["message"].startswith("pid:")
