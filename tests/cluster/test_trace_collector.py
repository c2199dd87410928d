"""The cluster's span collector: files spans under the zone whose key sent them, refuses the rest."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import httpx
import pytest

import autonomy.tracing as tracing
from autonomy.cluster.trace_collector import TraceCollector


@pytest.fixture
async def collector() -> AsyncIterator[TraceCollector]:
    c = TraceCollector(capacity=100)
    await c.start("127.0.0.1")
    try:
        yield c
    finally:
        await c.stop()
        tracing.reset()


async def test_spans_sent_with_a_zones_env_are_filed_under_that_zone(collector: TraceCollector,
                                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    for key, value in collector.zone_env("shop").items():  # exactly what a deploy gives the node containers
        monkeypatch.setenv(key, value)
    monkeypatch.setenv("OTEL_SERVICE_NAME", "node-a")
    tracing.reset()
    with tracing.span("agent.turn", {"autonomy.agent": "calc"}):
        with tracing.span("tool.call", {"gen_ai.tool.name": "add"}):
            pass
    assert await asyncio.to_thread(tracing.force_flush)  # exporting blocks: the collector shares this loop
    [trace] = collector.traces("shop")
    assert [s["name"] for s in trace["spans"]] == ["agent.turn", "tool.call"]
    assert [s["depth"] for s in trace["spans"]] == [0, 1] and trace["root"]["service"] == "node-a"
    assert collector.traces("other") == []


async def test_unknown_keys_and_bad_bodies_are_refused_naming_why(collector: TraceCollector) -> None:
    env = collector.zone_env("shop")
    key = env["OTEL_EXPORTER_OTLP_HEADERS"].split("=", 1)
    async with httpx.AsyncClient(trust_env=False) as http:
        url = collector.url + "/v1/traces"
        refused = await http.post(url, content=b"", headers={"content-type": "application/x-protobuf"})
        assert refused.status_code == 401 and "x-autonomy-trace-key" in refused.text
        bad = await http.post(url, content=b"\xff\xff not protobuf", headers={key[0]: key[1]})
        assert bad.status_code == 400 and "ExportTraceServiceRequest" in bad.text
        collector.zone_env("shop")  # a redeploy: the old key stops
        old = await http.post(url, content=b"", headers={key[0]: key[1]})
        assert old.status_code == 401
