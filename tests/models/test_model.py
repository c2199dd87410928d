"""Model against the fake LLM endpoint over real HTTP, through the official SDKs."""

from __future__ import annotations

import json
import pickle
import socket

import pytest

from autonomy.errors import ModelError, ModelTimeout
from autonomy.models import Model
from tests.support.fake_llm import FakeLLM
from tests.support.until import until

TOOLS = [{"type": "function", "function": {"name": "get_time", "description": "Current time",
                                           "parameters": {"type": "object", "properties": {"tz": {"type": "string"}}}}}]


@pytest.fixture
def openai_env(fake_llm: FakeLLM, monkeypatch: pytest.MonkeyPatch) -> FakeLLM:
    monkeypatch.setenv("OPENAI_BASE_URL", fake_llm.base_url)
    monkeypatch.setenv("OPENAI_API_KEY", fake_llm.api_key)
    return fake_llm


async def collect(stream):  # type: ignore[no-untyped-def]
    text, calls, finish, usage = "", {}, None, None
    async for chunk in stream:
        usage = chunk.usage or usage
        if not chunk.choices:
            continue
        choice = chunk.choices[0]
        finish = choice.finish_reason or finish
        text += choice.delta.content or ""
        for call in choice.delta.tool_calls or []:
            entry = calls.setdefault(call.index, {"id": "", "name": "", "arguments": ""})
            entry["id"] += call.id or ""
            if call.function:
                entry["name"] += call.function.name or ""
                entry["arguments"] += call.function.arguments or ""
    return text, list(calls.values()), finish, usage


async def test_complete_chat_returns_an_openai_completion_and_forwards_model_kwargs(openai_env: FakeLLM) -> None:
    openai_env.reply("Paris")
    model = Model("fake-model", temperature=0.2, max_tokens=50)
    result = await model.complete_chat([{"role": "user", "content": "Capital of France?"}], tools=[])
    assert result.choices[0].message.content == "Paris"
    assert result.choices[0].finish_reason == "stop"
    assert result.usage.total_tokens > 0
    (request,) = openai_env.completion_requests()
    assert request.json["model"] == "fake-model"
    assert request.json["temperature"] == 0.2 and request.json["max_tokens"] == 50
    assert "tools" not in request.json  # an empty tools list is dropped


async def test_tool_calls_come_back_whole_and_streamed(openai_env: FakeLLM) -> None:
    model = Model("fake-model")
    openai_env.reply(tool_calls=[("get_time", {"tz": "UTC"})])
    result = await model.complete_chat([{"role": "user", "content": "time?"}], tools=TOOLS)
    call = result.choices[0].message.tool_calls[0]
    assert (call.function.name, json.loads(call.function.arguments)) == ("get_time", {"tz": "UTC"})
    assert result.choices[0].finish_reason == "tool_calls"
    assert openai_env.completion_requests()[0].json["tools"] == TOOLS

    openai_env.reply("It is ", tool_calls=[("get_time", {"tz": "Asia/Tokyo"})])
    text, calls, finish, usage = await collect(
        model.complete_chat([{"role": "user", "content": "time?"}], stream=True, tools=TOOLS))
    assert text == "It is "
    assert calls[0]["name"] == "get_time" and json.loads(calls[0]["arguments"]) == {"tz": "Asia/Tokyo"}
    assert calls[0]["id"]
    assert finish == "tool_calls"
    assert usage is not None and usage.prompt_tokens > 0
    assert openai_env.completion_requests()[1].json["stream_options"] == {"include_usage": True}


async def test_message_dataclass_shapes_are_sent_as_openai_messages(openai_env: FakeLLM) -> None:
    class Text:
        def __init__(self, text: str) -> None:
            self.text = text

    class Function:
        name, arguments = "get_time", '{"tz": "UTC"}'

    class Call:
        id, type, function = "call_1", "function", Function()

    class Msg:
        def __init__(self, role: str, content: object, tool_calls=None, tool_call_id=None, name=None) -> None:  # type: ignore[no-untyped-def]
            self.role, self.content, self.tool_calls = role, content, tool_calls
            self.tool_call_id, self.name = tool_call_id, name

    messages = [Msg("system", Text("Be brief")), Msg("user", Text("time?")),
                Msg("assistant", Text(""), tool_calls=[Call()]),
                Msg("tool", Text("12:00"), tool_call_id="call_1", name="get_time")]
    await Model("fake-model").complete_chat(messages)
    sent = openai_env.completion_requests()[0].json["messages"]
    assert sent == [
        {"role": "system", "content": "Be brief"},
        {"role": "user", "content": "time?"},
        {"role": "assistant", "content": None, "tool_calls": [
            {"id": "call_1", "type": "function", "function": {"name": "get_time", "arguments": '{"tz": "UTC"}'}}]},
        {"role": "tool", "content": "12:00", "tool_call_id": "call_1", "name": "get_time"},
    ]


async def test_gateway_mode_sends_client_headers_and_the_name_verbatim(
    fake_llm: FakeLLM, monkeypatch: pytest.MonkeyPatch, tmp_path
) -> None:  # type: ignore[no-untyped-def]
    key_file = tmp_path / "token"
    key_file.write_text("jwt-token\n")
    monkeypatch.setenv("AUTONOMY_USE_EXTERNAL_APIS_GATEWAY", "1")
    monkeypatch.setenv("AUTONOMY_EXTERNAL_APIS_GATEWAY_URL", fake_llm.url)
    monkeypatch.setenv("AUTONOMY_EXTERNAL_APIS_GATEWAY_API_KEY_FILE", str(key_file))
    monkeypatch.setenv("CLUSTER", "c1")
    monkeypatch.setenv("ZONE", "z1")
    monkeypatch.setenv("NODE", "n1")
    monkeypatch.setenv("OPENAI_BASE_URL", "http://127.0.0.1:9/v1")  # the gateway wins
    model = Model("claude-sonnet-4-v1")
    result = await model.complete_chat([{"role": "user", "content": "hi"}])
    assert result.choices[0].message.content == "echo: hi"
    _, _, _, usage = await collect(model.complete_chat([{"role": "user", "content": "hi"}], stream=True))
    assert usage is not None
    first, second = fake_llm.completion_requests()
    assert first.path == "/v1/chat/completions" and first.json["model"] == "claude-sonnet-4-v1"
    assert first.headers["authorization"] == "Bearer jwt-token"
    assert (first.headers["x-client-cluster"], first.headers["x-client-zone"], first.headers["x-client-node"]) == (
        "c1", "z1", "n1")
    assert second.json["stream_options"] == {"include_usage": True}


async def test_gateway_re_reads_a_rotated_key_file_after_401(
    fake_llm: FakeLLM, monkeypatch: pytest.MonkeyPatch, tmp_path
) -> None:  # type: ignore[no-untyped-def]
    key_file = tmp_path / "token"
    key_file.write_text("old")
    monkeypatch.setenv("AUTONOMY_USE_EXTERNAL_APIS_GATEWAY", "1")
    monkeypatch.setenv("AUTONOMY_EXTERNAL_APIS_GATEWAY_URL", fake_llm.url)
    monkeypatch.setenv("AUTONOMY_EXTERNAL_APIS_GATEWAY_API_KEY_FILE", str(key_file))
    model = Model("fake-model")
    await model.complete_chat([{"role": "user", "content": "1"}])
    key_file.write_text("new")
    fake_llm.fail(401)
    await model.complete_chat([{"role": "user", "content": "2"}])
    keys = [r.headers["authorization"] for r in fake_llm.completion_requests()]
    assert keys == ["Bearer old", "Bearer old", "Bearer new"]


async def test_anthropic_backend_translates_to_openai_shapes(fake_llm: FakeLLM, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setenv("ANTHROPIC_API_KEY", "sk-ant-fake")
    monkeypatch.setenv("ANTHROPIC_BASE_URL", fake_llm.url)
    model = Model("claude-fake")
    fake_llm.reply("Checking", tool_calls=[("get_time", {"tz": "UTC"})])
    messages = [
        {"role": "system", "content": "Be brief"},
        {"role": "user", "content": "time?"},
        {"role": "assistant", "content": None, "tool_calls": [
            {"id": "toolu_0", "type": "function", "function": {"name": "get_time", "arguments": "{}"}}]},
        {"role": "tool", "tool_call_id": "toolu_0", "content": "11:00"},
    ]
    result = await model.complete_chat(messages, tools=TOOLS)
    message = result.choices[0].message
    assert message.content == "Checking"
    assert message.tool_calls[0].function.name == "get_time"
    assert json.loads(message.tool_calls[0].function.arguments) == {"tz": "UTC"}
    assert result.choices[0].finish_reason == "tool_calls"
    sent = fake_llm.completion_requests()[0]
    assert sent.path == "/v1/messages"
    assert "sk-ant-fake" in (sent.headers.get("x-api-key"), sent.headers.get("authorization", "")[7:])
    assert sent.json["system"] == "Be brief"
    assert sent.json["tools"][0]["input_schema"] == TOOLS[0]["function"]["parameters"]
    assert sent.json["messages"][2] == {"role": "user", "content": [
        {"type": "tool_result", "tool_use_id": "toolu_0", "content": "11:00"}]}

    fake_llm.reply("Hi there", tool_calls=[("get_time", {"tz": "Europe/Warsaw"})])
    text, calls, finish, usage = await collect(model.complete_chat([{"role": "user", "content": "x"}], stream=True))
    assert text == "Hi there"
    assert json.loads(calls[0]["arguments"]) == {"tz": "Europe/Warsaw"}
    assert finish == "tool_calls" and usage.completion_tokens > 0


async def test_gateway_can_route_claude_through_the_anthropic_sdk(fake_llm: FakeLLM, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setenv("AUTONOMY_USE_EXTERNAL_APIS_GATEWAY", "1")
    monkeypatch.setenv("AUTONOMY_EXTERNAL_APIS_GATEWAY_URL", fake_llm.url)
    monkeypatch.setenv("AUTONOMY_EXTERNAL_APIS_GATEWAY_USE_ANTHROPIC_SDK", "1")
    monkeypatch.setenv("ZONE", "z1")
    await Model("claude-fake").complete_chat([{"role": "user", "content": "hi"}])
    await Model("fake-model").complete_chat([{"role": "user", "content": "hi"}])
    claude, other = fake_llm.completion_requests()
    assert claude.path == "/v1/messages" and claude.headers["x-client-zone"] == "z1"
    assert other.path == "/v1/chat/completions"


async def test_429_with_retry_after_is_retried_until_it_succeeds(openai_env: FakeLLM) -> None:
    openai_env.fail(429, times=2, retry_after=0)
    openai_env.reply("finally")
    model = Model("fake-model", throttle=True, throttle_initial_seconds_between_retry_attempts=30)
    result = await model.complete_chat([{"role": "user", "content": "x"}])
    assert result.choices[0].message.content == "finally"  # Retry-After: 0 was honoured, not the 30 s backoff
    assert len(openai_env.completion_requests()) == 3


async def test_retries_give_up_with_the_status_and_url(openai_env: FakeLLM) -> None:
    openai_env.fail(503, times=5)
    model = Model("fake-model", throttle_max_retry_attempts=2, throttle_initial_seconds_between_retry_attempts=0.01)
    with pytest.raises(ModelError) as caught:
        await model.complete_chat([{"role": "user", "content": "x"}])
    assert caught.value.status == 503
    assert openai_env.base_url in str(caught.value) and "503" in str(caught.value)
    assert len(openai_env.completion_requests()) == 3


async def test_throttle_caps_requests_in_progress(openai_env: FakeLLM) -> None:
    import asyncio

    in_flight = 0
    peak = 0

    for _ in range(6):
        openai_env.reply("ok", delay=0.05)
    model = Model("fake-model", throttle=True, throttle_max_requests_in_progress=2,
                  throttle_requests_per_minute=6000)

    async def one() -> None:
        nonlocal in_flight, peak
        throttle = model._throttle(model.backend)
        assert throttle is not None
        await model.complete_chat([{"role": "user", "content": "x"}])
        peak = max(peak, throttle.in_progress)

    async def watch() -> None:
        nonlocal peak
        throttle = model._throttle(model.backend)
        assert throttle is not None
        async with asyncio.timeout(10):
            while len(openai_env.completion_requests()) < 6:  # noqa: ASYNC110 - polls a counter
                peak = max(peak, throttle.in_progress)
                await asyncio.sleep(0.001)

    await asyncio.gather(watch(), *(one() for _ in range(6)))
    assert peak == 2


async def test_throttle_queue_wait_times_out(openai_env: FakeLLM) -> None:
    import asyncio

    openai_env.reply("slow", delay=5)
    model = Model("fake-model", throttle=True, throttle_max_requests_in_progress=1,
                  throttle_max_seconds_to_wait_in_queue=0.1)
    first = asyncio.ensure_future(model.complete_chat([{"role": "user", "content": "1"}]))
    await until(openai_env.completion_requests, what="the request to reach the model")
    with pytest.raises(ModelTimeout, match="throttle queue"):
        await Model("fake-model", throttle=True).complete_chat([{"role": "user", "content": "2"}])
    first.cancel()


async def test_unreachable_endpoint_names_the_url_and_env_vars(monkeypatch: pytest.MonkeyPatch) -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    monkeypatch.setenv("OPENAI_BASE_URL", f"http://127.0.0.1:{port}/v1")
    with pytest.raises(ModelError) as caught:
        await Model("fake-model", connect_timeout=2).complete_chat([{"role": "user", "content": "x"}])
    text = str(caught.value)
    assert f"127.0.0.1:{port}" in text and "OPENAI_BASE_URL" in text


async def test_no_backend_configured_lists_the_variables() -> None:
    with pytest.raises(ModelError) as caught:
        await Model("gpt-4o").complete_chat([{"role": "user", "content": "x"}])
    for name in ("OPENAI_BASE_URL", "ANTHROPIC_API_KEY", "AUTONOMY_EXTERNAL_APIS_GATEWAY_URL"):
        assert name in str(caught.value)


async def test_request_timeout_raises_model_timeout(openai_env: FakeLLM) -> None:
    openai_env.reply("late", delay=5)
    with pytest.raises(ModelTimeout, match="request_timeout"):
        await Model("fake-model", request_timeout=0.2).complete_chat([{"role": "user", "content": "x"}])


async def test_embeddings_and_token_estimate(openai_env: FakeLLM) -> None:
    model = Model("fake-embed")
    vectors = await model.embeddings(["a", "b", "a"])
    assert len(vectors) == 3 and vectors[0] == vectors[2] != vectors[1]
    assert model.support_tools() is False and Model("fake-model").support_tools() is True
    short = model.count_tokens([{"role": "user", "content": "hi"}])
    long = model.count_tokens([{"role": "user", "content": "hi " * 400}], tools=TOOLS)
    assert 0 < short < long


def test_list_asks_the_configured_endpoint(fake_llm: FakeLLM, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AUTONOMY_USE_EXTERNAL_APIS_GATEWAY", "1")
    monkeypatch.setenv("AUTONOMY_EXTERNAL_APIS_GATEWAY_URL", fake_llm.url)
    assert Model.list() == sorted(fake_llm.models)
    assert Model.list_by_provider() == {"gateway": sorted(fake_llm.models)}


def test_a_pickled_model_resolves_its_endpoint_again(openai_env: FakeLLM, monkeypatch: pytest.MonkeyPatch) -> None:
    model = Model("fake-model", temperature=0)
    assert model.backend.base_url == openai_env.base_url
    monkeypatch.setenv("OPENAI_BASE_URL", "http://127.0.0.1:1/v1")
    copy = pickle.loads(pickle.dumps(model))
    assert copy.backend.base_url == "http://127.0.0.1:1/v1" and copy.kwargs == {"temperature": 0}
