"""Fixtures of the Kubernetes client-flow tests: the in-memory API server and an enrolled cluster."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from autonomy.cluster.kubernetes.api import KubeApi
from tests.kubernetes.kubefake import KubeFake, running


@pytest.fixture
def fake() -> KubeFake:
    return KubeFake()


@pytest.fixture
def api(fake: KubeFake) -> Iterator[KubeApi]:
    with running(fake) as url:
        client = KubeApi.from_url(url)
        try:
            yield client
        finally:
            client.close()


class Progress(list[tuple[str, str]]):
    def __call__(self, step: str, detail: str) -> None:
        self.append((step, detail))

    def details(self, step: str) -> list[str]:
        return [d for s, d in self if s == step]


@pytest.fixture
def progress() -> Progress:
    return Progress()


def fake_publisher(calls: list[tuple[str, list[str]]]):
    """A stand-in for autonomy.images.publish: records what it was asked to build, returns digests."""
    def publish(source_dir: Path, images: list[str], registry: str, cluster_id: str, zone: str, progress) -> dict:
        calls.append((zone, list(images)))
        for image in images:
            progress("image", f"{image}: pushed")
        return {i: f"{registry}/{cluster_id[:8]}-{zone}/{i}@sha256:{(i.encode().hex() * 64)[:64]}" for i in images}
    return publish
