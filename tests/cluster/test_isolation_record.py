"""A cluster that ran its zones sandboxed never silently runs them unsandboxed; without a sandbox
``zone deploy`` says so in one line and ``zone status`` shows ``isolation: none (<why>)``."""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest

from autonomy.cluster import ClusterClient
from autonomy.cluster.local.sandbox import sandbox_available
from autonomy.errors import ClusterError
from autonomy.zones.loading import load_zone
from autonomy.zones.secrets import load_secrets
from tests.cluster.apps import write_zone
from tests.cluster.conftest import IS_ROOT, deploy

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(not IS_ROOT, reason="the sandbox needs root"),
    pytest.mark.skipif(not sandbox_available()[0], reason=f"no sandbox here: {sandbox_available()[1]}"),
]

ZONE = """
    name: plain
    pods:
      - name: main-pod
        containers:
          - name: web
            image: web
"""


def _restart(client: ClusterClient, **env: str) -> None:
    """Stop the controller and start it again with ``env`` in its environment."""
    client.stop()
    saved = {k: os.environ.get(k) for k in env}
    os.environ.update(env)
    try:
        client.enroll()
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


@pytest.fixture
def zone_dir(tmp_path) -> Iterator:
    yield write_zone(tmp_path / "plain", ZONE)


def test_losing_the_sandbox_is_refused_until_unsandboxed_is_asked_for(make_cluster, zone_dir):
    client = make_cluster("namespace")
    deploy(client, zone_dir)
    assert client.zone_status("plain")["isolation"] == "sandbox"

    _restart(client, AUTONOMY_BWRAP="/nonexistent/bwrap")  # bubblewrap is gone
    with pytest.raises(ClusterError, match="this cluster ran its zones sandboxed, but this controller cannot "
                                           "sandbox them: `/nonexistent/bwrap` is not installed"):
        list(client.deploy(load_zone(zone_dir), load_secrets(zone_dir), zone_dir))
    assert "ran its zones sandboxed" in client.log_path.read_text()  # the restore was refused too
    assert client.show()["isolation"].startswith("none (`/nonexistent/bwrap` is not installed")

    _restart(client, AUTONOMY_ISOLATION="none")
    _, events = deploy(client, zone_dir)
    said = [e["detail"] for e in events if e.get("step") == "isolation"]
    assert said == ["isolation: none (AUTONOMY_ISOLATION=none): this zone's containers run unsandboxed"]
    assert client.zone_status("plain")["isolation"] == "none (AUTONOMY_ISOLATION=none)"
