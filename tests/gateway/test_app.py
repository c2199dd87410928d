"""The gateway served for real in front of a fake upstream, driven by the real openai SDK."""

from __future__ import annotations

import asyncio
import json
import re
from collections.abc import AsyncIterator

import httpx
import openai
import pytest

from autonomy.gateway import GatewayConfig, ProviderConfig, ThrottleConfig
from tests.gateway.conftest import UPSTREAM_KEY_ENV, RunningGateway, serve, upstream_config
from tests.support.fake_llm import FakeLLM, Reply

TOOLS = [{"type": "function", "function": {"name": "get_time", "description": "Current time",
                                            "parameters": {"type": "object",
                                                           "properties": {"timezone": {"type": "string"}}}}}]


_open: list[openai.AsyncOpenAI] = []


def client(gateway: RunningGateway, key: str | None = None) -> openai.AsyncOpenAI:
    """An openai SDK client for the gateway (closed after the test by ``_close_clients``)."""
    made = openai.AsyncOpenAI(base_url=gateway.base_url, api_key=key or gateway.key, max_retries=0)
    _open.append(made)
    return made


@pytest.fixture(autouse=True)
async def _close_clients() -> AsyncIterator[None]:
    yield
    while _open:
        await _open.pop().close()


async def test_chat_completion_reaches_the_provider_with_its_key_and_model_name(
    gateway: RunningGateway, upstream: FakeLLM
) -> None:
    upstream.reply("Hello from upstream")
    answer = await client(gateway).chat.completions.create(
        model="fake-model", messages=[{"role": "user", "content": "hi"}],
        extra_headers={"X-Client-Zone": "zone1", "X-Client-Node": "n1"})
    assert answer.choices[0].message.content == "Hello from upstream"
    seen = upstream.completion_requests()[-1]
    assert seen.headers["authorization"] == f"Bearer {upstream.api_key}"
    assert seen.json["model"] == "fake-model"
    assert gateway.key not in json.dumps(seen.headers)


async def test_stream_is_relayed_byte_for_byte(gateway: RunningGateway, upstream: FakeLLM) -> None:
    body = {"model": "fake-model", "messages": [{"role": "user", "content": "hi"}], "stream": True,
            "stream_options": {"include_usage": True}}
    normalize = re.compile(rb"(chatcmpl-|call_)\d+")
    async with httpx.AsyncClient() as http:
        upstream.reply("one two three", tool_calls=[("get_time", {"timezone": "Asia/Tokyo"})])
        direct = (await http.post(upstream.base_url + "/chat/completions", json=body)).content
        upstream.reply("one two three", tool_calls=[("get_time", {"timezone": "Asia/Tokyo"})])
        relayed = await http.post(gateway.base_url + "/chat/completions", json=body,
                                  headers={"authorization": f"Bearer {gateway.key}"})
    assert relayed.headers["content-type"].startswith("text/event-stream")
    assert normalize.sub(b"X", relayed.content) == normalize.sub(b"X", direct)
    assert relayed.content.endswith(b"data: [DONE]\n\n")


async def test_streamed_tool_call_reassembles_in_the_openai_sdk(gateway: RunningGateway, upstream: FakeLLM) -> None:
    upstream.reply(tool_calls=[("get_time", {"timezone": "Asia/Tokyo"})])
    stream = await client(gateway).chat.completions.create(
        model="fake-model", messages=[{"role": "user", "content": "time?"}], tools=TOOLS, stream=True)
    name, arguments, finish = "", "", None
    async for chunk in stream:
        for choice in chunk.choices:
            for call in choice.delta.tool_calls or []:
                name += call.function.name or ""
                arguments += call.function.arguments or ""
            finish = choice.finish_reason or finish
    assert (name, json.loads(arguments), finish) == ("get_time", {"timezone": "Asia/Tokyo"}, "tool_calls")


async def test_missing_or_unknown_key_is_refused_with_401(gateway: RunningGateway) -> None:
    with pytest.raises(openai.AuthenticationError) as refused:
        await client(gateway, key="not-a-zone-key-at-all").chat.completions.create(
            model="fake-model", messages=[{"role": "user", "content": "hi"}])
    assert refused.value.status_code == 401
    assert "AUTONOMY_EXTERNAL_APIS_GATEWAY_API_KEY" in refused.value.message
    async with httpx.AsyncClient() as http:
        response = await http.get(gateway.base_url + "/models")
    assert response.status_code == 401 and response.json()["error"]["code"] == "invalid_api_key"


async def test_models_lists_configured_names_and_aliases(gateway: RunningGateway) -> None:
    models = await client(gateway).models.list()
    ids = [m.id for m in models.data]
    assert ids[:2] == ["fake-model", "claude-fake"]
    assert "claude-sonnet-4-v1" in ids  # accepted by the anthropic provider


async def test_unknown_model_without_default_is_404_listing_models(
    upstream: FakeLLM, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(UPSTREAM_KEY_ENV, upstream.api_key)
    config = GatewayConfig((ProviderConfig(name="fake", kind="openai", url=upstream.base_url,
                                           api_key_env=UPSTREAM_KEY_ENV, models=("fake-model", "other")),))
    gateway = await serve(config)
    try:
        with pytest.raises(openai.NotFoundError) as missing:
            await client(gateway).chat.completions.create(model="nova-micro-v1",
                                                          messages=[{"role": "user", "content": "hi"}])
        assert "'nova-micro-v1'" in missing.value.message and "fake-model, other" in missing.value.message
    finally:
        await gateway.server.stop()


async def test_provider_down_is_502_naming_it_without_the_key(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(UPSTREAM_KEY_ENV, "sk-secret-upstream-key")
    with FakeLLM() as dead:
        url = dead.base_url
    config = GatewayConfig((ProviderConfig(name="offline-llm", kind="openai", url=url, default=True,
                                           api_key_env=UPSTREAM_KEY_ENV),))
    gateway = await serve(config)
    try:
        async with httpx.AsyncClient() as http:
            response = await http.post(gateway.base_url + "/chat/completions",
                                       json={"model": "x", "messages": [{"role": "user", "content": "hi"}]},
                                       headers={"authorization": f"Bearer {gateway.key}"})
        assert response.status_code == 502
        assert "'offline-llm'" in response.json()["error"]["message"]
        assert "sk-secret-upstream-key" not in response.text
    finally:
        await gateway.server.stop()


async def test_provider_refusing_the_key_is_502_without_the_key(
    upstream: FakeLLM, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(UPSTREAM_KEY_ENV, "sk-secret-upstream-key")
    gateway = await serve(upstream_config(upstream))
    upstream.fail(401)
    try:
        with pytest.raises(openai.APIStatusError) as failed:
            await client(gateway).chat.completions.create(model="fake-model",
                                                          messages=[{"role": "user", "content": "hi"}])
        assert failed.value.status_code == 502
        assert "'fake'" in failed.value.message and UPSTREAM_KEY_ENV in failed.value.message
        assert "sk-secret-upstream-key" not in failed.value.response.text
    finally:
        await gateway.server.stop()


async def test_usage_is_recorded_per_zone_from_upstream_usage(gateway: RunningGateway, upstream: FakeLLM) -> None:
    other_key = gateway.keys.issue("zone2")
    await client(gateway).chat.completions.create(model="fake-model", messages=[{"role": "user", "content": "a"}])
    stream = await client(gateway, other_key).chat.completions.create(
        model="fake-model", messages=[{"role": "user", "content": "b"}], stream=True,
        stream_options={"include_usage": True})
    usage_chunks = [chunk.usage async for chunk in stream if chunk.usage]
    snapshot = gateway.usage.snapshot()
    assert snapshot["zone1"]["fake-model"]["requests"] == 1
    assert snapshot["zone1"]["fake-model"]["prompt_tokens"] > 0
    assert snapshot["zone2"]["fake-model"]["completion_tokens"] == usage_chunks[0].completion_tokens
    assert snapshot["zone2"]["fake-model"]["requests_without_usage"] == 0


async def test_429_with_retry_after_is_retried_until_it_succeeds(gateway: RunningGateway, upstream: FakeLLM) -> None:
    upstream.fail(429, times=2, retry_after=0.05)
    upstream.reply("finally")
    answer = await client(gateway).chat.completions.create(model="fake-model",
                                                           messages=[{"role": "user", "content": "hi"}])
    assert answer.choices[0].message.content == "finally"
    assert len(upstream.completion_requests()) == 3


async def test_persistent_429_reaches_the_client_as_429_with_retry_after(
    gateway: RunningGateway, upstream: FakeLLM
) -> None:
    upstream.fail(429, times=10, retry_after=0.01)
    with pytest.raises(openai.RateLimitError) as limited:
        await client(gateway).chat.completions.create(model="fake-model",
                                                      messages=[{"role": "user", "content": "hi"}])
    assert "retry-after" in limited.value.response.headers
    assert len(upstream.completion_requests()) == 4  # 1 + max_retries
    assert gateway.usage.snapshot()["zone1"]["fake-model"]["failed_requests"] == 1


async def test_full_queue_answers_429_instead_of_waiting(upstream: FakeLLM, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(UPSTREAM_KEY_ENV, upstream.api_key)
    config = upstream_config(upstream)
    strict = ThrottleConfig(max_concurrency=1, max_queue=0)
    config = GatewayConfig((ProviderConfig(**{**config.providers[0].__dict__, "throttle": strict}),))
    gateway = await serve(config)
    loop = asyncio.get_running_loop()
    arrived = asyncio.Event()

    def slow(request: dict[str, object]) -> Reply:
        loop.call_soon_threadsafe(arrived.set)
        return Reply("slow", delay=30)

    upstream.respond_with(slow)
    try:
        first = asyncio.create_task(client(gateway).chat.completions.create(
            model="fake-model", messages=[{"role": "user", "content": "1"}]))
        async with asyncio.timeout(10):
            await arrived.wait()
        with pytest.raises(openai.RateLimitError) as busy:
            await client(gateway).chat.completions.create(model="fake-model",
                                                          messages=[{"role": "user", "content": "2"}])
        assert "max_queue=0" in busy.value.message
    finally:
        upstream.stop()  # cuts the slow reply short, so the first request ends
        await gateway.server.stop()
    assert (await first).choices[0].message.content == "slow"


async def test_anthropic_provider_answers_in_openai_shapes(gateway: RunningGateway, upstream: FakeLLM) -> None:
    upstream.reply(tool_calls=[("get_time", {"timezone": "UTC"})])
    answer = await client(gateway).chat.completions.create(
        model="claude-fake", messages=[{"role": "system", "content": "be brief"},
                                       {"role": "user", "content": "time?"}], tools=TOOLS)
    call = answer.choices[0].message.tool_calls[0]
    assert (call.function.name, json.loads(call.function.arguments)) == ("get_time", {"timezone": "UTC"})
    assert answer.choices[0].finish_reason == "tool_calls"
    seen = upstream.completion_requests()[-1]
    assert seen.path == "/v1/messages" and seen.json["system"] == "be brief"
    sent_key = seen.headers.get("x-api-key") or seen.headers.get("authorization", "").removeprefix("Bearer ")
    assert sent_key == upstream.api_key


async def test_anthropic_stream_gives_openai_chunks_with_usage(gateway: RunningGateway, upstream: FakeLLM) -> None:
    upstream.reply("Hello there", tool_calls=[("get_time", {"timezone": "UTC"})])
    stream = await client(gateway).chat.completions.create(
        model="claude-fake", messages=[{"role": "user", "content": "hi"}], tools=TOOLS, stream=True,
        stream_options={"include_usage": True})
    text, arguments, usage = "", "", None
    async for chunk in stream:
        usage = chunk.usage or usage
        for choice in chunk.choices:
            text += choice.delta.content or ""
            for call in choice.delta.tool_calls or []:
                arguments += call.function.arguments or ""
    assert text == "Hello there" and json.loads(arguments) == {"timezone": "UTC"}
    assert usage is not None and usage.completion_tokens > 0
    assert gateway.usage.snapshot()["zone1"]["claude-fake"]["completion_tokens"] == usage.completion_tokens


async def test_embeddings_pass_through_and_anthropic_has_none(gateway: RunningGateway) -> None:
    vectors = await client(gateway).embeddings.create(model="fake-model", input=["a", "b"])
    assert len(vectors.data) == 2 and len(vectors.data[0].embedding) == 8
    with pytest.raises(openai.BadRequestError) as unsupported:
        await client(gateway).embeddings.create(model="claude-fake", input=["a"])
    assert "'claude'" in unsupported.value.message
