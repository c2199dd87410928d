"""The controller's model gateway in-process: keys, config and usage in a real state.db, real HTTP."""

from __future__ import annotations

import sys
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import httpx
import pytest

from autonomy.cluster.model_gateway import ClusterModelGateway, default_config
from autonomy.cluster.state import ClusterState
from tests.support.fake_llm import FakeLLM
from tests.support.until import until

BODY = {"model": "fake-model", "messages": [{"role": "user", "content": "hi"}]}


@pytest.fixture
def llm() -> Iterator[FakeLLM]:
    with FakeLLM() as fake:
        yield fake


@pytest.fixture
async def running(tmp_path: Path) -> AsyncIterator[ClusterModelGateway]:
    state = ClusterState(tmp_path / "state.db")
    gateway = ClusterModelGateway(state)
    await gateway.start("127.0.0.1")
    try:
        yield gateway
    finally:
        await gateway.stop()
        state.close()


async def chat(gateway: ClusterModelGateway, key: str) -> httpx.Response:
    async with httpx.AsyncClient() as client:
        return await client.post(f"{gateway.url}/v1/chat/completions", json=BODY,
                                 headers={"Authorization": f"Bearer {key}"})


async def test_usage_is_batched_then_kept_in_state_across_a_restart(running: ClusterModelGateway, llm: FakeLLM,
                                                                    tmp_path: Path) -> None:
    await running.add_model("fake", url=llm.base_url, default=True)
    key = running.zone_env("z1")["AUTONOMY_EXTERNAL_APIS_GATEWAY_API_KEY"]
    for _ in range(3):
        assert (await chat(running, key)).status_code == 200
    assert running.state.usage() == {}  # not one write per request
    # the batch is written within FLUSH_SECONDS without any read
    await until(running.state.usage, what="the usage batch to be written")
    usage = running.usage("z1")
    assert usage["models"]["fake-model"]["requests"] == 3 and usage["totals"]["prompt_tokens"] > 0

    await running.stop()
    reopened = ClusterState(tmp_path / "state.db")
    try:
        again = ClusterModelGateway(reopened)
        assert again.usage_totals()["z1"]["requests"] == 3
        assert [p["name"] for p in again.list_models()["providers"]] == ["local", "fake"]  # config kept
    finally:
        reopened.close()


async def test_zone_keys_rotate_on_issue_and_state_keeps_digests_only(running: ClusterModelGateway,
                                                                       llm: FakeLLM) -> None:
    await running.add_model("fake", url=llm.base_url, default=True)
    env = running.zone_env("z1")
    assert env["AUTONOMY_USE_EXTERNAL_APIS_GATEWAY"] == "1" and env["AUTONOMY_EXTERNAL_APIS_GATEWAY_URL"] == running.url
    old = env["AUTONOMY_EXTERNAL_APIS_GATEWAY_API_KEY"]
    new = running.zone_env("z1")["AUTONOMY_EXTERNAL_APIS_GATEWAY_API_KEY"]
    assert (await chat(running, old)).status_code == 401
    assert (await chat(running, new)).status_code == 200
    stored = running.state.get_setting("zone_keys") or ""
    assert "z1" in stored and old not in stored and new not in stored

    running.forget_zone("z1")
    assert (await chat(running, new)).status_code == 401


async def test_api_key_value_is_set_in_the_controller_environment_not_in_state(
        running: ClusterModelGateway, llm: FakeLLM, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("W_TEST_PROVIDER_KEY", raising=False)
    result = await running.add_model("fake", url=llm.base_url, api_key_env="W_TEST_PROVIDER_KEY", default=True,
                                     api_key_value="sk-from-the-cli-1234")
    assert result["warnings"] == []
    key = running.zone_env("z1")["AUTONOMY_EXTERNAL_APIS_GATEWAY_API_KEY"]
    assert (await chat(running, key)).status_code == 200
    assert llm.completion_requests()[-1].headers["authorization"] == "Bearer sk-from-the-cli-1234"
    assert "sk-from-the-cli-1234" not in (running.state.get_setting("gateway") or "")

    warned = await running.add_model("other", url=llm.base_url, api_key_env="W_TEST_UNSET_KEY")
    assert "W_TEST_UNSET_KEY is not set" in warned["warnings"][0]


def test_default_config_has_no_provider_without_the_local_extra(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "llama_cpp", None)  # find_spec then returns None
    assert default_config().providers == ()
