"""Shared pytest fixtures (fixtures only: no global settings here)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator

import pytest

from autonomy.models import aclose_clients
from tests.support.fake_llm import FakeLLM
from tests.transport.fabric import fabric, pair  # noqa: F401 (fixtures: nodes joined by a real NATS fabric)


@pytest.fixture
def fake_llm() -> Iterator[FakeLLM]:
    """A started :class:`~tests.support.fake_llm.FakeLLM` on 127.0.0.1; sets no environment variables.

    Point a ``Model`` at it with ``monkeypatch.setenv("OPENAI_BASE_URL", fake_llm.base_url)`` and
    ``monkeypatch.setenv("OPENAI_API_KEY", fake_llm.api_key)``, or with the gateway env vars
    (``AUTONOMY_USE_EXTERNAL_APIS_GATEWAY=1``, ``AUTONOMY_EXTERNAL_APIS_GATEWAY_URL=fake_llm.url``).
    """
    with FakeLLM() as llm:
        yield llm


@pytest.fixture(autouse=True)
async def _close_model_clients() -> AsyncIterator[None]:
    """Close the SDK clients ``Model`` cached for the test's event loop, so none outlives its loop."""
    yield
    await aclose_clients()
