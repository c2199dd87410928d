"""Fixtures: a fake OpenAI/Anthropic upstream and a real gateway served on 127.0.0.1 in front of it."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass

import pytest

from autonomy.gateway import (
    GatewayConfig,
    GatewayServer,
    ProviderConfig,
    ThrottleConfig,
    UsageRecorder,
    ZoneKeys,
    create_gateway_app,
)
from tests.support.fake_llm import FakeLLM

UPSTREAM_KEY_ENV = "GATEWAY_TEST_UPSTREAM_KEY"


@dataclass
class RunningGateway:
    url: str
    key: str
    keys: ZoneKeys
    usage: UsageRecorder
    server: GatewayServer

    @property
    def base_url(self) -> str:
        return self.url + "/v1"


@pytest.fixture
def upstream() -> Iterator[FakeLLM]:
    with FakeLLM(models=["fake-model", "claude-fake"]) as llm:
        yield llm


def upstream_config(llm: FakeLLM, **throttle: float) -> GatewayConfig:
    fast = ThrottleConfig(**{"initial_backoff": 0.01, "max_backoff": 0.5, **throttle})  # type: ignore[arg-type]
    return GatewayConfig((
        ProviderConfig(name="fake", kind="openai", url=llm.base_url, api_key_env=UPSTREAM_KEY_ENV,
                       models=("fake-model",), default=True, throttle=fast),
        ProviderConfig(name="claude", kind="anthropic", url=llm.url, api_key_env=UPSTREAM_KEY_ENV,
                       models=("claude-fake",), throttle=fast),
    ))


async def serve(config: GatewayConfig) -> RunningGateway:
    keys, usage = ZoneKeys(), UsageRecorder()
    key = keys.issue("zone1")
    server = GatewayServer(create_gateway_app(config, keys, usage))
    url = await server.start()
    return RunningGateway(url, key, keys, usage, server)


@pytest.fixture
async def gateway(upstream: FakeLLM, monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[RunningGateway]:
    monkeypatch.setenv(UPSTREAM_KEY_ENV, upstream.api_key)
    running = await serve(upstream_config(upstream))
    try:
        yield running
    finally:
        await running.server.stop()
