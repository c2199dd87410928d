"""Digests of pushed images from a registry's v2 API (``zone deploy --no-build``), over real loopback HTTP."""

from __future__ import annotations

import pytest

from autonomy.cluster.kubernetes.registry import manifest_digest
from autonomy.errors import ClusterError
from tests.kubernetes.registry import fake_registry

DIGEST = "sha256:" + "d" * 64


def test_the_digest_of_a_tag_and_none_for_a_missing_one():
    with fake_registry({("team/app", "v1"): DIGEST}) as (host, accepts):
        assert manifest_digest(f"{host}/team/app", "v1") == DIGEST
        assert manifest_digest(f"{host}/team/app", "v2") is None
    assert "application/vnd.docker.distribution.manifest.v2+json" in accepts[0]


def test_an_anonymous_bearer_token_is_fetched_when_the_registry_asks():
    with fake_registry({("team/app", "v1"): DIGEST}, token="tok") as (host, _):
        assert manifest_digest(f"{host}/team/app", "v1") == DIGEST


def test_an_unreachable_registry_is_named():
    with pytest.raises(ClusterError, match=r"registry 127.0.0.1:1: cannot read team/app:v1"):
        manifest_digest("127.0.0.1:1/team/app", "v1", timeout=5)
