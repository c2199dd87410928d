"""Test support for the NATS fabric: an embedded server with two clusters, and node factories.

Its fixtures ``fabric`` and ``pair`` are available to every test (tests/conftest.py imports them).
"""

from __future__ import annotations

import os
import secrets
import sys
import tempfile
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from autonomy.nodes.node import Node
from autonomy.transport.base import FabricConfig
from autonomy.transport.credentials import ClusterCredentials
from autonomy.transport.embedded import EmbeddedNats

HEARTBEAT = 0.2  # seconds: a node silent for 3 heartbeats is probed, so tests see departures fast
APPS = Path(__file__).parent / "apps"
ROOT = Path(__file__).resolve().parents[2]


@dataclass
class Fabric:
    server: EmbeddedNats
    a: ClusterCredentials
    b: ClusterCredentials
    file_a: Path
    file_b: Path
    zone: str = "app"

    def config(self, cluster: str = "a") -> FabricConfig:
        return FabricConfig((self.server.url,), str(self.file_a if cluster == "a" else self.file_b))

    def name(self, pod: str, cluster: str = "a", zone: str | None = None) -> str:
        creds = self.a if cluster == "a" else self.b
        return f"{creds.cluster}-{zone or self.zone}-{pod}-{secrets.token_hex(3)}"

    async def node(self, pod: str, cluster: str = "a", zone: str | None = None) -> Node:
        creds = self.a if cluster == "a" else self.b
        return await Node.create(self.name(pod, cluster, zone), cluster=creds.cluster, zone=zone or self.zone,
                                 fabric=self.config(cluster))

    def env(self, node_name: str, cluster: str = "a", zone: str | None = None, **extra: str) -> dict[str, str]:
        """The environment a deployer gives a node process of this fabric."""
        creds = self.a if cluster == "a" else self.b
        env = {k: v for k, v in os.environ.items() if k not in ("NODE", "CLUSTER", "ZONE")}
        env.update(CLUSTER=creds.cluster, ZONE=zone or self.zone, NODE=node_name,
                   AUTONOMY_FABRIC_URL=self.server.url,
                   AUTONOMY_FABRIC_CREDENTIALS=str(self.file_a if cluster == "a" else self.file_b),
                   AUTONOMY_FABRIC_HEARTBEAT=str(HEARTBEAT), DEFAULT_PORT_HTTP="0", DEFAULT_HOST_HTTP="127.0.0.1",
                   PYTHONPATH=str(ROOT), **extra)
        return env


@pytest.fixture(scope="module")
def fabric() -> Iterator[Fabric]:
    a = ClusterCredentials.generate()
    b = ClusterCredentials.generate(tls=a.tls)
    previous = os.environ.get("AUTONOMY_FABRIC_HEARTBEAT")
    os.environ["AUTONOMY_FABRIC_HEARTBEAT"] = str(HEARTBEAT)
    with tempfile.TemporaryDirectory(prefix="autonomy-fabric-test-") as tmp, EmbeddedNats([a, b]) as server:
        yield Fabric(server, a, b, a.write_node_credentials(Path(tmp) / "a.json"),
                     b.write_node_credentials(Path(tmp) / "b.json"))
    if previous is None:
        os.environ.pop("AUTONOMY_FABRIC_HEARTBEAT", None)
    else:
        os.environ["AUTONOMY_FABRIC_HEARTBEAT"] = previous


@pytest.fixture
async def pair(fabric: Fabric) -> AsyncIterator[tuple[Node, Node]]:  # noqa: F811
    """Two nodes of cluster a, ``main`` and ``runner``, stopped after the test."""
    a = await fabric.node("main")
    b = await fabric.node("runner")
    yield a, b
    await a.stop()
    await b.stop()


PYTHON = sys.executable
