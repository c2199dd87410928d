"""secrets.yaml in both upstream formats, and resolving secrets.NAME in a container's env."""

from __future__ import annotations

from pathlib import Path

import pytest

from autonomy.errors import ZoneSpecError
from autonomy.zones import ContainerSpec, check_secrets, load_secrets, parse_zone, resolve_env


def test_flat_map_is_read_and_numbers_stringified(tmp_path: Path) -> None:
    (tmp_path / "secrets.yaml").write_text('API_KEY: "sk-123"\nPORT_NUMBER: 8080\n')
    assert load_secrets(tmp_path) == {"API_KEY": "sk-123", "PORT_NUMBER": "8080"}


def test_missing_file_means_no_secrets(tmp_path: Path) -> None:
    assert load_secrets(tmp_path) == {}


def test_raw_list_format_is_read(tmp_path: Path) -> None:
    (tmp_path / "secrets.yml").write_text(
        "- name: API_KEY\n  fields: {value: sk-1}\n"
        "- name: secret\n  fields: {BRAVE_API_KEY: b-2, LINKUP_API_KEY: l-3}\n"
    )
    assert load_secrets(tmp_path) == {"API_KEY": "sk-1", "BRAVE_API_KEY": "b-2", "LINKUP_API_KEY": "l-3"}


def test_bad_secret_is_refused_without_echoing_its_value(tmp_path: Path) -> None:
    (tmp_path / "secrets.yaml").write_text("API_KEY: [sk-very-secret]\n'bad name': x\n")
    with pytest.raises(ZoneSpecError) as info:
        load_secrets(tmp_path)
    assert [p for p, _ in info.value.problems] == ["API_KEY", "bad name"]
    assert "sk-very-secret" not in str(info.value)


def test_resolve_env_replaces_references_and_keeps_literals() -> None:
    container = ContainerSpec(name="main", image="main", env={"LOG": "INFO", "KEY": "secrets.API_KEY"})
    assert resolve_env(container, {"API_KEY": "sk-1"}) == {"LOG": "INFO", "KEY": "sk-1"}


def test_resolve_env_names_variable_and_missing_secret() -> None:
    container = ContainerSpec(name="main", image="main", env={"KEY": "secrets.API_KEY"})
    with pytest.raises(ZoneSpecError) as info:
        resolve_env(container, {"OTHER": "x"})
    message = str(info.value)
    assert "containers.main.env.KEY" in message and "secrets.API_KEY" in message
    assert "add 'API_KEY: ...' to secrets.yaml" in message


def test_check_secrets_lists_every_missing_reference() -> None:
    zone = parse_zone({"name": "a", "pods": [{"name": "p", "containers": [
        {"name": "c", "image": "i", "env": [{"A": "secrets.X"}, {"B": "secrets.Y"}, {"C": "secrets.Z"}]}]}]})
    with pytest.raises(ZoneSpecError) as info:
        check_secrets(zone, {"Y": "y"})
    assert [p for p, _ in info.value.problems] == [
        "pods[0].containers[0].env.A", "pods[0].containers[0].env.C"]


def test_a_secret_holding_a_nul_character_is_refused_without_echoing_it(tmp_path: Path) -> None:
    (tmp_path / "secrets.yaml").write_text('API_KEY: "abc\\0def"\n')
    with pytest.raises(ZoneSpecError) as info:
        load_secrets(tmp_path)
    assert "API_KEY" in str(info.value) and "NUL" in str(info.value)
    assert "abc" not in str(info.value)
