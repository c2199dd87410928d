"""Fixtures: the cluster's model gateway with its offline default (embedded MiniLM embeddings) on loopback,
and a node's environment pointing at it, as a deployer sets it."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from autonomy.gateway import (
    GatewayConfig,
    GatewayServer,
    ProviderConfig,
    UsageRecorder,
    ZoneKeys,
    create_gateway_app,
    offline_config,
)
from tests.agents.conftest import MODEL_ENV
from tests.support.fake_llm import FakeLLM


async def _serve(config: GatewayConfig, monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[str]:
    for name in MODEL_ENV:
        monkeypatch.delenv(name, raising=False)
    keys = ZoneKeys()
    server = GatewayServer(create_gateway_app(config, keys, UsageRecorder()))
    url = await server.start()
    monkeypatch.setenv("AUTONOMY_USE_EXTERNAL_APIS_GATEWAY", "1")
    monkeypatch.setenv("AUTONOMY_EXTERNAL_APIS_GATEWAY_URL", url)
    monkeypatch.setenv("AUTONOMY_EXTERNAL_APIS_GATEWAY_API_KEY", keys.issue("knowledge"))
    try:
        yield url
    finally:
        await server.stop()


@pytest.fixture
async def gateway(monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[str]:
    """A real gateway with ``offline_config()``; the environment is the zone's: ``Model`` goes through it."""
    async for url in _serve(offline_config(), monkeypatch):
        yield url


@pytest.fixture
async def gateway_with_chat(fake_llm: FakeLLM, monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[FakeLLM]:
    """The offline gateway, plus the fake LLM serving ``fake-model`` for chat (embeddings stay embedded)."""
    chat = ProviderConfig(name="fake", kind="openai", url=fake_llm.base_url, models=("fake-model",))
    config = GatewayConfig((chat, *offline_config().providers))
    async for _ in _serve(config, monkeypatch):
        yield fake_llm


#: Four short documents on unrelated subjects, for searches by meaning.
DOCUMENTS = {
    "bread": "To bake bread, mix flour, water, salt and yeast. Knead the dough, let it rise for an hour, "
             "then bake it in a hot oven until the crust is brown.",
    "sailing": "A sailboat moves with the wind. The sailor trims the sails and steers with the rudder; tacking "
               "turns the bow through the wind to sail upwind.",
    "volcano": "A volcano erupts when magma rises from the mantle. Lava, ash and gas escape through the crater "
               "and the vents.",
    "python": "Python is a programming language. Functions are defined with def, and lists, dicts and sets are "
              "built in.",
}
