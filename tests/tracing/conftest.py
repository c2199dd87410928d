"""A real OTLP/HTTP receiver in this process, and tracing configured to export to it for one test."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

import autonomy.tracing as tracing
from tests.support.otlp_receiver import OtlpReceiver

SERVICE = "spans-test"  # the service name spans are recorded under (OTEL_SERVICE_NAME)


@pytest.fixture
def receiver(monkeypatch: pytest.MonkeyPatch) -> Iterator[OtlpReceiver]:
    for name in ("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", "OTEL_TRACES_EXPORTER", "OTEL_SDK_DISABLED",
                 "AUTONOMY_USE_EXTERNAL_APIS_GATEWAY", "ANTHROPIC_API_KEY", "NODE"):
        monkeypatch.delenv(name, raising=False)
    with OtlpReceiver() as otlp:
        monkeypatch.setenv("OTEL_EXPORTER_OTLP_ENDPOINT", otlp.endpoint)  # the standard variables only
        monkeypatch.setenv("OTEL_SERVICE_NAME", SERVICE)
        tracing.reset()
        try:
            yield otlp
        finally:
            tracing.reset()
