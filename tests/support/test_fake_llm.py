"""The fake LLM endpoint speaks the real SDKs' protocols (so the Model tests test something real)."""

from __future__ import annotations

import json

import anthropic
import openai
import pytest

from tests.support.fake_llm import FakeLLM, Reply


async def test_openai_sdk_gets_scripted_text_and_records_the_request(fake_llm: FakeLLM) -> None:
    fake_llm.reply("Hello there")
    client = openai.AsyncOpenAI(base_url=fake_llm.base_url, api_key=fake_llm.api_key)
    async with client:
        result = await client.chat.completions.create(
            model="fake-model", messages=[{"role": "user", "content": "hi"}]
        )
    assert result.choices[0].message.content == "Hello there"
    assert result.choices[0].finish_reason == "stop"
    assert result.usage is not None and result.usage.total_tokens > 0
    (request,) = fake_llm.completion_requests()
    assert request.json["messages"] == [{"role": "user", "content": "hi"}]
    assert request.headers["authorization"] == "Bearer fake-key"


async def test_streamed_tool_calls_arrive_in_fragments_that_reassemble(fake_llm: FakeLLM) -> None:
    fake_llm.reply(tool_calls=[("get_time", {"timezone": "Asia/Tokyo"}), ("add", {"a": 1, "b": 2})])
    client = openai.AsyncOpenAI(base_url=fake_llm.base_url, api_key=fake_llm.api_key)
    calls: dict[int, dict[str, str]] = {}
    fragments = 0
    usage = None
    finish = None
    async with client:
        stream = await client.chat.completions.create(
            model="fake-model", messages=[{"role": "user", "content": "time?"}], stream=True,
            stream_options={"include_usage": True},
        )
        async for chunk in stream:
            usage = chunk.usage or usage
            if not chunk.choices:
                continue
            finish = chunk.choices[0].finish_reason or finish
            for call in chunk.choices[0].delta.tool_calls or []:
                fragments += 1
                entry = calls.setdefault(call.index, {"id": "", "name": "", "arguments": ""})
                entry["id"] += call.id or ""
                entry["name"] += (call.function.name or "") if call.function else ""
                entry["arguments"] += (call.function.arguments or "") if call.function else ""
    assert [c["name"] for c in calls.values()] == ["get_time", "add"]
    assert json.loads(calls[0]["arguments"]) == {"timezone": "Asia/Tokyo"}
    assert json.loads(calls[1]["arguments"]) == {"a": 1, "b": 2}
    assert fragments > 2 * 2
    assert finish == "tool_calls"
    assert usage is not None and usage.completion_tokens > 0


async def test_failures_carry_status_and_retry_after(fake_llm: FakeLLM) -> None:
    fake_llm.fail(429, retry_after=0)
    client = openai.AsyncOpenAI(base_url=fake_llm.base_url, api_key=fake_llm.api_key, max_retries=0)
    async with client:
        with pytest.raises(openai.RateLimitError) as caught:
            await client.chat.completions.create(model="m", messages=[{"role": "user", "content": "x"}])
        assert caught.value.response.headers["retry-after"] == "0"
        result = await client.chat.completions.create(model="m", messages=[{"role": "user", "content": "x"}])
    assert result.choices[0].message.content == "echo: x"


async def test_responder_sees_the_request(fake_llm: FakeLLM) -> None:
    fake_llm.respond_with(lambda body: Reply(text=f"{len(body['messages'])} messages"))
    client = openai.AsyncOpenAI(base_url=fake_llm.base_url, api_key=fake_llm.api_key)
    async with client:
        result = await client.chat.completions.create(
            model="m", messages=[{"role": "system", "content": "s"}, {"role": "user", "content": "u"}]
        )
        models = await client.models.list()
    assert result.choices[0].message.content == "2 messages"
    assert [m.id for m in models.data] == fake_llm.models


async def test_anthropic_sdk_streams_text_and_tool_use(fake_llm: FakeLLM) -> None:
    fake_llm.reply("Let me check", tool_calls=[("get_time", {"timezone": "UTC"})])
    fake_llm.reply("plain")
    client = anthropic.AsyncAnthropic(base_url=fake_llm.url, api_key="k")
    async with client:
        async with client.messages.stream(
            model="claude-fake", max_tokens=100, messages=[{"role": "user", "content": "time?"}]
        ) as stream:
            message = await stream.get_final_message()
        plain = await client.messages.create(
            model="claude-fake", max_tokens=100, messages=[{"role": "user", "content": "x"}]
        )
    assert message.content[0].type == "text" and message.content[0].text == "Let me check"
    assert message.content[1].type == "tool_use" and message.content[1].input == {"timezone": "UTC"}
    assert message.stop_reason == "tool_use"
    assert plain.content[0].text == "plain"


def test_stop_cuts_a_long_delay_short() -> None:
    llm = FakeLLM().start()
    llm.reply("late", delay=60)
    import threading

    import httpx

    def call() -> None:
        try:
            httpx.post(llm.base_url + "/chat/completions", json={"model": "m", "messages": []}, timeout=30)
        except httpx.HTTPError:
            pass

    caller = threading.Thread(target=call)
    caller.start()
    deadline = 100
    while not llm.completion_requests() and deadline:
        caller.join(0.05)
        deadline -= 1
    llm.stop()
    caller.join(10)
    assert not caller.is_alive()
