"""Fixtures for agent tests: a node serving HTTP on loopback, and a model that talks to the fake LLM
over real HTTP with the OpenAI SDK."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Any

import httpx
import openai
import pytest

from autonomy import HttpServer, Node


class SdkModel:
    """A minimal duck-typed model (``complete_chat``) on the OpenAI SDK, pointed at the fake LLM."""

    def __init__(self, base_url: str, api_key: str) -> None:
        self.client = openai.AsyncOpenAI(base_url=base_url, api_key=api_key, max_retries=0)

    def complete_chat(self, messages: list[dict[str, Any]], stream: bool = False, tools: Any = None, **kwargs: Any):
        args: dict[str, Any] = {"model": "fake-model", "messages": messages, "stream": stream}
        if tools:
            args["tools"] = tools
        if stream:
            return self._stream(args)
        return self.client.chat.completions.create(**args)

    async def _stream(self, args: dict[str, Any]) -> AsyncIterator[Any]:
        chunks = await self.client.chat.completions.create(**args)
        async for chunk in chunks:
            yield chunk


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


@pytest.fixture
async def model(fake_llm) -> AsyncIterator[SdkModel]:
    m = SdkModel(fake_llm.base_url, fake_llm.api_key)
    yield m
    await m.client.close()


@pytest.fixture
async def node() -> AsyncIterator[Node]:
    async with Node.open("agents-test", http_server=HttpServer("127.0.0.1:0")) as n:
        yield n


@pytest.fixture
async def http(node: Node) -> AsyncIterator[httpx.AsyncClient]:
    host, port = node.http_server.address
    async with httpx.AsyncClient(base_url=f"http://{host}:{port}", timeout=30) as client:
        yield client
