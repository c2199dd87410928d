"""One local cluster for the console tests: a fake model provider and a deployed zone with an agent."""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from autonomy.cluster import ClusterClient
from tests.cli.conftest import CALC_APP_HEAD, write_app
from tests.cluster.conftest import _cleanup, deploy
from tests.support.fake_llm import FakeLLM

ZONE = """\
name: {name}
pods:
  - name: main-pod
    public: true
    containers:
      - name: main
        image: main
"""

MAIN = CALC_APP_HEAD + "\n\nNode.start(main)\n"


@dataclass
class ConsoleCluster:
    client: ClusterClient
    llm: FakeLLM
    zone: str
    port: int
    cluster_id: str

    @property
    def console(self) -> str:
        return f"http://127.0.0.1:{self.port}"


@pytest.fixture(scope="package")
def console_cluster() -> Iterator[ConsoleCluster]:
    saved = {k: os.environ.get(k) for k in ("AUTONOMY_PUBLIC_PORT", "AUTONOMY_NETWORK")}
    os.environ["AUTONOMY_PUBLIC_PORT"] = "0"
    os.environ.pop("AUTONOMY_NETWORK", None)
    home = Path(tempfile.mkdtemp(prefix="acon-", dir="/tmp"))  # Unix socket paths: at most 108 bytes
    apps = Path(tempfile.mkdtemp(prefix="acon-apps-", dir="/tmp"))
    llm = FakeLLM().start()
    client = ClusterClient(home / "h")
    try:
        shown = client.enroll()
        client.add_model("fake", url=llm.base_url, default=True)
        (apps / "shop").mkdir()
        write_app(apps / "shop", ZONE.format(name="shop"), MAIN)
        deploy(client, apps / "shop")
        yield ConsoleCluster(client, llm, "shop", int(shown["public_port"]), shown["id"])
    finally:
        try:
            client.stop()
        finally:
            llm.stop()
            _cleanup(home / "h")
            shutil.rmtree(home, ignore_errors=True)
            shutil.rmtree(apps, ignore_errors=True)
            for key, value in saved.items():
                if value is None:
                    os.environ.pop(key, None)
                else:
                    os.environ[key] = value
