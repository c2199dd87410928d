"""The public gateway's spans: one per request of a kept-alive connection, its traceparent sent upstream."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse
from starlette.routing import Route

from autonomy.cluster.gateway_spans import GatewayTracer, gateway_tracing_settings
from autonomy.cluster.public_gateway import PublicGateway
from autonomy.errors import ConfigError
from autonomy.serving import ServedApp, bind_tcp

CLUSTER = "0123456789abcdef0123456789abcdef"
CLIENT_PARENT = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"


def _ids(traceparent: str) -> str:
    """``version-trace_id-span_id`` of a traceparent (its flags, sampled and random-id bits, vary)."""
    return traceparent.rsplit("-", 1)[0]


async def _seen(request: Request) -> Response:
    """What the pod received: the trace headers the gateway forwarded."""
    return JSONResponse({"traceparent": request.headers.get("traceparent"),
                         "tracestate": request.headers.get("tracestate"),
                         "headers": [k for k, _ in request.headers.items()]})


async def _stream(request: Request) -> Response:
    async def parts() -> AsyncIterator[bytes]:
        for i in range(3):
            yield f"part {i}\n".encode()
            await asyncio.sleep(0)
    return StreamingResponse(parts(), media_type="text/plain")  # chunked


async def _fail(request: Request) -> Response:
    return Response("broken\n", status_code=503)


@pytest.fixture
async def traced() -> AsyncIterator[tuple[Any, list[dict[str, Any]]]]:
    app = Starlette(routes=[Route("/seen", _seen), Route("/stream", _stream), Route("/fail", _fail)])
    served = await ServedApp.start(app, bind_tcp("127.0.0.1", 0, "test pod", "retry"), lifespan="off")
    spans: list[dict[str, Any]] = []
    made: list[PublicGateway] = []

    async def make(keep_client_parent: bool = True) -> PublicGateway:
        gw = PublicGateway(CLUSTER, lambda zone: served.address if zone == "shop" else "no", port=0)
        gw.tracer = GatewayTracer(spans.append, keep_client_parent)
        await gw.start()
        made.append(gw)
        return gw
    try:
        yield make, spans
    finally:
        for gw in made:
            await gw.stop()
            assert gw.tracer is not None
            gw.tracer.shutdown()
        await served.stop()


async def test_each_request_of_a_kept_alive_connection_is_a_span_whose_context_reaches_the_pod(traced) -> None:
    make, spans = traced
    gw = await make()
    host = {"Host": f"{CLUSTER}-shop.localhost:{gw.port}"}
    async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{gw.port}", headers=host, timeout=20) as http:
        seen = (await http.get("/seen?secret=1")).json()
        streamed = await http.get("/stream")
        head = await http.head("/seen")
        failed = await http.get("/fail")
        again = (await http.get("/seen")).json()
    assert streamed.text == "part 0\npart 1\npart 2\n" and head.status_code == 200 and failed.status_code == 503
    assert [s["name"] for s in spans] == ["gateway GET /seen", "gateway GET /stream", "gateway HEAD /seen",
                                          "gateway GET /fail", "gateway GET /seen"]
    assert [s["attributes"]["http.response.status_code"] for s in spans] == [200, 200, 200, 503, 200]
    assert [s["error"] for s in spans] == [False, False, False, True, False]
    first = spans[0]
    assert first["zone"] == "shop" and first["service"] == "public-gateway" and first["parent_span_id"] == ""
    assert first["attributes"]["url.path"] == "/seen" and first["attributes"]["autonomy.zone"] == "shop"
    # The pod got the gateway span's context: its own span will be the gateway span's child.
    assert _ids(seen["traceparent"]) == f"00-{first['trace_id']}-{first['span_id']}"
    assert _ids(again["traceparent"]) == f"00-{spans[4]['trace_id']}-{spans[4]['span_id']}"
    assert len({s["trace_id"] for s in spans}) == 5  # a new trace per request
    assert all(s["end_ns"] >= s["start_ns"] for s in spans)


async def test_a_clients_traceparent_is_the_parent_or_replaced_as_configured(traced) -> None:
    make, spans = traced
    kept, replaced = await make(True), await make(False)
    sent = {"traceparent": CLIENT_PARENT, "tracestate": "vendor=1"}
    answers = []
    async with httpx.AsyncClient(timeout=20) as http:
        for gw in (kept, replaced):
            answers.append((await http.get(f"http://127.0.0.1:{gw.port}/z/shop/seen", headers=sent)).json())
    child, fresh = spans
    assert child["trace_id"] == CLIENT_PARENT.split("-")[1] and child["parent_span_id"] == CLIENT_PARENT.split("-")[2]
    assert child["attributes"]["url.path"] == "/z/shop/seen"  # the path the client asked for
    assert fresh["trace_id"] != child["trace_id"] and fresh["parent_span_id"] == ""
    # Either way the pod sees the gateway span's traceparent (one header, never the client's).
    assert _ids(answers[0]["traceparent"]) == f"00-{child['trace_id']}-{child['span_id']}"
    assert answers[0]["tracestate"] == "vendor=1" and answers[1]["tracestate"] is None
    assert _ids(answers[1]["traceparent"]) == f"00-{fresh['trace_id']}-{fresh['span_id']}"
    assert all(answer["headers"].count("traceparent") == 1 for answer in answers)


def test_settings_name_the_variable_of_a_bad_value(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("AUTONOMY_GATEWAY_TRACES", raising=False)
    monkeypatch.delenv("AUTONOMY_GATEWAY_TRACEPARENT", raising=False)
    assert gateway_tracing_settings() == (True, True)
    monkeypatch.setenv("AUTONOMY_GATEWAY_TRACEPARENT", "Replace")
    monkeypatch.setenv("AUTONOMY_GATEWAY_TRACES", "off")
    assert gateway_tracing_settings() == (False, False)
    monkeypatch.setenv("AUTONOMY_GATEWAY_TRACES", "yes")
    with pytest.raises(ConfigError, match="AUTONOMY_GATEWAY_TRACES must be 'on' or 'off'"):
        gateway_tracing_settings()
