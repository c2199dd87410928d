"""Fixtures for the model tests: no model configuration inherited from the environment."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

MODEL_ENV = [
    "AUTONOMY_USE_EXTERNAL_APIS_GATEWAY", "AUTONOMY_EXTERNAL_APIS_GATEWAY_URL",
    "AUTONOMY_EXTERNAL_APIS_GATEWAY_URL_FILE", "AUTONOMY_EXTERNAL_APIS_GATEWAY_API_KEY",
    "AUTONOMY_EXTERNAL_APIS_GATEWAY_API_KEY_FILE", "AUTONOMY_EXTERNAL_APIS_GATEWAY_USE_ANTHROPIC_SDK",
    "OPENAI_BASE_URL", "OPENAI_API_KEY", "ANTHROPIC_API_KEY", "ANTHROPIC_BASE_URL",
    "LITELLM_PROXY_API_BASE", "LITELLM_PROXY_API_KEY", "CLUSTER", "ZONE", "NODE",
]


@pytest.fixture(autouse=True)
def clean_model_env(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    for name in MODEL_ENV:
        monkeypatch.delenv(name, raising=False)
    yield
