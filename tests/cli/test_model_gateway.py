"""The cluster's model gateway through the CLI: providers, a deployed agent, keys, usage and errors.

The fake OpenAI-compatible provider runs in this process on 127.0.0.1; the gateway runs in the
controller on the host and calls it there; the pods (namespace mode, as root) call the gateway on the
bridge address: the production shape.
"""

from __future__ import annotations

import json
import shutil
import socket
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx
import pytest

from tests.cli.conftest import CALC_APP_HEAD, Cli, write_app
from tests.cluster.conftest import _cleanup
from tests.support.fake_llm import FakeLLM

PROVIDER_KEY = "sk-fake-provider-key-4242"  # what the fake provider must receive (from --api-key-env)
DOWN_KEY = "sk-down-provider-key-1717"

AGENT_ZONE = """\
name: {name}
pods:
  - name: main-pod
    public: true
    containers:
      - name: main
        image: main
{env}"""

AGENT_MAIN = CALC_APP_HEAD + """\
    await Agent.start(node=node, name="ghost", instructions="You answer.", model=Model("no-such-model"))
    # No node-side retries of the 502 (upstream's default waits 5 + 10 + 20 s).
    await Agent.start(node=node, name="down", instructions="You answer.",
                      model=Model("down-model", throttle_max_retry_attempts=0))


Node.start(main)
"""


@pytest.fixture(scope="module")
def llm() -> Iterator[FakeLLM]:
    with FakeLLM() as fake:
        yield fake


@pytest.fixture(scope="module")
def cluster() -> Iterator[Cli]:
    """One enrolled cluster for the module (short home: Unix socket paths are limited to 108 bytes)."""
    home = Path(tempfile.mkdtemp(prefix="aw-", dir="/tmp"))
    apps = Path(tempfile.mkdtemp(prefix="aw-apps-", dir="/tmp"))
    cli = Cli(home=home / "h", cwd=apps, env={"W_FAKE_KEY": PROVIDER_KEY, "W_DOWN_KEY": DOWN_KEY})
    enrolled = cli("cluster", "enroll", "--no-input")
    assert enrolled.code == 0, enrolled
    try:
        yield cli
    finally:
        cli("cluster", "stop")
        _cleanup(cli.home)
        shutil.rmtree(home, ignore_errors=True)
        shutil.rmtree(apps, ignore_errors=True)


@pytest.fixture(autouse=True)
def fresh_llm(llm: FakeLLM) -> None:
    llm.reset()


def ok(result: Any) -> Any:
    assert result.code == 0, result
    return result


def providers(cli: Cli) -> list[dict[str, Any]]:
    return json.loads(ok(cli("cluster", "model", "list", "-o", "json")).stdout)


def use_providers(cli: Cli, *adds: list[str]) -> None:
    """Replace every provider with ``adds`` (each the arguments after ``model add``)."""
    for row in providers(cli):
        ok(cli("cluster", "model", "remove", row["name"]))
    for args in adds:
        ok(cli("cluster", "model", "add", *args))


def deploy(cli: Cli, name: str, env: str = "") -> str:
    directory = cli.cwd / name
    directory.mkdir(exist_ok=True)
    write_app(directory, AGENT_ZONE.format(name=name, env=env), AGENT_MAIN)
    result = ok(cli("zone", "deploy", "--dir", str(directory), "-o", "json", timeout=180))
    return json.loads(result.stdout)["url"]


def ask(url: str, agent: str, message: str) -> httpx.Response:
    """POST to the zone's public URL (``*.localhost`` may not resolve here: connect to 127.0.0.1, send the Host)."""
    public = urlsplit(url)
    return httpx.post(f"http://127.0.0.1:{public.port}/agents/{agent}", json={"message": message},
                      headers={"Host": public.netloc}, timeout=90)


def container_env(cli: Cli, zone: str) -> dict[str, str]:
    """The node container's environment, read from /proc (the test runs as the same user or root)."""
    status = json.loads(ok(cli("zone", "status", zone, "-o", "json")).stdout)
    pid = status["pods"][0]["containers"][0]["pid"]
    raw = Path(f"/proc/{pid}/environ").read_bytes()
    return dict(item.split("=", 1) for item in raw.decode().split("\0") if "=" in item)


def test_model_add_list_remove_round_trip_persists_across_cluster_stop(cluster: Cli, llm: FakeLLM) -> None:
    cli = cluster
    assert [p["name"] for p in providers(cli)] == ["local"]  # a new cluster: the embedded demo model
    ok(cli("cluster", "model", "add", "fake", "--url", llm.base_url, "--api-key-env", "W_FAKE_KEY",
           "--model", "fake-model", "--model", "fake-2", "--default"))
    rows = {p["name"]: p for p in providers(cli)}
    assert rows["fake"] == {"name": "fake", "kind": "openai", "url": llm.base_url, "key": "env:W_FAKE_KEY",
                            "models": ["fake-model", "fake-2"], "default": True}
    assert rows["local"]["default"] is False  # --default took the role

    refusals = [
        (["fake", "--url", llm.base_url], "exists already"),
        (["other", "--url", "ftp://example.com"], "url"),
        (["other"], "url is required"),
        (["other", "--url", llm.base_url, "--api-key-env", "sk-not-a-variable-name"], "api_key_env"),
        (["other", "--url", llm.base_url, "--api-key-file", "/nonexistent/key"], "--api-key-file"),
        (["Bad Name", "--url", llm.base_url], "provider name"),
    ]
    before = providers(cli)
    for args, field in refusals:
        refused = cli("cluster", "model", "add", *args)
        assert refused.code == 1, (args, refused)
        assert field in refused.stderr and "Traceback" not in refused.stderr, (args, refused.stderr)
    assert cli("cluster", "model", "remove", "nope").code == 1
    assert providers(cli) == before  # no refusal changed anything

    ok(cli("cluster", "stop"))
    stopped = cli("cluster", "model", "list")  # a read-only command does not start a stopped cluster
    assert stopped.code == 1 and "stopped" in stopped.stderr and "autonomy cluster start" in stopped.stderr
    ok(cli("cluster", "start"))
    assert providers(cli) == before  # config kept across the restart
    shown = json.loads(ok(cli("cluster", "show", "-o", "json")).stdout)
    assert shown["models"] == ["local", "fake"] and shown["gateway_url"].startswith("http://")

    ok(cli("cluster", "model", "remove", "local"))
    assert [p["name"] for p in providers(cli)] == ["fake"]
    assert PROVIDER_KEY.encode() not in (cli.home / "state.db").read_bytes()


def test_deployed_agent_uses_its_tool_through_the_gateway_and_usage_is_shown(cluster: Cli, llm: FakeLLM) -> None:
    cli = cluster
    use_providers(cli, ["fake", "--url", llm.base_url, "--api-key-env", "W_FAKE_KEY", "--default"])
    url = deploy(cli, "agents")
    llm.reply(tool_calls=[("add", {"a": 2, "b": 3})])
    llm.reply("The sum is 5.")

    response = ask(url, "calc", "What is 2 + 3?")
    assert response.status_code == 200, response.text
    messages = response.json()
    assert [m["content"]["text"] for m in messages if m["role"] == "tool"] == ["5"]
    assert messages[-1]["content"]["text"] == "The sum is 5."

    requests = llm.completion_requests()
    assert len(requests) == 2
    specs = {t["function"]["name"]: t["function"] for t in requests[0].json["tools"]}
    assert sorted(specs["add"]["parameters"]["properties"]) == ["a", "b"]  # the agent's tool spec arrived
    assert requests[0].json["model"] == "claude-sonnet-4-v1"  # passed through by the default provider
    zone_key = container_env(cli, "agents")["AUTONOMY_EXTERNAL_APIS_GATEWAY_API_KEY"]
    for request in requests:  # the provider gets the provider's key, never the zone's
        assert request.headers.get("authorization") == f"Bearer {PROVIDER_KEY}"
        assert zone_key not in json.dumps(request.headers) + json.dumps(request.json)

    status = json.loads(ok(cli("zone", "status", "agents", "-o", "json")).stdout)
    usage = status["usage"]["models"]["claude-sonnet-4-v1"]
    assert usage["requests"] == 2 and usage["failed_requests"] == 0
    assert usage["prompt_tokens"] > 0 and usage["completion_tokens"] > 0
    assert status["usage"]["totals"]["requests"] == 2
    text = ok(cli("zone", "status", "agents")).stdout
    assert "claude-sonnet-4-v1" in text and "completion tokens" in text.lower()
    assert status["usage"]["providers"] == {"claude-sonnet-4-v1": "fake"}  # which provider served the name
    assert "served by" in text.lower()
    shown = json.loads(ok(cli("cluster", "show", "-o", "json")).stdout)
    assert shown["usage"]["agents"]["requests"] == 2

    # The zone's key is only in the container's environment.
    for where in (json.dumps(status), json.dumps(shown), ok(cli("zone", "logs", "agents")).stdout,
                  (cli.home / "controller.log").read_text(), ok(cli("zone", "list", "-o", "json")).stdout):
        assert zone_key not in where
    assert zone_key.encode() not in (cli.home / "state.db").read_bytes()

    # A redeploy rotates the key: the old one is refused by the gateway at once.
    gateway = shown["gateway_url"]
    body = {"model": "fake-model", "messages": [{"role": "user", "content": "hi"}]}
    outside = httpx.post(f"{gateway}/v1/chat/completions", json=body, headers={"Authorization": f"Bearer {zone_key}"})
    if status["network"] == "namespace":  # the key is bound to the zone's pods: the host is not one of them
        assert outside.status_code == 403 and "bound to its zone's pods" in outside.text
    else:
        assert outside.status_code == 200
    deploy(cli, "agents")
    assert container_env(cli, "agents")["AUTONOMY_EXTERNAL_APIS_GATEWAY_API_KEY"] != zone_key
    refused = httpx.post(f"{gateway}/v1/chat/completions", json=body, headers={"Authorization": f"Bearer {zone_key}"})
    assert refused.status_code == 401


def test_agent_errors_name_the_model_the_provider_or_the_key(cluster: Cli, llm: FakeLLM) -> None:
    cli = cluster
    with socket.socket() as s:  # a port nothing listens on: the "down" provider
        s.bind(("127.0.0.1", 0))
        closed = s.getsockname()[1]
    use_providers(cli, ["fake", "--url", llm.base_url, "--api-key-env", "W_FAKE_KEY", "--model", "fake-model"],
                  ["down", "--url", f"http://127.0.0.1:{closed}/v1", "--api-key-env", "W_DOWN_KEY",
                   "--model", "down-model"])
    url = deploy(cli, "errors")

    ghost = ask(url, "ghost", "hello")
    assert ghost.status_code >= 400
    assert "no-such-model" in ghost.text and "fake-model" in ghost.text and "down-model" in ghost.text
    assert "404" in ghost.text

    down = ask(url, "down", "hello")
    assert down.status_code >= 400
    assert "502" in down.text and "'down'" in down.text
    assert DOWN_KEY not in down.text

    # A user env entry wins over the platform's: a wrong key set by the zone gets 401.
    wrong = "        env:\n          - AUTONOMY_EXTERNAL_APIS_GATEWAY_API_KEY: azk_wrong_key_0123456789\n"
    bad = deploy(cli, "badkey", env=wrong)
    refused = ask(bad, "calc", "hello")
    assert refused.status_code >= 400 and "401" in refused.text, refused.text
    assert llm.completion_requests() == []
    ok(cli("zone", "delete", "badkey"))
    ok(cli("zone", "delete", "errors"))
