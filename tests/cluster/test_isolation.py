"""Containers that contain: an attacker zone on a real local cluster tries every escape of issue 8.

Two clusters on this machine; in the first a private ``victim`` zone (a secret in its environment, one
node opted in to cluster-wide access, one not) and the ``attack`` zone, in the second one more zone.
The attacker's container probes from inside (tests/cluster/attacker.py) and every escape must fail with
the exact refusal; the lines of docs/security.md name these tests. Every test runs under both runtimes:
``process`` (sandboxed processes in network namespaces) and ``docker`` (Docker Engine containers, a
bridge network per zone).
"""

from __future__ import annotations

import shutil
import socket
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from autonomy.cluster.local.sandbox import sandbox_available
from tests.cluster.apps import WEB, write_zone
from tests.cluster.attacker import ATTACK_ZONE, ATTACKER, VAULT, VICTIM_ZONE
from tests.cluster.conftest import IS_ROOT, deploy

pytestmark = [
    pytest.mark.slow,
    pytest.mark.timeout(900),  # the Docker runtime builds the base image first when autonomy's source changed
    pytest.mark.skipif(not IS_ROOT, reason="the sandbox, network namespaces and zone networks need root"),
    pytest.mark.skipif(shutil.which("nft") is None, reason="nftables is not installed (scripts/system-deps)"),
]
RUNTIMES = [
    pytest.param("process", marks=pytest.mark.skipif(not sandbox_available()[0],
                                                     reason=f"no sandbox here: {sandbox_available()[1]}")),
    pytest.param("docker", marks=pytest.mark.skipif(
        not Path("/etc/debian_version").exists() or shutil.which("dockerd") is None,
        reason="needs Debian's docker.io (scripts/system-deps installs and starts it)")),
]

SECRET = "victim-s3cret-value"
OTHER_ZONE = """
    name: other
    pods:
      - name: main-pod
        containers:
          - name: web
            image: web
"""


def _host(url: str) -> tuple[str, int]:
    hostport = url.split("://", 1)[1].rstrip("/")
    host, port = hostport.rsplit(":", 1)
    return host, int(port)


def _environ(pid: int) -> dict[str, str]:
    raw = Path(f"/proc/{pid}/environ").read_bytes().split(b"\0")
    return dict(item.decode().split("=", 1) for item in raw if b"=" in item)


def _zone_key(world: dict[str, Any], container: dict[str, Any]) -> str:
    """The model gateway key in a container's environment (what a leak would hand over)."""
    name = "AUTONOMY_EXTERNAL_APIS_GATEWAY_API_KEY"
    if world["runtime"] == "process":
        return _environ(container["pid"])[name]
    import docker

    engine = docker.from_env()
    try:
        env = engine.containers.get(container["id"]).attrs["Config"]["Env"]
    finally:
        engine.close()
    return dict(item.split("=", 1) for item in env)[name]


@pytest.fixture(scope="module", params=RUNTIMES)
def world(request, make_cluster, tmp_path_factory) -> Iterator[dict[str, Any]]:
    runtime = request.param
    first, second = make_cluster("namespace", runtime), make_cluster("namespace", runtime)
    try:
        tmp = tmp_path_factory.mktemp(f"isolation-{runtime}")
        deploy(first, write_zone(tmp / "victim", VICTIM_ZONE, {"vault": VAULT}, secrets=f"API_KEY: {SECRET}\n"))
        deploy(first, write_zone(tmp / "attack", ATTACK_ZONE, {"attacker": ATTACKER}))
        deploy(second, write_zone(tmp / "other", OTHER_ZONE, {"web": WEB}))
        yield {"runtime": runtime, "first": first, "second": second, "info": first.show(), "info2": second.show(),
               "victim": first.zone_status("victim"), "attack": first.zone_status("attack"),
               "other": second.zone_status("other")}
    finally:  # the other runtime's clusters do not run beside these
        first.stop()
        second.stop()


@pytest.fixture(scope="module")
def report(world) -> dict[str, Any]:
    first, info, info2 = world["first"], world["info"], world["info2"]
    home, home2 = first.home, world["second"].home
    victim = {p["pod"]: p for p in world["victim"]["pods"]}
    stolen = _zone_key(world, victim["main-pod"]["containers"][0])
    nats, gateway = _host(info["fabric_url"]), _host(info["gateway_url"])
    other_pod = world["other"]["pods"][0]["address"]
    listener = socket.socket()
    listener.bind(("0.0.0.0", 0))
    listener.listen()
    try:
        targets = {
            "paths": [str(p) for p in (
                home / "zones/victim/secrets.json", home / "zones/victim/fabric.json", home / "fabric/node.json",
                home / "fabric/credentials/ca.key", home / "fabric/credentials/server.key", home / "state.db",
                home / "zones/victim/run/main-pod-0/main/main.py", home / "zones/victim/source/images/vault/main.py",
                home2 / "fabric/credentials/ca.key", Path("/etc/shadow"), Path("/root/.bash_history"))],
            "secret": SECRET,
            "controller_socket": str(home / "controller.sock"),
            "gateways_socket": str(home / "gateways.sock"),
            "tcp": [(victim["main-pod"]["address"], 8000), (victim["hidden-pod"]["address"], 8000),
                    (nats[0], listener.getsockname()[1]), (other_pod, 8000), (_host(info2["fabric_url"])),
                    (_host(info2["gateway_url"])), nats, gateway],
            "gateway": info["gateway_url"], "stolen_key": stolen,
            "nodes": [(victim["main-pod"]["node"], "public"), (victim["hidden-pod"]["node"], "secret")],
            "subjects": [f"autonomy.{info['id']}.z.victim.>", f"autonomy.{info['id']}.node.>",
                         f"autonomy.{info['id']}.cluster.node.{victim['main-pod']['node']}"],
        }
        attacker = world["attack"]["pods"][0]["address"]
        response = httpx.post(f"http://{attacker}:8000/probe", json=targets, timeout=150)
    finally:
        listener.close()
    assert response.status_code == 200, response.text
    return {"out": response.json(), "targets": targets}


def test_zone_status_says_the_zone_runs_sandboxed_as_its_own_uid(world):
    for status in (world["victim"], world["attack"]):
        assert status["uid"] >= 200_000
        if world["runtime"] == "docker":
            assert status["runtime"] == "docker" and status["network"] == "docker-zone"
            assert status["isolation"].endswith("network: a bridge per zone, nftables")
            assert status["app_dir"] == "private, writable"
        else:
            assert status["isolation"] == "sandbox"
    assert world["victim"]["uid"] != world["attack"]["uid"]


def test_each_zones_own_files_belong_to_its_own_uid_only(world):
    """The host files a zone's containers use are its uid's, not another zone's: under Docker the one file
    a container sees (its zone's credentials, 0400: another zone's uid could not read it even if it reached
    it); under the process runtime the per-instance app copies (the credentials come through a pipe)."""
    home = world["first"].home
    for zone in ("victim", "attack"):
        uid = world[zone]["uid"]
        if world["runtime"] == "docker":
            info = (home / "zones" / zone / "fabric.json").stat()
            assert (info.st_uid, info.st_gid, info.st_mode & 0o777) == (uid, uid, 0o400)
        else:
            info = (home / "zones" / zone / "run" / "main-pod-0" / "main").stat()
            assert (info.st_uid, info.st_gid) == (uid, uid)


def test_the_container_runs_unprivileged_with_no_capabilities(report, world):
    status = report["out"]["status"]
    uid = world["attack"]["uid"]  # its zone's own, under both runtimes
    assert status["Uid"].split()[:2] == [str(uid)] * 2
    assert status["CapEff"] == status["CapBnd"] == "0000000000000000"
    assert status["NoNewPrivs"] == "1"


def test_the_syscall_filter_refuses_new_namespaces(report):
    """No way back to capabilities through a nested user namespace (or any new namespace)."""
    refused = "OK exit 1: unshare: unshare failed: Operation not permitted"
    assert report["out"]["nested_userns"] == refused
    assert report["out"]["mount_ns"] == refused


def test_no_other_zones_file_nor_the_cluster_keys_are_visible(report, world):
    files = report["out"]["files"]
    if world["runtime"] == "docker":  # the image's own /etc/shadow and /root exist, root's only
        image_own = {"/etc/shadow", "/root/.bash_history"}
        assert {k: v for k, v in files.items() if k in image_own and not v.startswith(
            ("FileNotFoundError", "PermissionError"))} == {}
        files = {k: v for k, v in files.items() if k not in image_own}
    assert files and {k: v for k, v in files.items() if not v.startswith("FileNotFoundError")} == {}


def test_the_system_is_read_only_and_the_own_app_directory_writable(report, world):
    assert report["out"]["own_app_writable"] == "OK 1"
    home = world["first"].home
    assert not (home / "zones/attack/source/images/attacker/written-by-attacker").exists()
    if world["runtime"] == "docker":  # the container's own layer: the image's files are root's, the app dir the zone's
        assert report["out"]["usr_writable"] == "PermissionError: Permission denied"
        return
    assert report["out"]["usr_writable"] == "OSError: Read-only file system"
    # the write went to the instance's copy, not to the zone's stored source
    assert (home / "zones/attack/run/main-pod-0/main/written-by-attacker").exists()


def test_no_other_process_and_no_other_environment_is_visible(report):
    environ = report["out"]["environ"]
    assert environ["with_secret"] == []
    assert len(environ["pids"]) <= 3, environ  # the sandbox's init and the app (and its children)


def test_the_controller_socket_is_out_of_reach(report):
    assert report["out"]["controller_socket"].startswith("FileNotFoundError")
    assert report["out"]["gateways_socket"].startswith("FileNotFoundError")


def test_only_the_clusters_nats_and_model_gateway_ports_are_reachable(report):
    tcp = report["out"]["tcp"]
    allowed = {f"{h}:{p}" for h, p in report["targets"]["tcp"][-2:]}
    assert {k: v for k, v in tcp.items() if k in allowed} == dict.fromkeys(allowed, "OK connected")
    blocked = {k: v for k, v in tcp.items() if k not in allowed}
    # other zones' pods (a private one too), a host port, the second cluster's pod, NATS and gateway
    assert len(blocked) == 6 and all(v == "TimeoutError: timed out" for v in blocked.values()), blocked


def test_a_stolen_zone_key_is_useless_at_the_model_gateway(report):
    assert report["out"]["gateway_stolen_key"].startswith("OK 403 ")
    assert "This zone key is bound to its zone's pods" in report["out"]["gateway_stolen_key"]
    assert report["out"]["gateway_own_key"] == "OK 200"


def test_the_fabric_lists_only_the_own_zone_and_opted_in_nodes(report, world):
    assert report["out"]["zone_nodes"] == [world["attack"]["pods"][0]["node"]]
    victim = {p["pod"]: p["node"] for p in world["victim"]["pods"]}
    assert report["out"]["cluster_nodes"] == [victim["main-pod"]]


def test_another_zones_nodes_refuse_messages_and_shipped_workers(report, world):
    victim = {p["pod"]: p["node"] for p in world["victim"]["pods"]}
    fabric = report["out"]["fabric"]
    hidden, opened = fabric[victim["hidden-pod"]], fabric[victim["main-pod"]]
    assert hidden["send"].startswith("AccessDenied: ") and "did not opt in" in hidden["send"]
    assert hidden["ship"].startswith("AccessDenied: ") and "did not opt in" in hidden["ship"]
    assert opened["send"] == "OK public answer"  # it opted in: its workers answer every zone
    assert opened["ship"].startswith("AccessDenied: ") and "answers only nodes of its own zone" in opened["ship"]


def test_raw_nats_on_another_zones_subjects_is_a_permissions_violation(report):
    errors = report["out"]["nats"]
    subjects = report["targets"]["subjects"]
    for subject in subjects:
        assert any(f'permissions violation for subscription to "{subject}"' in e for e in errors), errors
    assert any("permissions violation for publish" in e for e in errors), errors


def test_pods_of_one_zone_reach_each_other(world):
    """The rules keep zones apart, not a zone's own pods: the victim's main pod reaches its hidden pod."""
    victim = {p["pod"]: p for p in world["victim"]["pods"]}
    target = victim["hidden-pod"]["address"]
    if world["runtime"] == "process":
        probe = ["ip", "netns", "exec", victim["main-pod"]["namespace"], "timeout", "5", "bash", "-c",
                 f"echo > /dev/tcp/{target}/8000"]
        assert subprocess.run(probe, capture_output=True).returncode == 0
        return
    import docker

    engine = docker.from_env()
    try:
        main = engine.containers.get(victim["main-pod"]["containers"][0]["id"])
        code, out = main.exec_run(["python", "-c", f"import socket; socket.create_connection(({target!r}, 8000), 5)"])
    finally:
        engine.close()
    assert code == 0, out


def test_only_root_on_the_host_opens_connections_to_pods(world):
    """A private zone is not reachable by the host's unprivileged users (the public gateway runs as root)."""
    address = {p["pod"]: p["address"] for p in world["victim"]["pods"]}["main-pod"]
    probe = ["timeout", "5", "bash", "-c", f"echo > /dev/tcp/{address}/8000"]
    assert subprocess.run(probe, capture_output=True).returncode == 0  # root: the controller's side
    nobody = ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", *probe]
    assert subprocess.run(nobody, capture_output=True).returncode == 124  # dropped: timed out


def test_rules_follow_the_pods_and_leave_nothing_behind(world):
    """Last in this module: it deletes a zone and stops the second cluster."""
    table = f"autonomy_{world['info']['id'][:8]}"
    if world["runtime"] == "docker":
        _docker_rules_follow_the_zones(world, table)
        return

    def bridge_rules() -> str:
        return subprocess.run(["nft", "list", "table", "bridge", table], capture_output=True, text=True).stdout

    veth = _veth(world["attack"]["pods"][0]["namespace"])
    assert veth in bridge_rules() and "chain zone_attack" in bridge_rules()
    world["first"].delete_zone("attack")
    assert veth not in bridge_rules() and "chain zone_attack" not in bridge_rules()
    assert "chain zone_victim" in bridge_rules()
    second = f"autonomy_{world['info2']['id'][:8]}"
    assert second in subprocess.run(["nft", "list", "tables"], capture_output=True, text=True).stdout
    world["second"].stop()
    assert second not in subprocess.run(["nft", "list", "tables"], capture_output=True, text=True).stdout


def _veth(namespace: str) -> str:
    import hashlib

    return "av" + hashlib.sha1(namespace.encode()).hexdigest()[:10]


def _docker_rules_follow_the_zones(world: dict[str, Any], table: str) -> None:
    """Docker runtime: a zone's bridge is in the rules while the zone exists; its network goes with it."""
    import docker

    def rules() -> str:
        return subprocess.run(["nft", "list", "table", "inet", table], capture_output=True, text=True).stdout

    def networks(cluster: str) -> list[str]:
        return sorted(n.name for n in engine.networks.list(filters={"label": f"computer.autonomy.cluster={cluster}"}))

    engine = docker.from_env()
    try:
        first, second = world["info"]["id"], world["info2"]["id"]
        attack = engine.networks.get(f"autonomy-{first[:8]}-attack").attrs["Options"]["com.docker.network.bridge.name"]
        victim = engine.networks.get(f"autonomy-{first[:8]}-victim").attrs["Options"]["com.docker.network.bridge.name"]
        assert f'"{attack}"' in rules() and f'"{victim}"' in rules()
        world["first"].delete_zone("attack")
        assert f'"{attack}"' not in rules() and f'"{victim}"' in rules()
        assert networks(first) == [f"autonomy-{first[:8]}-victim"]
        second_table = f"autonomy_{second[:8]}"
        assert second_table in subprocess.run(["nft", "list", "tables"], capture_output=True, text=True).stdout
        world["second"].stop()
        assert second_table not in subprocess.run(["nft", "list", "tables"], capture_output=True, text=True).stdout
        assert networks(second) == []
        links = subprocess.run(["ip", "-o", "link"], capture_output=True, text=True).stdout
        assert f"ad{second[:8]}" not in links and f"ad{first[:8]}" in links
    finally:
        engine.close()
