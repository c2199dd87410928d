"""Upstream's autonomy.models.clients paths: gateway settings an app reads to reach the gateway itself."""

from __future__ import annotations

import base64
import json
import time

from autonomy.models.clients import GatewayClient, LiteLLMClient, normalize_messages
from autonomy.models.clients.gateway_config import (
    get_client_metadata_headers,
    get_gateway_api_key,
    get_gateway_url,
    get_token_time_remaining,
    use_anthropic_sdk,
)
from autonomy.models.clients.shared_clients import get_shared_openai_client
from autonomy.models.model import Model
from autonomy.nodes.message import UserMessage


def test_gateway_config_reads_the_nodes_gateway_settings(tmp_path, monkeypatch):
    key_file = tmp_path / "key"
    exp = int(time.time()) + 600
    claims = base64.urlsafe_b64encode(json.dumps({"exp": exp}).encode()).decode().rstrip("=")
    key_file.write_text(f"h.{claims}.s\n")
    monkeypatch.setenv("AUTONOMY_EXTERNAL_APIS_GATEWAY_URL", "http://10.1.2.3:9000/")
    monkeypatch.setenv("AUTONOMY_EXTERNAL_APIS_GATEWAY_API_KEY_FILE", str(key_file))
    monkeypatch.delenv("AUTONOMY_EXTERNAL_APIS_GATEWAY_API_KEY", raising=False)
    monkeypatch.setenv("ZONE", "shop")
    monkeypatch.delenv("CLUSTER", raising=False)
    monkeypatch.delenv("NODE", raising=False)
    monkeypatch.delenv("AUTONOMY_EXTERNAL_APIS_GATEWAY_USE_ANTHROPIC_SDK", raising=False)
    assert get_gateway_url() == "http://10.1.2.3:9000"
    assert get_gateway_api_key() == f"h.{claims}.s"
    assert 500 < get_token_time_remaining() <= 600
    assert get_client_metadata_headers() == {"X-Client-Zone": "shop"}
    assert use_anthropic_sdk() is False
    key_file.write_text("rotated")  # read again on every call: no cache to clear
    assert get_gateway_api_key() == "rotated" and get_token_time_remaining() is None


async def test_upstream_client_names_are_model_and_its_shared_sdk_client(fake_llm, monkeypatch):
    monkeypatch.setenv("OPENAI_BASE_URL", fake_llm.base_url)
    monkeypatch.setenv("OPENAI_API_KEY", fake_llm.api_key)
    assert GatewayClient is Model and LiteLLMClient is Model
    client = get_shared_openai_client("m")
    assert client is get_shared_openai_client("m")
    answer = await client.chat.completions.create(model="m", messages=normalize_messages([UserMessage("hi")]))
    assert answer.choices[0].message.content == "echo: hi"
