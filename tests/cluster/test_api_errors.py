"""The controller's API answers each error with its status, and the client turns it back into that error.

These run the real API app (``autonomy.cluster.api.build_app``) and the real client over a Unix socket,
in front of a stand-in controller whose deployer is missing (starting) or fails on purpose: the states a
real controller is in only for an instant.
"""

from __future__ import annotations

import asyncio
import json
import socket
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from fastapi.responses import StreamingResponse

from autonomy.cli.main import exit_code
from autonomy.cluster import ClusterClient
from autonomy.cluster.api import build_app
from autonomy.errors import ClusterError, ClusterUnavailable, ZoneNotFound
from autonomy.serving import ServedApp


@contextmanager
def serve_on_socket(app: Any, home: Path) -> Iterator[ClusterClient]:
    """Serve ``app`` on ``home/controller.sock`` (as the controller does) from a thread; yield a client."""
    home.mkdir(parents=True, exist_ok=True)
    (home / "cluster.json").write_text("{}")  # enrolled: the client talks to the socket, never starts one
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    sock.bind(str(home / "controller.sock"))
    sock.listen(8)
    sock.setblocking(False)
    loop = asyncio.new_event_loop()
    served = loop.run_until_complete(ServedApp.start(app, sock, lifespan="off"))
    thread = threading.Thread(target=loop.run_forever, name="controller-api")
    thread.start()
    try:
        yield ClusterClient(home)
    finally:
        asyncio.run_coroutine_threadsafe(served.stop(), loop).result(timeout=30)
        loop.call_soon_threadsafe(loop.stop)
        thread.join(timeout=30)
        loop.close()
        sock.close()


class FailingDeployer:
    network = "host"

    def zones(self) -> list[dict[str, Any]]:
        return []

    def status(self, name: str) -> dict[str, Any]:
        if name == "broken":
            raise RuntimeError("a bug in the deployer (secret-looking detail)")
        raise ZoneNotFound(name)


def standin(home: Path, deployer: Any = None) -> Any:
    models = SimpleNamespace(usage=lambda name: {}) if deployer is not None else None
    return SimpleNamespace(deployer=deployer, models=models, home=home, stopping=False, runtime="process")


def test_a_controller_that_is_starting_answers_503_and_the_cli_says_retry(tmp_path):
    with serve_on_socket(build_app(standin(tmp_path)), tmp_path) as client:
        with httpx.Client(transport=httpx.HTTPTransport(uds=str(client.socket_path)), base_url="http://c") as api:
            answer = api.get("/zones")
        assert answer.status_code == 503 and "starting" in answer.json()["message"]
        with pytest.raises(ClusterUnavailable, match="starting") as refused:
            client.list_zones()
    assert exit_code(refused.value) == 5


def test_an_unknown_zone_is_404_and_zone_not_found_naming_it(tmp_path):
    with serve_on_socket(build_app(standin(tmp_path, FailingDeployer())), tmp_path) as client:
        with pytest.raises(ZoneNotFound, match="no zone 'nope'") as refused:
            client.zone_status("nope")
    assert refused.value.zone == "nope" and refused.value.http_status == 404
    assert exit_code(refused.value) == 4


def test_an_unexpected_failure_is_a_json_500_pointing_at_the_log_without_a_traceback(tmp_path):
    with serve_on_socket(build_app(standin(tmp_path, FailingDeployer())), tmp_path) as client:
        with httpx.Client(transport=httpx.HTTPTransport(uds=str(client.socket_path)), base_url="http://c") as api:
            answer = api.get("/zones/broken/status")
        assert answer.status_code == 500
        message = answer.json()["message"]
        assert str(tmp_path / "controller.log") in message and "RuntimeError" in message
        assert "Traceback" not in answer.text and "secret-looking" not in answer.text
        with pytest.raises(ClusterError, match="controller.log") as failed:
            client.zone_status("broken")
    assert exit_code(failed.value) == 1


def _stream_app(events: list[dict[str, Any]]) -> FastAPI:
    app = FastAPI()
    app.add_api_route("/health", lambda: {"ok": True})

    async def deploy() -> StreamingResponse:
        async def lines() -> Any:
            for event in events:
                yield json.dumps(event) + "\n"
        return StreamingResponse(lines(), media_type="application/x-ndjson")
    app.add_api_route("/zones", deploy, methods=["POST"])
    return app


ZONE = {"name": "hello", "pods": []}


def test_a_deploy_stream_that_ends_without_done_fails(tmp_path):
    progress = {"event": "progress", "step": "copy", "detail": "copying"}
    with serve_on_socket(_stream_app([progress]), tmp_path) as client:
        seen = []
        with pytest.raises(ClusterError, match="no 'done' event"):
            for event in client.deploy(ZONE, {}, tmp_path):
                seen.append(event)
    assert seen == [progress]


def test_a_deploy_stream_ending_with_done_succeeds(tmp_path):
    done = {"event": "done", "result": {"zone": "hello", "url": None, "pods": []}}
    with serve_on_socket(_stream_app([{"event": "progress", "step": "s", "detail": "d"}, done]), tmp_path) as client:
        assert list(client.deploy(ZONE, {}, tmp_path))[-1] == done
