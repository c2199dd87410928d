"""Traces: OpenTelemetry spans for agent turns, model calls and tool calls, exported over OTLP/HTTP.

Off unless the standard variables ask for it: ``OTEL_EXPORTER_OTLP_TRACES_ENDPOINT`` or
``OTEL_EXPORTER_OTLP_ENDPOINT`` is set (and ``OTEL_TRACES_EXPORTER`` is not ``none``). The OTLP/HTTP
exporter then reads the rest of the ``OTEL_*`` variables itself (headers, timeout, compression); the
service name is ``OTEL_SERVICE_NAME``, else the node's ``NODE``, else ``autonomy``; batching follows
``OTEL_BSP_*``. It needs the ``traces`` extra (``pip install 'autonomy-runtime[traces]'``): without it a
configured endpoint gives one warning naming the extra, and spans stay no-ops.

Spans (names and attributes; ``gen_ai.*`` follow OpenTelemetry's GenAI conventions):

- ``agent.turn``: ``autonomy.agent``, ``autonomy.scope``, ``autonomy.conversation``, ``autonomy.node``;
- ``model.call`` (child of the turn): ``gen_ai.request.model``, ``gen_ai.provider.name`` (the configuration
  that served it: ``gateway``, ``openai``, ``anthropic``, ...), ``gen_ai.usage.input_tokens``,
  ``gen_ai.usage.output_tokens`` when the provider reports them, ``autonomy.stream``; latency is the span;
- ``tool.call`` (child of the turn): ``gen_ai.tool.name``, ``gen_ai.tool.call.id``;
- ``mcp.call`` (an MCP server's tool call): ``mcp.server``, ``gen_ai.tool.name``, ``mcp.is_error``;
- ``HTTP {method} {path}`` per request to a node (not the built-in listings), ``worker.handle`` per traced
  message a worker handles, on this node or, through the fabric's ``traceparent`` header, another one.

A failure marks its span with status ERROR and the exception. Decisions: our own ``TracerProvider`` (never
the process-global one, which can be set once only and would leak between tests; :func:`reset` drops it),
created at the first span; this module imports ``opentelemetry`` only when tracing is on, so the hot path
of an untraced node costs one boolean check.
"""

from __future__ import annotations

import contextlib
import logging
import os
from collections.abc import Iterator
from typing import Any

__all__ = ["span", "enabled", "reset", "force_flush", "ON", "capture", "attached", "inject", "extract"]

log = logging.getLogger("autonomy.tracing")

_state: dict[str, Any] = {"checked": False, "tracer": None, "provider": None}

#: True once a span was recorded with tracing on. Hot paths (a worker cell's queue, the fabric) test this
#: attribute only: before the first span there is no context to carry.
ON = False


class _NoSpan:
    """What :func:`span` yields when tracing is off: accepts and drops attributes."""

    def set_attribute(self, key: str, value: Any) -> None:
        pass


_NO_SPAN = _NoSpan()


def _wanted() -> bool:
    if os.environ.get("OTEL_TRACES_EXPORTER", "").strip().lower() == "none":
        return False
    if os.environ.get("OTEL_SDK_DISABLED", "").strip().lower() == "true":
        return False
    return bool(os.environ.get("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT") or os.environ.get("OTEL_EXPORTER_OTLP_ENDPOINT"))


def _setup() -> Any:
    _state["checked"] = True
    if not _wanted():
        return None
    try:
        from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
        from opentelemetry.sdk.resources import Resource
        from opentelemetry.sdk.trace import TracerProvider
        from opentelemetry.sdk.trace.export import BatchSpanProcessor
    except ImportError:
        log.warning("OTEL_EXPORTER_OTLP_ENDPOINT is set but tracing needs the 'traces' extra: "
                    "pip install 'autonomy-runtime[traces]'; no spans are exported")
        return None
    service = os.environ.get("OTEL_SERVICE_NAME") or os.environ.get("NODE") or "autonomy"
    provider = TracerProvider(resource=Resource.create({"service.name": service}), shutdown_on_exit=True)
    provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter()))
    _state["provider"] = provider
    _state["tracer"] = provider.get_tracer("autonomy")
    global ON
    ON = True
    return _state["tracer"]


def _tracer() -> Any:
    if not _state["checked"]:
        return _setup()
    return _state["tracer"]


def enabled() -> bool:
    """True when spans are recorded and exported (reads the environment at the first call)."""
    return _tracer() is not None


# What span() and attached() return when there is nothing to do: one shared, reusable context manager,
# not a generator per call (an agent turn enters several; each generator costs ~1 us).
_NO_SPAN_CONTEXT = contextlib.nullcontext(_NO_SPAN)
_NOTHING = contextlib.nullcontext()


def span(name: str, attributes: dict[str, Any] | None = None) -> contextlib.AbstractContextManager[Any]:
    """A span around the block, child of the current one (``set_attribute`` on what it yields). An
    exception leaving the block is recorded on the span and re-raised; cancellation is not an error."""
    tracer = _tracer()
    if tracer is None:
        return _NO_SPAN_CONTEXT
    return _span(tracer, name, attributes)


@contextlib.contextmanager
def _span(tracer: Any, name: str, attributes: dict[str, Any] | None) -> Iterator[Any]:
    from opentelemetry.trace import Status, StatusCode

    clean = {k: v for k, v in (attributes or {}).items() if v is not None}
    with tracer.start_as_current_span(name, attributes=clean, record_exception=False,
                                      set_status_on_exception=False) as current:
        try:
            yield current
        except BaseException as exc:
            if isinstance(exc, Exception):
                current.record_exception(exc)
                current.set_status(Status(StatusCode.ERROR, f"{type(exc).__name__}: {exc}"))
            raise


def force_flush(timeout_millis: int = 10_000) -> bool:
    """Export every finished span now (True when done in time); True when tracing is off."""
    provider = _state["provider"]
    return True if provider is None else bool(provider.force_flush(timeout_millis))


def reset() -> None:
    """Flush and drop the provider: the next span reads the environment again (for tests)."""
    provider = _state["provider"]
    if provider is not None:
        provider.shutdown()
    _state.update(checked=False, tracer=None, provider=None)
    global ON
    ON = False


# --- carrying the context: across a worker's queue, across the fabric ------------------------------
def capture() -> Any:
    """The current context when tracing is on and a span is current, else None (cheap: call when ``ON``)."""
    from opentelemetry import context, trace

    return context.get_current() if trace.get_current_span().get_span_context().is_valid else None


def attached(ctx: Any) -> contextlib.AbstractContextManager[None]:
    """Run the block inside ``ctx`` (from :func:`capture` or :func:`extract`); nothing when None."""
    return _NOTHING if ctx is None else _attached(ctx)


@contextlib.contextmanager
def _attached(ctx: Any) -> Iterator[None]:
    from opentelemetry import context

    token = context.attach(ctx)
    try:
        yield
    finally:
        context.detach(token)


def inject() -> dict[str, str] | None:
    """W3C ``traceparent`` (and ``tracestate``) headers of the current span, or None (call when ``ON``)."""
    from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator

    carrier: dict[str, str] = {}
    TraceContextTextMapPropagator().inject(carrier)
    return carrier or None


def extract(headers: dict[str, str]) -> Any:
    """The context carried by ``headers`` (``traceparent``), or None when tracing is off or there is none."""
    if "traceparent" not in headers or _tracer() is None:
        return None
    from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator

    return TraceContextTextMapPropagator().extract(headers)
