"""The trace context crosses the fabric: a worker on another node handles a traced message inside the trace."""

from __future__ import annotations

import asyncio

import pytest

import autonomy.tracing as tracing
from autonomy.nodes.node import Node
from tests.support.otlp_receiver import OtlpReceiver


class Echo:
    async def handle_message(self, context, message):
        await context.reply(f"echo {message}")


async def test_a_request_fanned_out_over_the_fabric_is_one_trace(receiver: OtlpReceiver,
                                                                 pair: tuple[Node, Node]) -> None:
    main, runner = pair
    await runner.start_worker("echo", Echo())
    with tracing.span("request") as request:
        request.set_attribute("test", "fan-out")
        answers = await asyncio.gather(*(main.send_and_receive("echo", str(i), node=runner.name) for i in range(3)))
        mailbox = await main.send("echo", "streamed", node=runner.name)
        assert await mailbox.receive(timeout=10) == "echo streamed"
    assert answers == ["echo 0", "echo 1", "echo 2"]
    assert await asyncio.to_thread(tracing.force_flush)

    [root] = receiver.named("request")
    handled = receiver.named("worker.handle")
    assert len(handled) == 4
    for span in handled:
        assert span.trace_id == root.trace_id and span.parent_span_id == root.span_id
        assert span.attributes["autonomy.node"] == runner.name and span.attributes["autonomy.worker"] == "echo"


async def test_untraced_messages_carry_nothing(pair: tuple[Node, Node], monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("OTEL_EXPORTER_OTLP_ENDPOINT", raising=False)
    tracing.reset()
    main, runner = pair
    await runner.start_worker("echo", Echo())
    assert await main.send_and_receive("echo", "x", node=runner.name) == "echo x"
    assert not tracing.ON
