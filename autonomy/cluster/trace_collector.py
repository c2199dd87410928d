"""The cluster's own collector of recent spans: an OTLP/HTTP receiver the console reads traces from.

The controller serves it on a free port of the address pods reach the host on (like the model gateway).
Each deploy gives a zone's node containers (unless their own ``env`` sets them):

    OTEL_EXPORTER_OTLP_ENDPOINT   http://{host}:{port}       (nodes export their spans here, autonomy.tracing)
    OTEL_EXPORTER_OTLP_HEADERS    x-autonomy-trace-key=KEY   (a per-zone key, new at each deploy)
    OTEL_BSP_SCHEDULE_DELAY       1000                       (spans reach the console within about a second)

``POST /v1/traces`` takes ``application/x-protobuf`` ``ExportTraceServiceRequest`` bodies (gzip or not); the
zone is the one the key was issued to, never what the spans claim. The last :data:`CAPACITY` spans are
kept in memory (a ring: old spans fall off; nothing is written to disk). Decisions: its own key rather
than the zone's model-gateway key, because a user who points ``OTEL_*`` at their own collector must not
receive a secret that spends the cluster's model budget; only when the ``traces`` extra is installed
(it decodes with ``opentelemetry-proto``), else nodes get nothing and the console says how to enable it.
"""

from __future__ import annotations

import gzip
import hashlib
import importlib.util
import json
import secrets
import time
from collections import deque
from collections.abc import Callable
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.routing import Route

from autonomy.serving import ServedApp, bind_tcp

__all__ = ["TraceCollector", "CAPACITY", "available"]

CAPACITY = 5000
KEY_HEADER = "x-autonomy-trace-key"
MAX_BODY = 8 * 2**20


def available() -> bool:
    """True when the ``traces`` extra (OpenTelemetry SDK, OTLP exporter, proto) is installed."""
    try:  # find_spec of a submodule imports its parent, which raises when the parent is not installed
        return all(importlib.util.find_spec(m) is not None for m in ("opentelemetry.sdk", "opentelemetry.proto"))
    except ModuleNotFoundError:
        return False


def _digest(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


def _value(v: Any) -> Any:
    kind = v.WhichOneof("value")
    return getattr(v, kind) if kind else None


class TraceCollector:
    """Receives spans from the cluster's nodes and answers the console's questions about them."""

    def __init__(self, capacity: int = CAPACITY) -> None:
        self.spans: deque[dict[str, Any]] = deque(maxlen=capacity)
        self.url = ""
        self._keys: dict[str, str] = {}  # SHA-256 digest of a key -> zone
        #: called with :meth:`keys_json` whenever the keys change (the gateway daemon keeps them in state.db)
        self.on_keys: Callable[[str], None] | None = None
        self._served: ServedApp | None = None

    # --- life cycle ------------------------------------------------------------------------------
    async def start(self, host: str, port: int = 0) -> str:
        """Listen on ``host:port`` (0: a free port); returns the URL once accepting."""
        app = Starlette(routes=[Route("/v1/traces", self._receive, methods=["POST"])])
        sock = bind_tcp(host, port, "the trace collector", "the port is chosen free: retry")
        self._served = await ServedApp.start(app, sock, lifespan="off")
        self.url = self._served.url
        return self.url

    async def stop(self) -> None:
        if self._served is not None:
            await self._served.stop()
            self._served = None

    # --- zones -----------------------------------------------------------------------------------
    def zone_env(self, zone: str) -> dict[str, str]:
        """The ``OTEL_*`` variables for zone ``zone``'s nodes, with a new key (the zone's previous one stops)."""
        if not self.url:
            return {}
        self.forget_zone(zone)
        key = secrets.token_urlsafe(24)
        self._keys[_digest(key)] = zone
        self._keys_changed()
        return {"OTEL_EXPORTER_OTLP_ENDPOINT": self.url, "OTEL_EXPORTER_OTLP_HEADERS": f"{KEY_HEADER}={key}",
                "OTEL_BSP_SCHEDULE_DELAY": "1000"}

    def forget_zone(self, zone: str) -> None:
        for key in [k for k, z in self._keys.items() if z == zone]:
            del self._keys[key]
        self._keys_changed()

    def keys_json(self) -> str:
        """The zones' keys as digests (never a key), for state."""
        return json.dumps(self._keys, sort_keys=True)

    def load_keys(self, text: str) -> None:
        """Accept again the keys of :meth:`keys_json` (a restarted collector: nodes keep their key)."""
        data = json.loads(text)
        self._keys = {str(k): str(v) for k, v in data.items()} if isinstance(data, dict) else {}

    def _keys_changed(self) -> None:
        if self.on_keys is not None:
            self.on_keys(self.keys_json())

    # --- receiving -------------------------------------------------------------------------------
    async def _receive(self, request: Request) -> Response:
        zone = self._keys.get(_digest(request.headers.get(KEY_HEADER, "")))
        if zone is None:
            return PlainTextResponse(f"unknown or missing {KEY_HEADER}: spans are taken from this cluster's "
                                     "zones only (the deploy sets OTEL_EXPORTER_OTLP_HEADERS)\n", status_code=401)
        body = await request.body()
        if len(body) > MAX_BODY:
            return PlainTextResponse(f"body larger than {MAX_BODY} bytes\n", status_code=413)
        try:
            from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
                ExportTraceServiceRequest,
                ExportTraceServiceResponse,
            )
        except ImportError:
            return PlainTextResponse("the cluster cannot decode spans: pip install 'autonomy-runtime[traces]'\n",
                                     status_code=501)
        try:
            if request.headers.get("content-encoding") == "gzip":
                body = gzip.decompress(body)
            decoded = ExportTraceServiceRequest.FromString(body)
        except Exception:  # protobuf's DecodeError, a bad gzip stream: the sender's problem, named
            return PlainTextResponse("body: not a gzip or protobuf ExportTraceServiceRequest\n", status_code=400)
        self._add(zone, decoded)
        return Response(ExportTraceServiceResponse().SerializeToString(), media_type="application/x-protobuf")

    def _add(self, zone: str, request: Any) -> None:
        received = time.time()
        for resource_spans in request.resource_spans:
            service = next((str(_value(a.value)) for a in resource_spans.resource.attributes
                            if a.key == "service.name"), "")
            for scope_spans in resource_spans.scope_spans:
                for s in scope_spans.spans:
                    self.spans.append({
                        "zone": zone, "service": service, "name": s.name, "trace_id": s.trace_id.hex(),
                        "span_id": s.span_id.hex(), "parent_span_id": s.parent_span_id.hex(),
                        "start_ns": s.start_time_unix_nano, "end_ns": s.end_time_unix_nano,
                        "error": s.status.code == 2, "status": s.status.message,
                        "attributes": {a.key: _value(a.value) for a in s.attributes}, "received": received})

    def record(self, span: dict[str, Any]) -> None:
        """Keep a span made in this process (the public gateway's, :mod:`.gateway_spans`): already a span
        dictionary as :meth:`traces` reads them, its ``zone`` set by the controller itself."""
        self.spans.append(span)

    # --- reading ---------------------------------------------------------------------------------
    def traces(self, zone: str, limit: int = 20) -> list[dict[str, Any]]:
        """The zone's most recent traces, newest first: ``{"trace_id", "start_ns", "duration_ms", "error",
        "root": span or None, "spans": [span + "depth", "offset_ms", "duration_ms"] in start order}``."""
        by_trace: dict[str, list[dict[str, Any]]] = {}
        for span in self.spans:
            if span["zone"] == zone:
                by_trace.setdefault(span["trace_id"], []).append(span)
        out = []
        for trace_id, spans in by_trace.items():
            spans.sort(key=lambda s: s["start_ns"])
            start = spans[0]["start_ns"]
            end = max(s["end_ns"] for s in spans)
            ids = {s["span_id"] for s in spans}
            depth: dict[str, int] = {}
            for s in spans:  # parents start before their children
                depth[s["span_id"]] = depth.get(s["parent_span_id"], -1) + 1 if s["parent_span_id"] in ids else 0
            out.append({"trace_id": trace_id, "start_ns": start, "duration_ms": (end - start) / 1e6,
                        "error": any(s["error"] for s in spans),
                        "root": next((s for s in spans if s["parent_span_id"] not in ids), None),
                        "spans": [{**s, "depth": depth[s["span_id"]], "offset_ms": (s["start_ns"] - start) / 1e6,
                                   "duration_ms": (s["end_ns"] - s["start_ns"]) / 1e6} for s in spans]})
        out.sort(key=lambda t: t["start_ns"], reverse=True)
        return out[:limit]
