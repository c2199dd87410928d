"""The backend factory: the controller gets a backend by kind and sees it only through its protocols."""

from __future__ import annotations

import secrets
from pathlib import Path

import pytest

from autonomy.cluster.backends import BACKENDS, open_backend
from autonomy.cluster.deployer import DeployerSettings
from autonomy.cluster.state import ClusterState
from autonomy.errors import ClusterError, ConfigError


@pytest.fixture
def state(tmp_path: Path):
    state = ClusterState(tmp_path / "state.db")
    yield state
    state.close()


def settings(tmp_path: Path) -> DeployerSettings:
    return DeployerSettings(fabric_url="nats://127.0.0.1:4222", credentials_file=tmp_path / "creds.json",
                            public_url_template="http://{cluster}-{zone}.localhost:32100/")


def test_an_unknown_backend_kind_is_refused_naming_the_known_ones(tmp_path, state):
    with pytest.raises(ConfigError, match=r"cluster backend 'nomad' is unknown: use one of local, docker"):
        open_backend("nomad", tmp_path, secrets.token_hex(16), state)
    assert BACKENDS == ("local", "docker")


async def test_the_local_backend_on_the_host_network_gives_a_deployer_for_loopback(tmp_path, state, monkeypatch):
    monkeypatch.setenv("AUTONOMY_NETWORK", "host")
    backend = open_backend("local", tmp_path, secrets.token_hex(16), state)
    with pytest.raises(ClusterError, match="not prepared"):
        await backend.create_deployer(settings(tmp_path))
    try:
        assert await backend.prepare() == "127.0.0.1"  # pods reach the cluster's services on loopback
        assert backend.network == "host"
        assert backend.limits  # how sizes are enforced (or why not), shown by `cluster show`
        deployer = await backend.create_deployer(settings(tmp_path))
        assert deployer.network == "host" and deployer.zones() == []
        with pytest.raises(ClusterError):
            deployer.status("nothere")
    finally:
        await backend.close()


async def test_a_bad_network_choice_is_refused_naming_the_variable(tmp_path, state, monkeypatch):
    monkeypatch.setenv("AUTONOMY_NETWORK", "bridge")
    backend = open_backend("local", tmp_path, secrets.token_hex(16), state)
    with pytest.raises(ConfigError, match="AUTONOMY_NETWORK='bridge': use 'namespace' or 'host'"):
        await backend.prepare()
    await backend.close()


def test_stored_secrets_are_the_ones_the_local_deployer_wrote(tmp_path, state):
    from autonomy.cluster.local.deployer import _write_secrets  # the deployer's own writer

    backend = open_backend("local", tmp_path, secrets.token_hex(16), state)
    (tmp_path / "zones" / "hello").mkdir(parents=True)
    _write_secrets(tmp_path / "zones" / "hello" / "secrets.json", {"API_KEY": "s3cr3t"})
    assert backend.stored_secrets("hello") == {"API_KEY": "s3cr3t"}
