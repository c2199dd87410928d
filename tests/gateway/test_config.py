"""GatewayConfig, the model add/list/remove functions, routing rules and zone keys: pure, no server."""

from __future__ import annotations

import pytest

from autonomy.errors import ConfigError, MissingExtra, ModelNotFound
from autonomy.gateway import (
    GatewayConfig,
    ZoneKeys,
    add_provider,
    list_providers,
    local_model,
    offline_config,
    remove_provider,
    resolve,
)


def test_config_round_trips_through_json_without_any_key_in_clear() -> None:
    config = add_provider(offline_config(), "openai", url="https://api.openai.com/v1", api_key_env="OPENAI_API_KEY",
                          models=["gpt-4o-mini"])
    text = config.to_json()
    assert GatewayConfig.from_json(text) == config
    assert "OPENAI_API_KEY" in text and "sk-" not in text


def test_model_add_validates_fields_by_name() -> None:
    with pytest.raises(ConfigError, match="url is required"):
        add_provider(GatewayConfig(), "proxy", kind="openai")
    with pytest.raises(ConfigError, match="api_key_env = 'sk-abc123!'"):
        add_provider(GatewayConfig(), "proxy", url="http://h/v1", api_key_env="sk-abc123!")
    with pytest.raises(ConfigError, match="provider name 'Bad Name'"):
        add_provider(GatewayConfig(), "Bad Name", url="http://h/v1")
    config = add_provider(GatewayConfig(), "proxy", url="http://h/v1")
    with pytest.raises(ConfigError, match="exists already"):
        add_provider(config, "proxy", url="http://other/v1")


def test_model_add_default_takes_the_default_role_and_remove_forgets() -> None:
    config = add_provider(offline_config(), "proxy", url="http://h/v1", default=True)
    assert [row["name"] for row in list_providers(config) if row["default"]] == ["proxy"]
    config = remove_provider(config, "proxy")
    assert [row["name"] for row in list_providers(config)] == ["local"]
    with pytest.raises(ConfigError, match="no provider named 'proxy'"):
        remove_provider(config, "proxy")


def test_routing_exact_names_then_aliases_then_default() -> None:
    config = add_provider(offline_config(), "anthropic", kind="anthropic", api_key_env="ANTHROPIC_API_KEY")
    config = add_provider(config, "ollama", url="http://127.0.0.1:11434/v1", models=["llama3.2"])
    assert (resolve(config, "llama3.2").provider.name, resolve(config, "llama3.2").upstream_model) == \
        ("ollama", "llama3.2")
    claude = resolve(config, "claude-sonnet-4-v1")
    assert (claude.provider.name, claude.upstream_model) == ("anthropic", "claude-sonnet-4-20250514")
    nova = resolve(config, "nova-micro-v1")
    assert (nova.provider.name, nova.upstream_model) == ("local", "smollm2")


def test_unknown_name_without_default_lists_the_models() -> None:
    config = add_provider(GatewayConfig(), "ollama", url="http://127.0.0.1:11434/v1", models=["llama3.2", "gemma3"])
    with pytest.raises(ModelNotFound, match="llama3.2, gemma3") as missing:
        resolve(config, "nova-micro-v1")
    assert missing.value.status == 404


def test_zone_keys_know_the_zone_store_digests_and_rotate() -> None:
    keys = ZoneKeys()
    key = keys.issue("web")
    assert keys.zone_for(key) == "web" and keys.zone_for("azk_wrong") is None and keys.zone_for(None) is None
    restored = ZoneKeys.from_json(keys.to_json())
    assert key not in keys.to_json() and restored.zone_for(key) == "web"
    rotated = restored.issue("web")
    assert restored.zone_for(key) is None and restored.zone_for(rotated) == "web"


def test_missing_local_extra_names_the_pip_install(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(local_model.importlib.util, "find_spec", lambda name: None)
    with pytest.raises(MissingExtra, match=r"pip install 'autonomy-runtime\[local\]'"):
        local_model.require_llama_cpp()
    with pytest.raises(MissingExtra, match=r"\[local\]"):
        local_model.find_smollm2()
