"""The gateway's embedded embedding model (all-MiniLM-L6-v2 on NumPy), through the real gateway and the SDK."""

from __future__ import annotations

import math
from collections.abc import AsyncIterator

import httpx
import openai
import pytest

from autonomy.gateway import offline_config
from autonomy.gateway.local_embeddings import MINILM_SHA256, find_minilm, load_embedder
from autonomy.gateway.local_model import verify_sha256
from tests.gateway.conftest import RunningGateway, serve


@pytest.fixture
async def offline() -> AsyncIterator[RunningGateway]:
    gateway = await serve(offline_config())
    try:
        yield gateway
    finally:
        await gateway.server.stop()


def test_the_shipped_weights_match_the_pinned_hash() -> None:
    verify_sha256(find_minilm() / "model.safetensors", MINILM_SHA256)


async def test_the_encoder_gives_sentence_transformers_vectors() -> None:
    embedder = await load_embedder()
    (vector,), tokens = await embedder.embed(["This is an example sentence"])
    # the first values sentence-transformers gives for this sentence with all-MiniLM-L6-v2
    assert vector[:5] == pytest.approx([0.0676569, 0.0634960, 0.0487131, 0.0793050, 0.0374481], abs=1e-5)
    assert math.fsum(x * x for x in vector) == pytest.approx(1.0, abs=1e-5)
    assert tokens == 7  # [CLS] this is an example sentence [SEP]


async def test_any_name_on_the_offline_gateway_embeds_and_similar_texts_are_near(offline: RunningGateway) -> None:
    async with openai.AsyncOpenAI(base_url=offline.base_url, api_key=offline.key, max_retries=0) as client:
        answer = await client.embeddings.create(  # the SDK asks for base64 and decodes it
            model="embed-english", input=["A man is eating food.", "A man is eating bread.", "A monkey plays drums."])
    a, b, c = (item.embedding for item in answer.data)
    assert len(a) == 384
    assert sum(x * y for x, y in zip(a, b, strict=True)) > 0.6 > sum(x * y for x, y in zip(a, c, strict=True))
    assert answer.usage.prompt_tokens > 0
    assert offline.usage.for_zone("zone1").prompt_tokens == answer.usage.prompt_tokens

    async with httpx.AsyncClient(base_url=offline.base_url, headers={"authorization": f"Bearer {offline.key}"}) as http:
        plain = await http.post("/embeddings", json={"model": "all-minilm-l6-v2", "input": "A man is eating food."})
        assert plain.status_code == 200
        assert plain.json()["data"][0]["embedding"][:3] == pytest.approx(a[:3], abs=1e-6)
        tokens = await http.post("/embeddings", json={"model": "m", "input": [[1, 2, 3]]})
        assert tokens.status_code == 400 and "'input'" in tokens.json()["error"]["message"]
        bad = await http.post("/embeddings", json={"model": "m", "input": "x", "encoding_format": "int8"})
        assert bad.status_code == 400 and "encoding_format" in bad.json()["error"]["message"]
