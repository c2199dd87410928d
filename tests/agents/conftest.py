"""Fixtures for agent tests: a node serving HTTP on loopback, and the real Model talking to the fake LLM
over HTTP."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest

from autonomy import HttpServer, Node
from autonomy.models import Model, aclose_clients


class AddTool:
    """A tool adding two integers, counting its calls."""

    name = "add"

    def __init__(self) -> None:
        self.calls: list[dict[str, Any]] = []

    async def spec(self) -> dict[str, Any]:
        return {"type": "function", "function": {"name": "add", "description": "Add a and b", "parameters": {
            "type": "object", "properties": {"a": {"type": "integer"}, "b": {"type": "integer"}},
            "required": ["a", "b"]}}}

    async def invoke(self, json_argument: str | None) -> str:
        args = json.loads(json_argument or "{}")
        self.calls.append(args)
        return str(args["a"] + args["b"])


MODEL_ENV = [
    "AUTONOMY_USE_EXTERNAL_APIS_GATEWAY", "AUTONOMY_EXTERNAL_APIS_GATEWAY_URL",
    "AUTONOMY_EXTERNAL_APIS_GATEWAY_API_KEY",
    "OPENAI_BASE_URL", "OPENAI_API_KEY", "ANTHROPIC_API_KEY", "ANTHROPIC_BASE_URL", "LITELLM_PROXY_API_BASE",
    "CLUSTER", "ZONE", "NODE", "API_KEY", "AUTONOMY_FABRIC_URL",
]


@pytest.fixture(autouse=True)
def clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in MODEL_ENV:
        monkeypatch.delenv(name, raising=False)


@pytest.fixture
async def model(fake_llm, monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[Model]:
    """The real ``Model``, pointed at the fake LLM over HTTP (OpenAI-compatible endpoint)."""
    monkeypatch.setenv("OPENAI_BASE_URL", fake_llm.base_url)
    monkeypatch.setenv("OPENAI_API_KEY", fake_llm.api_key)
    yield Model("fake-model", throttle_max_retry_attempts=0)
    await aclose_clients()


@pytest.fixture
async def node() -> AsyncIterator[Node]:
    async with Node.open("agents-test", http_server=HttpServer("127.0.0.1:0")) as n:
        yield n


@pytest.fixture
async def http(node: Node) -> AsyncIterator[httpx.AsyncClient]:
    host, port = node.http_server.address
    async with httpx.AsyncClient(base_url=f"http://{host}:{port}", timeout=30) as client:
        yield client
