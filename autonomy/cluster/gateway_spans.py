"""The public gateway's spans: one per proxied request, the root of the trace the request starts.

The gateway (:mod:`.public_gateway`) asks a :class:`GatewayTracer` for a :class:`ConnectionSpans` per
client connection to a zone. For each request it forwards, :meth:`ConnectionSpans.begin` starts a span
(kind SERVER, named ``gateway {method} {path}``; attributes ``autonomy.zone``, ``http.request.method``,
``url.path`` without the query, ``server.address`` (the ``Host`` the client used)) and gives the head to
send upstream with a W3C ``traceparent`` (and ``tracestate``) of that span, so the main node's HTTP span,
and all that it causes on other nodes, joins the trace. :meth:`ConnectionSpans.end` closes the oldest open
span with the response's status (``http.response.status_code``; status ERROR from 500 on): HTTP/1.1
answers requests in order, so the responses of a kept-alive connection are matched to its requests
first in, first out (:mod:`.response_frames` finds where each response ends).

Spans go straight to the cluster's collector (:meth:`.trace_collector.TraceCollector.record`: the gateway
runs in the controller, the collector's process) under the service name ``public-gateway``.

Decisions:

- **A client's ``traceparent`` is kept as the parent** by default (``AUTONOMY_GATEWAY_TRACEPARENT=keep``):
  a caller that traces its own requests sees the zone's work in its trace, as W3C Trace Context intends.
  The gateway span is still the root of what the cluster's collector holds (the client's span is not
  there). ``AUTONOMY_GATEWAY_TRACEPARENT=replace`` ignores what clients send (every request starts a new
  trace; for a public URL whose callers should not choose trace ids). Either way the header sent
  upstream is the gateway span's: a client's own ``traceparent``/``tracestate`` never reach the pod.
- **On by default when the collector runs** (the ``traces`` extra is installed);
  ``AUTONOMY_GATEWAY_TRACES=off`` turns the gateway's spans off (the proxy is then exactly the untraced
  byte pipe: one ``is None`` test per connection). The console's own requests are never traced.
"""

from __future__ import annotations

import os
import time
from collections import deque
from collections.abc import Callable
from typing import Any

from autonomy.errors import ConfigError

__all__ = ["GatewayTracer", "ConnectionSpans", "gateway_tracing_settings", "SERVICE"]

SERVICE = "public-gateway"
_TRACE_HEADERS = (b"traceparent:", b"tracestate:")

# sink(span) files one finished span (the collector's span dictionary) in the cluster's collector
Sink = Callable[[dict[str, Any]], None]


def gateway_tracing_settings() -> tuple[bool, bool]:
    """``(on, keep_client_parent)`` from ``AUTONOMY_GATEWAY_TRACES`` (``on``|``off``, default ``on``) and
    ``AUTONOMY_GATEWAY_TRACEPARENT`` (``keep``|``replace``, default ``keep``); ConfigError naming a bad one."""
    traces = os.environ.get("AUTONOMY_GATEWAY_TRACES", "").strip().lower() or "on"
    if traces not in ("on", "off"):
        raise ConfigError(f"AUTONOMY_GATEWAY_TRACES must be 'on' or 'off', not {traces!r}")
    parent = os.environ.get("AUTONOMY_GATEWAY_TRACEPARENT", "").strip().lower() or "keep"
    if parent not in ("keep", "replace"):
        raise ConfigError(f"AUTONOMY_GATEWAY_TRACEPARENT must be 'keep' (a client's traceparent is the gateway "
                          f"span's parent) or 'replace' (ignored), not {parent!r}")
    return traces == "on", parent == "keep"


class GatewayTracer:
    """Makes the gateway's spans and files them with ``sink`` (needs the ``traces`` extra)."""

    def __init__(self, sink: Sink, keep_client_parent: bool = True) -> None:
        from opentelemetry.sdk.resources import Resource
        from opentelemetry.sdk.trace import TracerProvider
        from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator

        self.keep_client_parent = keep_client_parent
        self._provider = TracerProvider(resource=Resource.create({"service.name": SERVICE}),
                                        shutdown_on_exit=False)
        self._provider.add_span_processor(_sink_processor(sink))
        self._tracer = self._provider.get_tracer("autonomy.cluster.public_gateway")
        self._propagator = TraceContextTextMapPropagator()

    def connection(self, zone: str) -> ConnectionSpans:
        """The spans of one client connection to ``zone``."""
        return ConnectionSpans(self, zone)

    def shutdown(self) -> None:
        self._provider.shutdown()


class ConnectionSpans:
    """The open spans of one connection, oldest first (one per forwarded request awaiting its response)."""

    def __init__(self, tracer: GatewayTracer, zone: str) -> None:
        self._tracer = tracer
        self.zone = zone
        self.open: deque[tuple[Any, str]] = deque()  # (span, method)

    def begin(self, client_head: bytes, upstream_head: bytes) -> bytes:
        """Start the span of the request the client sent as ``client_head``; returns ``upstream_head`` (what
        is forwarded: the same, or rewritten for the path form) with the span's ``traceparent`` in place of
        the client's."""
        from opentelemetry.trace import SpanKind, set_span_in_context

        lines = client_head[:-4].split(b"\r\n")
        method, target = (lines[0].decode("latin-1").split(" ") + ["", ""])[:2]
        carried: dict[str, str] = {}
        host = ""
        for line in lines[1:]:
            name, _, value = line.partition(b":")
            lowered = name.strip().lower()
            if lowered in (b"traceparent", b"tracestate"):
                carried[lowered.decode()] = value.strip().decode("latin-1")
            elif lowered == b"host":
                host = value.strip().decode("latin-1")
        tracer = self._tracer
        parent = (tracer._propagator.extract(carried) if tracer.keep_client_parent and "traceparent" in carried
                  else None)
        path = target.split("?", 1)[0]
        span = tracer._tracer.start_span(f"gateway {method} {path}", context=parent, kind=SpanKind.SERVER,
                                         attributes={"autonomy.zone": self.zone, "http.request.method": method,
                                                     "url.path": path, "server.address": host})
        self.open.append((span, method))
        headers: dict[str, str] = {}
        tracer._propagator.inject(headers, context=set_span_in_context(span))
        kept = [line for line in upstream_head[:-4].split(b"\r\n") if not line.lower().startswith(_TRACE_HEADERS)]
        added = [f"{k}: {v}".encode("latin-1") for k, v in headers.items()]
        return b"\r\n".join([*kept, *added]) + b"\r\n\r\n"

    def method(self) -> str:
        """The method of the oldest request awaiting its response ('' when none)."""
        return self.open[0][1] if self.open else ""

    def end(self, status: int | None) -> None:
        """End the oldest open span: its response (with ``status``, None when unknown) is complete."""
        if not self.open:
            return
        from opentelemetry.trace import Status, StatusCode

        span, _ = self.open.popleft()
        if status is not None:
            span.set_attribute("http.response.status_code", status)
            if status >= 500:
                span.set_status(Status(StatusCode.ERROR, f"HTTP {status}"))
        span.end()

    def close(self) -> None:
        """The connection ended: end every span still open (their responses never completed)."""
        while self.open:
            self.end(None)


def _sink_processor(sink: Sink) -> Any:
    """A span processor that hands each finished span to ``sink`` as the collector's span dictionary."""
    from opentelemetry.sdk.trace import SpanProcessor
    from opentelemetry.trace import StatusCode

    class ToSink(SpanProcessor):
        def on_end(self, span: Any) -> None:
            ctx, parent = span.context, span.parent
            attributes = dict(span.attributes or {})
            sink({"zone": str(attributes.get("autonomy.zone", "")), "service": SERVICE, "name": span.name,
                  "trace_id": format(ctx.trace_id, "032x"), "span_id": format(ctx.span_id, "016x"),
                  "parent_span_id": format(parent.span_id, "016x") if parent is not None else "",
                  "start_ns": span.start_time, "end_ns": span.end_time,
                  "error": span.status.status_code == StatusCode.ERROR, "status": span.status.description or "",
                  "attributes": attributes, "received": time.time()})

    return ToSink()
