"""Failure paths of the local backend's pieces on their own: a container that cannot start, a public zone
whose main pod is not up, a cancelled image build."""

from __future__ import annotations

import asyncio
import os
import sys
import uuid
from pathlib import Path

from autonomy.cluster.local.cgroups import CgroupManager
from autonomy.cluster.local.deployer import LocalDeployer, RunningZone
from autonomy.cluster.local.images import _run
from autonomy.cluster.local.supervisor import ContainerProcess
from autonomy.cluster.state import ClusterState
from autonomy.zones.spec import ZoneSpec
from tests.support.until import until

CLUSTER = "0123456789abcdef0123456789abcdef"


async def test_a_container_whose_environment_cannot_be_passed_is_crashed_not_hung(tmp_path: Path):
    # A NUL byte (YAML's "\0") cannot go into a process's environment: the spawn fails with ValueError.
    proc = ContainerProcess("main-0/main", ["/bin/true"], {"X": "a\0b"}, tmp_path, tmp_path / "main.log")
    proc.start()
    try:
        await asyncio.wait_for(proc.wait_started(), 20)
        assert proc.state == "crashed" and "null byte" in proc.last_error
        assert "null byte" in (tmp_path / "main.log").read_text()
    finally:
        await asyncio.wait_for(proc.stop(), 20)
    assert proc.state == "stopped"


def test_public_zone_whose_main_pod_has_no_instance_is_answered_with_a_reason(tmp_path: Path):
    state = ClusterState(tmp_path / "state.db")
    try:
        deployer = LocalDeployer(tmp_path, CLUSTER, state, fabric_url="tls://127.0.0.1:1",
                                 credentials_file=tmp_path / "node.json", network="host", netns=None,
                                 cgroups=CgroupManager(CLUSTER, root=tmp_path),
                                 public_url_template="http://{cluster}-{zone}.localhost:1/")
        spec = ZoneSpec.model_validate({"name": "shop", "pods": [
            {"name": "main-pod", "public": True, "containers": [{"name": "main", "image": "main"}]}]})
        # What a zone looks like while its pods are being started, or after its main pod failed to start.
        deployer._zones["shop"] = RunningZone(spec=spec, url=None)
        target = deployer.public_target("shop")
        assert isinstance(target, str) and "shop" in target
    finally:
        state.close()


def _processes_with(marker: str) -> list[int]:
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                if marker.encode() in (entry / "cmdline").read_bytes():
                    found.append(int(entry.name))
            except OSError:
                continue
    return found


async def test_a_cancelled_image_build_step_leaves_no_process(tmp_path: Path):
    marker = f"autonomy-test-{uuid.uuid4().hex}"
    task = asyncio.ensure_future(_run([sys.executable, "-c", "import time, sys; time.sleep(60)", marker],
                                      "installing requirements.txt"))
    await until(lambda: _processes_with(marker), what="the step to start")
    task.cancel()
    try:
        await asyncio.wait_for(task, 20)
    except asyncio.CancelledError:
        pass
    def left() -> list[int]:
        return [p for p in _processes_with(marker) if p != os.getpid()]
    try:
        await until(lambda: not left(), what="the cancelled step's process to end", describe=lambda: str(left()))
    finally:
        for pid in left():  # never leave it behind, even when the test fails
            os.kill(pid, 9)
