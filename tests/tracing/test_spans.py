"""Agent turns, model calls and tool calls as OpenTelemetry spans, exported to a real OTLP/HTTP receiver."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

import autonomy.tracing as tracing
from autonomy import Node
from autonomy.agents import Agent
from autonomy.models import Model
from autonomy.models.clients import aclose_clients
from tests.agents.conftest import AddTool
from tests.support.otlp_receiver import OtlpReceiver
from tests.tracing.conftest import SERVICE


@pytest.fixture
async def model(fake_llm, monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[Model]:
    monkeypatch.setenv("OPENAI_BASE_URL", fake_llm.base_url)
    monkeypatch.setenv("OPENAI_API_KEY", fake_llm.api_key)
    yield Model("fake-model", throttle_max_retry_attempts=0)
    await aclose_clients()


async def test_a_turn_is_one_trace_with_its_model_and_tool_calls(receiver: OtlpReceiver, model: Model,
                                                                 fake_llm) -> None:
    fake_llm.reply(tool_calls=[("add", {"a": 2, "b": 3})])
    fake_llm.reply("The sum is 5.")
    async with Node.open("traced") as node:
        agent = await Agent.start(node=node, name="calc", instructions="You add.", model=model, tools=[AddTool()])
        await agent.send("What is 2 + 3?", conversation="c1")
    assert tracing.force_flush()

    [turn] = receiver.named("agent.turn")
    assert turn.service == SERVICE and turn.parent_span_id == ""
    assert turn.attributes["autonomy.agent"] == "calc" and turn.attributes["autonomy.conversation"] == "c1"
    calls = receiver.named("model.call")
    assert len(calls) == 2
    for call in calls:
        assert call.trace_id == turn.trace_id and call.parent_span_id == turn.span_id
        assert call.attributes["gen_ai.request.model"] == "fake-model"
        assert call.attributes["gen_ai.provider.name"] == "openai"
        assert call.attributes["gen_ai.usage.input_tokens"] > 0 and call.attributes["gen_ai.usage.output_tokens"] > 0
        assert turn.start_ns <= call.start_ns <= call.end_ns <= turn.end_ns
    [tool] = receiver.named("tool.call")
    assert tool.parent_span_id == turn.span_id and tool.attributes["gen_ai.tool.name"] == "add"
    assert calls[0].end_ns <= tool.start_ns <= tool.end_ns <= calls[1].start_ns  # model, tool, model


async def test_a_failed_model_call_is_an_error_span(receiver: OtlpReceiver, model: Model, fake_llm) -> None:
    fake_llm.fail(500)
    async with Node.open("traced") as node:
        agent = await Agent.start(node=node, name="calc", instructions="You add.", model=model)
        with pytest.raises(Exception, match="Model completion failed"):
            await agent.send("hi", conversation="c2")
    assert tracing.force_flush()
    [call] = receiver.named("model.call")
    [turn] = receiver.named("agent.turn")
    assert call.status_code == 2 and turn.status_code == 2


async def test_without_an_endpoint_nothing_is_recorded(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("OTEL_EXPORTER_OTLP_ENDPOINT", raising=False)
    monkeypatch.delenv("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", raising=False)
    tracing.reset()
    assert not tracing.enabled()
    with tracing.span("x", {"a": 1}) as span:
        span.set_attribute("b", 2)
