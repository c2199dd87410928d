"""Zones on the local cluster with network namespaces: real controller, processes, namespaces, NATS."""

from __future__ import annotations

import os
import signal
import subprocess
from pathlib import Path

import httpx
import pytest

from autonomy.errors import ClusterError
from tests.cluster.apps import write_zone
from tests.cluster.conftest import deploy, describe_cluster, needs_root
from tests.support.until import until_sync

pytestmark = needs_root

ZONE = """
    name: shop
    pods:
      - name: main-pod
        public: true
        containers:
          - name: web
            image: web
            env:
              GREETING: hello
              API_KEY: secrets.API_KEY
          - name: side
            image: side
      - name: runner-pod
        clones: 2
        containers:
          - name: web
            image: web
"""


@pytest.fixture(scope="module")
def cluster(make_cluster):
    return make_cluster("namespace")


@pytest.fixture(scope="module")
def shop(cluster, tmp_path_factory):
    directory = write_zone(tmp_path_factory.mktemp("shop"), ZONE, secrets="API_KEY: s3cret\n")
    result, events = deploy(cluster, directory)
    return directory, result, events


def _gateway(cluster, zone: str) -> tuple[str, dict[str, str]]:
    info = cluster.show()
    return f"http://127.0.0.1:{info['public_port']}", {"Host": f"{info['id']}-{zone}.localhost:{info['public_port']}"}


def test_deploy_streams_progress_and_returns_the_public_url(cluster, shop):
    _, result, events = shop
    info = cluster.show()
    assert result["zone"] == "shop"
    assert result["url"] == f"http://{info['id']}-shop.localhost:{info['public_port']}/"
    assert {p["pod"]: p["clones"] for p in result["pods"]} == {"main-pod": 1, "runner-pod": 2}
    steps = [e["step"] for e in events if e["event"] == "progress"]
    assert "copy" in steps and "node" in steps and steps[-1] == "ready"
    assert [z["zone"] for z in cluster.list_zones()] == ["shop"]


def test_every_clone_listens_on_8000_in_its_own_namespace_with_the_platform_env(cluster, shop):
    status = cluster.zone_status("shop")
    info = cluster.show()
    assert status["network"] == "namespace"
    assert [(p["pod"], p["clone"]) for p in status["pods"]] == [("main-pod", 0), ("runner-pod", 0),
                                                                 ("runner-pod", 1)]
    namespaces = subprocess.run(["ip", "netns", "list"], capture_output=True, text=True).stdout
    for pod in status["pods"]:
        assert pod["port"] == 8000 and pod["namespace"] in namespaces
        env = httpx.get(f"http://{pod['address']}:8000/", timeout=5).json()["env"]
        assert env["NODE"] == pod["node"]
        assert env["CLUSTER"] == info["id"] and env["ZONE"] == "shop" and env["DEFAULT_PORT_HTTP"] == "8000"
        assert env["AUTONOMY_FABRIC_URL"] == info["fabric_url"]
        if status["isolation"] == "sandbox":  # the file is piped into the sandbox, never a host path
            assert env["AUTONOMY_FABRIC_CREDENTIALS"] == "/run/autonomy/node.json"
        else:
            assert Path(env["AUTONOMY_FABRIC_CREDENTIALS"]).is_file()
    names = [p["node"] for p in status["pods"]]
    assert names == [f"{info['id']}-shop-main-pod", f"{info['id']}-shop-runner-pod-0",
                     f"{info['id']}-shop-runner-pod-1"]
    main = status["pods"][0]
    assert httpx.get(f"http://{main['address']}:8000/", timeout=5).json()["env"]["API_KEY"] == "s3cret"


def test_each_pod_instance_has_its_own_private_data_dir_under_the_zone(cluster, shop):
    dirs = [httpx.get(f"http://{p['address']}:8000/", timeout=5).json()["env"]["AUTONOMY_DATA_DIR"]
            for p in cluster.zone_status("shop")["pods"]]
    zone_data = cluster.home / "zones" / "shop" / "data"
    assert dirs == [str(zone_data / name) for name in ("main-pod-0", "runner-pod-0", "runner-pod-1")]
    assert all(Path(d).is_dir() and Path(d).stat().st_mode & 0o777 == 0o700 for d in dirs)
    assert zone_data.stat().st_mode & 0o777 == 0o700


def test_containers_of_a_pod_share_localhost(cluster, shop):
    main = cluster.zone_status("shop")["pods"][0]
    answer = httpx.get(f"http://{main['address']}:8000/peer?port=7000", timeout=5).json()
    assert answer["peer"] == f"side of {main['node']}"


def test_secrets_stay_out_of_the_state_and_listings(cluster, shop):
    home = cluster.home
    assert b"s3cret" not in (home / "state.db").read_bytes()
    assert "s3cret" not in str(cluster.zone_status("shop")) + str(cluster.list_zones())
    secrets_file = home / "zones" / "shop" / "secrets.json"
    assert secrets_file.stat().st_mode & 0o777 == 0o600


def test_limits_follow_the_pod_size(cluster, shop):
    limits = cluster.zone_status("shop")["pods"][0]["limits"]
    assert limits["size"] == "regular" and limits["cpu"] == 0.25 and limits["memory_bytes"] == 256 * 2**20
    assert isinstance(limits["enforced"], bool) and limits["mechanism"]


def test_limits_are_enforced_on_every_process_of_the_pod_where_cgroups_allow(cluster, shop):
    pod = cluster.zone_status("shop")["pods"][0]
    if not pod["limits"]["enforced"]:
        pytest.skip(f"cgroups not writable here: {pod['limits']['mechanism']}")
    groups = Path(f"/proc/{pod['containers'][0]['pid']}/cgroup").read_text()
    leaf = f"autonomy-{cluster.show()['id'][:8]}/shop-main-pod-0"
    assert leaf in groups
    if pod["limits"]["mechanism"] == "cgroup1":
        limit = Path(f"/sys/fs/cgroup/memory/{leaf}/memory.limit_in_bytes").read_text()
        assert int(limit) == 256 * 2**20
        assert Path(f"/sys/fs/cgroup/cpu/{leaf}/cpu.cfs_quota_us").read_text().strip() == "25000"


def test_public_gateway_routes_by_host_to_the_main_pod(cluster, shop):
    base, headers = _gateway(cluster, "shop")
    response = httpx.get(base + "/", headers=headers, timeout=5)
    assert response.status_code == 200, (response.status_code, response.text)
    answer = response.json()
    assert answer["env"]["NODE"].endswith("-shop-main-pod")
    assert answer["headers"]["X-Forwarded-Proto"] == "http"
    posted = httpx.post(base + "/upload", headers=headers, content=b"x" * 1_000_000, timeout=10).json()
    assert posted == {"received": 1_000_000}
    too_big = httpx.post(base + "/upload", headers=headers, content=b"x" * 3_000_000, timeout=10)
    assert too_big.status_code == 413  # over AUTONOMY_MAX_BODY_BYTES (1 MiB) of the public gateway
    unknown = httpx.get(base + "/", headers={"Host": "example.com"}, timeout=5)
    assert unknown.status_code == 404 and "No zone is served" in unknown.text
    missing = httpx.get(base + "/", headers={"Host": f"{cluster.show()['id']}-nope.localhost"}, timeout=5)
    assert missing.status_code == 404 and "nope" in missing.text


def test_public_gateway_streams_responses_without_buffering(cluster, shop):
    base, headers = _gateway(cluster, "shop")
    with httpx.Client(timeout=30) as http, http.stream("GET", base + "/stream", headers=headers) as response:
        chunks = response.iter_raw()
        # The pod holds its last chunk until /release: the first arrives only if nothing buffers.
        assert next(chunks) == b"first\n"
        httpx.get(base + "/release", headers=headers, timeout=5)
        assert b"".join(chunks) == b"last\n"


def test_private_zone_is_not_exposed(cluster, tmp_path):
    directory = write_zone(tmp_path / "priv", """
        name: priv
        pods:
          - name: main-pod
            containers:
              - name: web
                image: web
    """)
    result, _ = deploy(cluster, directory)
    assert result["url"] is None
    base, headers = _gateway(cluster, "priv")
    response = httpx.get(base + "/", headers=headers, timeout=5)
    assert response.status_code == 404 and "private" in response.text
    cluster.delete_zone("priv")


def test_an_mcp_proxy_sidecar_runs_in_the_pod_namespace(cluster, tmp_path):
    directory = write_zone(tmp_path / "tools", """
        name: tools
        pods:
          - name: main-pod
            size: big
            containers:
              - name: web
                image: web
              - name: time
                image: ghcr.io/build-trust/mcp-proxy
                args: ["--sse-port", "8001", "--pass-environment", "--", "mcp-server-time", "--local-timezone", "UTC"]
    """)
    deploy(cluster, directory)
    pod = cluster.zone_status("tools")["pods"][0]
    sidecar = next(c for c in pod["containers"] if c["container"] == "time")
    assert sidecar["node"] is False and sidecar["image"] == "ghcr.io/build-trust/mcp-proxy"
    # mcp-proxy listens on the pod's localhost (its default host), where the node reaches it.
    peer = f"http://{pod['address']}:8000/peer?port=8001&path=/status"
    until_sync(lambda: _answers(peer), what="mcp-proxy on the pod's localhost")
    cluster.delete_zone("tools")


def test_a_killed_container_restarts_and_is_counted(cluster, shop):
    def runner():
        return cluster.zone_status("shop")["pods"][1]["containers"][0]
    before = runner()
    assert before["state"] == "running" and before["restarts"] == 0
    os.kill(before["pid"], signal.SIGKILL)
    after = until_sync(lambda: (c := runner())["restarts"] == 1 and c["state"] == "running" and c["pid"] and c,
                       what="the restart")
    assert after["pid"] != before["pid"]
    address = cluster.zone_status("shop")["pods"][1]["address"]
    until_sync(lambda: _answers(f"http://{address}:8000/"), what="the restarted node")


def test_zone_logs_tail_and_follow(cluster, shop):
    address = cluster.zone_status("shop")["pods"][0]["address"]
    httpx.get(f"http://{address}:8000/logged", timeout=5)
    lines = until_sync(lambda: [x for x in cluster.zone_logs("shop", pod="main-pod", container="web")
                                if "request /logged" in x], what="the log line")
    assert lines
    both = list(cluster.zone_logs("shop", pod="main-pod"))
    assert any(line.startswith("[main-pod-0/web]") for line in both)
    follow = cluster.zone_logs("shop", pod="main-pod", container="web", follow=True, tail=1)
    assert "request /logged" in next(follow)  # the stream is open: what comes next is new
    httpx.get(f"http://{address}:8000/followed", timeout=5)
    assert "request /followed" in next(line for line in follow if "followed" in line)
    follow.close()


def test_unknown_zone_is_refused_with_its_name(cluster):
    with pytest.raises(ClusterError, match="no zone 'ghost'"):
        cluster.zone_status("ghost")
    with pytest.raises(ClusterError, match="no zone 'ghost'"):
        cluster.delete_zone("ghost")


def test_controller_restart_brings_zones_back(cluster, shop):
    kept = cluster.home / "zones" / "shop" / "data" / "main-pod-0" / "conversations.sqlite3"
    kept.write_text("a pod's data")  # the data dir outlives the processes and the redeploy
    cluster.stop()
    assert not (cluster.home / "controller.sock").exists()
    cluster.enroll()
    status = until_sync(lambda: _running(cluster, "shop"), timeout=60, what="the restored zone",
                        describe=describe_cluster(cluster, "shop"))
    assert len(status["pods"]) == 3
    assert kept.read_text() == "a pod's data"
    base, headers = _gateway(cluster, "shop")
    until_sync(lambda: _answers(base + "/", headers), timeout=30, what="the restored public pod")


def test_a_killed_controller_leaves_its_pods_to_the_next_one_which_adopts_them(cluster, shop):
    status = until_sync(lambda: _running(cluster, "shop"), timeout=60, what="the zone",
                        describe=describe_cluster(cluster, "shop"))
    old = [c["pid"] for p in status["pods"] for c in p["containers"]]
    controller = subprocess.run(["pgrep", "-f", f"autonomy.cluster.controller --home {cluster.home}"],
                                capture_output=True, text=True).stdout.split()
    assert len(controller) == 1
    os.kill(int(controller[0]), signal.SIGKILL)
    until_sync(lambda: not Path(f"/proc/{controller[0]}").exists(), what="the controller to die")
    cluster.enroll()
    # The containers' shims kept them running; the new controller adopted them (cluster/local/adoption.py).
    status = until_sync(lambda: _running(cluster, "shop"), timeout=60, what="the restored zone",
                        describe=describe_cluster(cluster, "shop"))
    assert [c["pid"] for p in status["pods"] for c in p["containers"]] == old
    assert not _stale_nats(cluster)


def _stale_nats(cluster):
    config = str(cluster.home / "fabric" / "server" / "nats.conf")
    out = subprocess.run(["pgrep", "-f", config], capture_output=True, text=True).stdout.split()
    return len(out) > 1


def test_delete_leaves_nothing_behind(cluster, shop):
    status = until_sync(lambda: _running(cluster, "shop"), timeout=60, what="the zone",
                        describe=describe_cluster(cluster, "shop"))
    pids = [c["pid"] for p in status["pods"] for c in p["containers"]]
    namespaces = [p["namespace"] for p in status["pods"]]
    assert all(Path(f"/proc/{pid}").exists() for pid in pids)
    assert cluster.delete_zone("shop") == {"zone": "shop", "deleted": True}
    assert not any(Path(f"/proc/{pid}").exists() for pid in pids)
    listed = subprocess.run(["ip", "netns", "list"], capture_output=True, text=True).stdout
    assert not any(ns in listed for ns in namespaces)
    links = subprocess.run(["ip", "-o", "link"], capture_output=True, text=True).stdout
    assert f"master ab{cluster.show()['id'][:8]}" not in links  # no veth left on this cluster's bridge
    assert not (cluster.home / "zones" / "shop").exists()
    assert cluster.list_zones() == []


def _running(cluster, zone):
    try:
        status = cluster.zone_status(zone)
    except ClusterError:
        return None
    return status if status["state"] == "running" else None


def _answers(url, headers=None):
    try:
        return httpx.get(url, headers=headers, timeout=2).status_code == 200
    except httpx.HTTPError:
        return False
