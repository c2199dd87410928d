"""The Docker runtime of the local cluster (DockerDeployer) against a real Docker Engine and NATS:
pods as a pause container plus hardened containers built from the zone's Dockerfiles."""

from __future__ import annotations

import asyncio
import ipaddress
import os
import subprocess
import time
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from autonomy.cluster.deployer import DeployerSettings
from autonomy.cluster.docker import DockerBackend, DockerDeployer
from autonomy.cluster.docker.pod import LABEL
from autonomy.cluster.state import ClusterState
from autonomy.cluster.zone_uid import zone_uid
from autonomy.errors import ClusterError
from autonomy.nodes.discovery import Zone
from autonomy.zones.loading import load_zone
from tests.transport.fabric import Fabric

pytestmark = [
    pytest.mark.slow,
    pytest.mark.timeout(900),  # the base image is built first when autonomy's source changed
    pytest.mark.skipif(os.geteuid() != 0 or not Path("/etc/debian_version").exists(),
                       reason="needs root on Debian (scripts/system-deps installs and starts Docker there)"),
]

ZONE = "dock"
SPEC = f"""
name: {ZONE}
pods:
  - name: main-pod
    public: true
    containers:
      - name: main
        image: main
        env:
          GREETING: hello
  - name: runner-pod
    clones: 2
    containers:
      - name: runner
        image: main
"""
MAIN = '''
import os

from autonomy import Node


class Echo:
    async def handle_message(self, context, message):
        await context.reply(f"{os.environ['GREETING']} {message} from {os.environ['NODE']}")


async def main(node):
    await node.start_worker("echo", Echo())


Node.start(main)
'''
PROBE = '''
import os, pathlib
checks = {"uid": os.getuid()}
for path in ("/app/x", "/tmp/x", "/usr/x"):
    try:
        pathlib.Path(path).write_text("x")
        checks[path] = "written"
    except OSError as exc:
        checks[path] = type(exc).__name__
checks["credentials"] = len(open(os.environ["AUTONOMY_FABRIC_CREDENTIALS"]).read()) > 0
print(checks)
'''


def _zone_dir(tmp_path: Path, main: str = MAIN) -> Path:
    folder = tmp_path / "zone"
    image = folder / "images" / "main"
    image.mkdir(parents=True)
    (folder / "autonomy.yaml").write_text(SPEC)
    (image / "Dockerfile").write_text('FROM ghcr.io/build-trust/autonomy-python\nCOPY . .\n'
                                      'ENTRYPOINT ["python", "main.py"]\n')
    (image / "main.py").write_text(main)
    return folder


@pytest.fixture
async def deployer(fabric: Fabric, tmp_path: Path) -> AsyncIterator[DockerDeployer]:
    state = ClusterState(tmp_path / "state.db")
    deployer = DockerDeployer(tmp_path / "home", fabric.a.cluster, state, fabric_url=fabric.server.url,
                              credentials_file=fabric.file_a,
                              public_url_template="http://{cluster}-{zone}.localhost:1/")
    try:
        yield deployer
    finally:
        await deployer.stop()
        left = await asyncio.to_thread(deployer.client.containers.list, all=True,
                                       filters={"label": f"{LABEL}.cluster={fabric.a.cluster}"})
        for image in await asyncio.to_thread(deployer.client.images.list, f"autonomy-local/{fabric.a.cluster[:8]}-*/*"):
            await asyncio.to_thread(deployer.client.images.remove, image.id, force=True)
        deployer.client.close()
        state.close()
        assert not left


async def test_a_zone_runs_as_hardened_containers_whose_nodes_join_and_answer(deployer: DockerDeployer,
                                                                            fabric: Fabric, tmp_path: Path) -> None:
    steps: list[tuple[str, str]] = []
    result = await deployer.deploy(load_zone(_zone_dir(tmp_path)), {}, _zone_dir(tmp_path / "b"),
                                   lambda step, detail: steps.append((step, detail)))
    names = [n for pod in result["pods"] for n in pod["nodes"]]
    assert len(names) == 3 and result["url"] == f"http://{fabric.a.cluster}-{ZONE}.localhost:1/"
    assert ("ready", steps[-1][1]) == steps[-1]

    probe = await fabric.node("probe", zone=ZONE)
    try:
        deadline = time.monotonic() + 60
        while set(names) - {n.name for n in await Zone.nodes(probe)}:
            assert time.monotonic() < deadline, "the containers' nodes did not join the zone"
            await asyncio.sleep(0.2)
        main = await Zone.node(probe, "main-pod")
        assert main is not None  # its container's env (GREETING) reaches the node
        assert await main.send_and_receive("echo", "ping", timeout=30) == f"hello ping from {main.name}"
    finally:
        await probe.stop()

    status = deployer.status(ZONE)
    assert status["runtime"] == "docker"
    assert [(p["pod"], p["clone"]) for p in status["pods"]] == [("main-pod", 0), ("runner-pod", 0), ("runner-pod", 1)]
    assert all(c["state"] == "running" and c["restarts"] == 0 for p in status["pods"] for c in p["containers"])

    main = deployer.client.containers.get(f"autonomy-{fabric.a.cluster[:8]}-{ZONE}-main-pod-0-main")
    pause = deployer.client.containers.get(f"autonomy-{fabric.a.cluster[:8]}-{ZONE}-main-pod-0-pause")
    host = main.attrs["HostConfig"]
    uid = zone_uid(fabric.a.cluster, ZONE)  # the zone's own, as under the process runtime
    assert main.attrs["Config"]["User"] == f"{uid}:{uid}" and status["uid"] == uid
    # its own writable layer (the app directory is the zone's), the pause container read-only as a whole
    assert (host["CapDrop"], host["ReadonlyRootfs"], host["Init"]) == (["ALL"], False, True)
    assert pause.attrs["HostConfig"]["ReadonlyRootfs"] is True and status["app_dir"] == "private, writable"
    credentials = (deployer.zone_dir(ZONE) / "fabric.json").stat()
    assert (credentials.st_uid, credentials.st_mode & 0o777) == (uid, 0o400)
    assert "no-new-privileges" in host["SecurityOpt"]
    assert host["NetworkMode"] == f"container:{pause.id}"
    assert (host["CpuQuota"], host["CpuPeriod"], host["Memory"]) == (25_000, 100_000, 256 * 2**20)
    code, out = main.exec_run(["python", "-c", PROBE])
    assert code == 0, out
    assert out.decode().strip() == (f"{{'uid': {uid}, '/app/x': 'written', '/tmp/x': 'written', "
                                    "'/usr/x': 'PermissionError', 'credentials': True}")

    # two clones of a pod do not see each other's writes
    runners = [deployer.client.containers.get(f"autonomy-{fabric.a.cluster[:8]}-{ZONE}-runner-pod-{i}-runner")
               for i in (0, 1)]
    code, out = runners[0].exec_run(["python", "-c", "open('/app/mine', 'w').write('clone 0')"])
    assert code == 0, out
    code, out = runners[1].exec_run(["python", "-c", "import os; print(os.path.exists('/app/mine'))"])
    assert (code, out.decode().strip()) == (0, "False")
    code, out = runners[0].exec_run(["cat", "/app/mine"])
    assert (code, out.decode()) == (0, "clone 0")

    assert "hello" not in str(deployer.log_files(ZONE, "main-pod", None))  # paths, not contents
    assert (await deployer.delete(ZONE))["deleted"] is True
    assert not deployer.client.containers.list(all=True, filters={"label": f"{LABEL}.zone={ZONE}"})


async def test_a_container_that_crashes_fails_the_deploy_with_its_log(deployer: DockerDeployer,
                                                                     tmp_path: Path) -> None:
    crashing = "raise SystemExit('the app refuses to start: no config')\n"
    with pytest.raises(ClusterError) as caught:
        await deployer.deploy(load_zone(_zone_dir(tmp_path, crashing)), {}, _zone_dir(tmp_path / "b", crashing),
                              lambda step, detail: None)
    assert "exited (code 1) while the zone was starting" in str(caught.value)
    assert "the app refuses to start: no config" in str(caught.value)


def _ip(*args: str) -> str:
    return subprocess.run(["ip", *args], capture_output=True, text=True).stdout


def _nft(*args: str) -> str:
    return subprocess.run(["nft", *args], capture_output=True, text=True).stdout


async def test_the_backend_removes_what_a_killed_controller_left_and_makes_the_deployer(
        fabric: Fabric, tmp_path: Path) -> None:
    from autonomy.images import BASE_TAGS, connect

    engine = connect()
    leftover = engine.containers.run(BASE_TAGS[0], ["sleep", "infinity"], detach=True, network_mode="none",
                                     labels={f"{LABEL}.cluster": fabric.b.cluster, f"{LABEL}.zone": "old"})
    stale = engine.networks.create(f"autonomy-{fabric.b.cluster[:8]}-old", driver="bridge",
                                   labels={f"{LABEL}.cluster": fabric.b.cluster, f"{LABEL}.zone": "old"})
    state = ClusterState(tmp_path / "state.db")
    backend = DockerBackend(tmp_path / "home", fabric.b.cluster, state)
    try:
        address = await backend.prepare()  # as root: the cluster's service address, on a bridge of its own
        assert ipaddress.ip_address(address) in ipaddress.ip_network("10.224.0.0/12")
        assert f"inet {address}/32" in _ip("-o", "-4", "addr", "show", f"ad{fabric.b.cluster[:8]}")
        assert not engine.containers.list(all=True, filters={"id": leftover.id})
        assert not engine.networks.list(filters={"id": stale.id})  # a killed controller's zone network
        deployer = await backend.create_deployer(DeployerSettings(fabric.server.url, fabric.file_b,
                                                                  "http://{zone}.localhost/"))
        assert isinstance(deployer, DockerDeployer) and deployer.fabric_url == fabric.server.url
        assert deployer.network == "docker-zone" and backend.isolation.endswith("a bridge per zone, nftables")
        assert backend.stored_secrets("none") == {}
    finally:
        await backend.close()
        assert f"ad{fabric.b.cluster[:8]}" not in _ip("-o", "link")  # the service address is gone with it
        assert f"autonomy_{fabric.b.cluster[:8]}" not in _nft("list", "tables")
        for container in engine.containers.list(all=True, filters={"id": leftover.id}):
            container.remove(force=True)
        for network in engine.networks.list(filters={"id": stale.id}):
            network.remove()
        engine.close()
        state.close()
