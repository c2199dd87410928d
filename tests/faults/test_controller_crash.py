"""Fault: the controller SIGKILLed while zones run (process runtime).

The containers' shims keep them running while no controller is there (each pod still answers on its own
address, with its in-memory state); the next controller, started through the client as the CLI would,
adopts them: same pids, state kept, ``zone status`` true, and a container that crashes afterwards is
restarted by its shim. ``zone delete`` then removes every process, namespace, rule and cgroup.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import textwrap
from pathlib import Path

import httpx
import pytest

from tests.cluster.apps import write_zone
from tests.cluster.conftest import IS_ROOT, deploy, describe_cluster, make_cluster  # noqa: F401 (fixture)
from tests.support.until import until_sync

pytestmark = pytest.mark.slow

# A node whose worker counts: the count lives only in the process's memory.
COUNTER = textwrap.dedent('''
    import os
    from fastapi import FastAPI
    from autonomy import HttpServer, Node

    app = FastAPI()

    class Counter:
        def __init__(self):
            self.count = 0

        async def handle_message(self, context, message):
            self.count += int(message)
            await context.reply(str(self.count))

    @app.post("/count")
    async def count(by: int = 1):
        return {"count": int(await app.state.node.send_and_receive("counter", str(by), timeout=10)),
                "pid": os.getpid()}

    async def main(node):
        app.state.node = node
        await node.start_worker("counter", Counter())

    Node.start(main, http_server=HttpServer(app=app))
''')
ZONE = """
    name: {name}
    pods:
      - name: main-pod
        containers:
          - name: main
            image: main
"""


@pytest.fixture(scope="module")
def cluster(make_cluster):  # noqa: F811
    return make_cluster("namespace" if IS_ROOT else "host")


def _count(pod: dict, by: int) -> int | None:
    try:
        answer = httpx.post(f"http://{pod['address']}:{pod['port']}/count", params={"by": by}, timeout=10)
    except httpx.HTTPError:
        return None
    return answer.json()["count"] if answer.status_code == 200 else None


def _kill_controller(cluster) -> None:
    found = subprocess.run(["pgrep", "-f", f"autonomy.cluster.controller --home {cluster.home}"],
                           capture_output=True, text=True).stdout.split()
    assert len(found) == 1, found
    os.kill(int(found[0]), signal.SIGKILL)
    until_sync(lambda: not Path(f"/proc/{found[0]}").exists(), what="the controller to die")


def _running(cluster, zone: str):
    try:
        status = cluster.zone_status(zone)
    except Exception:  # the controller is (re)starting
        return None
    return status if status["state"] == "running" else None


def _processes(status: dict) -> list[int]:
    return [p for pod in status["pods"] for c in pod["containers"] for p in (c["pid"], c["shim_pid"]) if p]


def _alive(pid: int) -> bool:
    try:
        return b"Z" != Path(f"/proc/{pid}/stat").read_bytes().rsplit(b")", 1)[1].split()[0]
    except OSError:
        return False


def test_a_killed_controller_leaves_pods_running_and_the_next_one_adopts_them(cluster, tmp_path):
    directory = write_zone(tmp_path / "keep", ZONE.format(name="keep"), images={"main": COUNTER})
    deploy(cluster, directory)
    describe = describe_cluster(cluster, "keep")
    cluster_id = cluster.show()["id"]
    before = until_sync(lambda: _running(cluster, "keep"), timeout=60, what="the zone", describe=describe)
    pod = before["pods"][0]
    until_sync(lambda: _count(pod, 0) is not None, timeout=60, what="the node's route", describe=describe)
    assert [_count(pod, 1) for _ in range(3)] == [1, 2, 3]
    pids = [c["pid"] for p in before["pods"] for c in p["containers"]]
    try:
        _kill_controller(cluster)
        # No controller: the pod answers on its own address, its memory intact.
        assert _count(pod, 1) == 4
        cluster.start()  # as the CLI does when it finds no controller
        after = until_sync(lambda: _running(cluster, "keep"), timeout=60, what="the zone adopted", describe=describe)
        assert [c["pid"] for p in after["pods"] for c in p["containers"]] == pids  # nothing restarted
        assert all(c["restarts"] == 0 for p in after["pods"] for c in p["containers"])
        assert after["pods"][0]["address"] == pod["address"] and after["pods"][0]["namespace"] == pod["namespace"]
        assert _count(pod, 1) == 5  # the same process, its count kept
        assert [z["state"] for z in cluster.list_zones() if z["zone"] == "keep"] == ["running"]
    finally:
        status = cluster.zone_status("keep")
        assert cluster.delete_zone("keep") == {"zone": "keep", "deleted": True}
    # Deleting the adopted zone leaves nothing: no process, namespace, rule, cgroup or file.
    assert not [p for p in _processes(status) if _alive(p)]
    assert not (cluster.home / "zones" / "keep").exists()
    if IS_ROOT:
        listed = subprocess.run(["ip", "netns", "list"], capture_output=True, text=True).stdout
        assert pod["namespace"] not in listed
        rules = subprocess.run(["nft", "list", "ruleset"], capture_output=True, text=True).stdout
        assert "zone_keep" not in rules
        for hierarchy in ("", "cpu/", "memory/"):  # cgroup v2, or v1's cpu and memory hierarchies
            assert not list(Path("/sys/fs/cgroup").glob(f"{hierarchy}autonomy-{cluster_id[:8]}/keep-*"))


def test_a_container_that_crashes_after_adoption_is_restarted_by_its_shim(cluster, tmp_path):
    directory = write_zone(tmp_path / "crash", ZONE.format(name="crash"), images={"main": COUNTER})
    deploy(cluster, directory)
    describe = describe_cluster(cluster, "crash")
    try:
        before = until_sync(lambda: _running(cluster, "crash"), timeout=60, what="the zone", describe=describe)
        _kill_controller(cluster)
        cluster.start()
        adopted = until_sync(lambda: _running(cluster, "crash"), timeout=60, what="the zone adopted",
                             describe=describe)
        container = adopted["pods"][0]["containers"][0]
        assert container["pid"] == before["pods"][0]["containers"][0]["pid"]
        os.killpg(container["pid"], signal.SIGKILL)

        def restarted():
            status = _running(cluster, "crash")
            c = status and status["pods"][0]["containers"][0]
            return c and c["pid"] not in (None, container["pid"]) and c["restarts"] == 1 and status
        status = until_sync(restarted, timeout=60, what="the shim to restart the container", describe=describe)
        assert status["pods"][0]["containers"][0]["shim_pid"] == container["shim_pid"]
        pod = status["pods"][0]
        until_sync(lambda: _count(pod, 1) is not None, timeout=60, what="the restarted node", describe=describe)
    finally:
        cluster.delete_zone("crash")


DOCKER = pytest.mark.skipif(not IS_ROOT or not Path("/etc/debian_version").exists() or not shutil.which("docker"),
                            reason="needs root on Debian (scripts/system-deps installs and starts Docker there)")


@pytest.fixture(scope="module")
def docker_cluster(make_cluster):  # noqa: F811
    from autonomy.images import build_base_image

    build_base_image()  # reused when it is there (it is built once per source of autonomy)
    return make_cluster("namespace", runtime="docker")


@DOCKER
@pytest.mark.timeout(900)  # the base image is built first when autonomy's source changed
def test_a_killed_controller_leaves_docker_containers_running_and_the_next_one_adopts_them(docker_cluster,
                                                                                           tmp_path):
    cluster = docker_cluster
    directory = write_zone(tmp_path / "dock", ZONE.format(name="dock"), images={"main": COUNTER})
    deploy(cluster, directory)
    describe = describe_cluster(cluster, "dock")
    before = until_sync(lambda: _running(cluster, "dock"), timeout=60, what="the zone", describe=describe)
    pod = before["pods"][0]
    until_sync(lambda: _count(pod, 0) is not None, timeout=60, what="the node's route", describe=describe)
    assert [_count(pod, 1) for _ in range(2)] == [1, 2]
    ids = [c["id"] for p in before["pods"] for c in p["containers"]]
    try:
        _kill_controller(cluster)
        assert _count(pod, 1) == 3  # no controller: the container answers, its memory intact
        cluster.start()
        after = until_sync(lambda: _running(cluster, "dock"), timeout=120, what="the zone adopted",
                           describe=describe)
        assert [c["id"] for p in after["pods"] for c in p["containers"]] == ids  # not recreated
        assert after["pods"][0]["address"] == pod["address"]
        assert _count(pod, 1) == 4
    finally:
        assert cluster.delete_zone("dock") == {"zone": "dock", "deleted": True}
    mine = [f"label=computer.autonomy.cluster={cluster.show()['id']}", "label=computer.autonomy.zone=dock"]
    left = subprocess.run(["docker", "ps", "-aq", "--filter", mine[0], "--filter", mine[1]], capture_output=True,
                          text=True).stdout.split()
    assert left == []
