"""Zones on the host network (AUTONOMY_NETWORK=host: the fallback when namespaces are not available)."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest

from autonomy.errors import ClusterError
from autonomy.zones.loading import load_zone
from tests.cluster.apps import write_zone
from tests.cluster.conftest import deploy
from tests.support.until import until_sync

ZONE = """
    name: hosted
    pods:
      - name: main-pod
        public: true
        containers:
          - name: web
            image: web
      - name: runner-pod
        clones: 2
        containers:
          - name: web
            image: web
"""


@pytest.fixture(scope="module")
def cluster(make_cluster):
    return make_cluster("host")


def test_each_clone_gets_its_own_loopback_port(cluster, tmp_path):
    directory = write_zone(tmp_path / "z", ZONE)
    result, _ = deploy(cluster, directory)
    status = cluster.zone_status("hosted")
    assert status["network"] == "host" and cluster.show()["network"] == "host"
    ports = [p["port"] for p in status["pods"]]
    assert len(set(ports)) == 3
    for pod in status["pods"]:
        assert pod["address"] == "127.0.0.1" and pod["namespace"] is None
        env = httpx.get(f"http://127.0.0.1:{pod['port']}/", timeout=5).json()["env"]
        assert env["DEFAULT_PORT_HTTP"] == str(pod["port"]) and env["NODE"] == pod["node"]
    info = cluster.show()
    answer = httpx.get(f"http://127.0.0.1:{info['public_port']}/", timeout=5,
                       headers={"Host": f"{info['id']}-hosted.localhost"}).json()
    assert answer["env"]["NODE"].endswith("-hosted-main-pod")
    pids = [c["pid"] for p in status["pods"] for c in p["containers"]]
    cluster.delete_zone("hosted")
    assert not any(Path(f"/proc/{pid}").exists() for pid in pids)


def test_redeploy_replaces_the_running_zone(cluster, tmp_path):
    directory = write_zone(tmp_path / "z", ZONE.replace("clones: 2", "clones: 1"))
    deploy(cluster, directory)
    old = [c["pid"] for p in cluster.zone_status("hosted")["pods"] for c in p["containers"]]
    (directory / "autonomy.yaml").write_text((directory / "autonomy.yaml").read_text().replace("clones: 1",
                                                                                               "clones: 3"))
    deploy(cluster, directory)
    status = cluster.zone_status("hosted")
    assert [p["clone"] for p in status["pods"] if p["pod"] == "runner-pod"] == [0, 1, 2]
    assert not any(Path(f"/proc/{pid}").exists() for pid in old)
    cluster.delete_zone("hosted")


def test_a_node_that_exits_at_start_fails_the_deploy_with_its_log(cluster, tmp_path):
    directory = write_zone(tmp_path / "z", """
        name: broken
        pods:
          - name: main-pod
            containers:
              - name: web
                image: web
    """, images={"web": "import sys\nprint('missing configuration FOO', flush=True)\nsys.exit(3)\n"})
    with pytest.raises(ClusterError, match="missing configuration FOO"):
        list(cluster.deploy(load_zone(directory), {}, directory))
    status = cluster.zone_status("broken")
    assert status["state"] == "failed" and "exited" in status["error"]
    # It keeps being restarted with a growing backoff (0.5 s, 1 s, ...), each restart counted.
    until_sync(lambda: cluster.zone_status("broken")["pods"][0]["containers"][0]["restarts"] >= 2,
               what="two restarts")
    assert cluster.zone_status("broken")["pods"][0]["containers"][0]["state"] in ("running", "restarting")
    cluster.delete_zone("broken")
    assert "broken" not in [z["zone"] for z in cluster.list_zones()]


def test_every_clone_that_exits_at_start_is_reported_not_only_the_first(cluster, tmp_path):
    directory = write_zone(tmp_path / "z", """
        name: twice
        pods:
          - name: main-pod
            clones: 2
            containers:
              - name: web
                image: web
    """, images={"web": "import sys\nprint('missing configuration BAR', flush=True)\nsys.exit(3)\n"})
    with pytest.raises(ClusterError) as failed:
        list(cluster.deploy(load_zone(directory), {}, directory))
    try:
        assert "container main-pod-0/web exited" in str(failed.value), failed.value
        assert "container main-pod-1/web exited" in str(failed.value), failed.value
        assert str(failed.value).count("missing configuration BAR") >= 2
    finally:
        cluster.delete_zone("twice")


def test_an_image_this_backend_cannot_run_is_refused(cluster, tmp_path):
    directory = write_zone(tmp_path / "z", """
        name: ext
        pods:
          - name: main-pod
            containers:
              - name: db
                image: docker.io/library/postgres:16
    """, images={})
    with pytest.raises(ClusterError, match="postgres"):
        list(cluster.deploy(load_zone(directory), {}, directory))
    assert "ext" not in [z["zone"] for z in cluster.list_zones()]


def test_a_client_without_a_cluster_is_told_to_enroll(tmp_path):
    from autonomy.cluster import ClusterClient

    with pytest.raises(ClusterError, match="autonomy cluster enroll"):
        ClusterClient(tmp_path).list_zones()
    assert ClusterClient(tmp_path).stop() == {"stopped": False}


def test_a_controller_that_cannot_start_is_reported_with_its_log(tmp_path, monkeypatch):
    from autonomy.cluster import ClusterClient

    monkeypatch.setenv("AUTONOMY_NETWORK", "carrier-pigeon")
    with pytest.raises(ClusterError, match="controller exited while starting(.|\n)*carrier-pigeon"):
        ClusterClient(tmp_path, start_timeout=30).enroll()


def test_an_image_with_requirements_runs_in_a_virtualenv_layered_on_autonomy(cluster, tmp_path):
    web = (
        "import os, sys, autonomy, httpx\n"
        "from http.server import BaseHTTPRequestHandler, HTTPServer\n"
        "class H(BaseHTTPRequestHandler):\n"
        "    def do_GET(self):\n"
        "        body = sys.prefix.encode()\n"
        "        self.send_response(200); self.send_header('Content-Length', str(len(body))); self.end_headers()\n"
        "        self.wfile.write(body)\n"
        "HTTPServer(('127.0.0.1', int(os.environ['DEFAULT_PORT_HTTP'])), H).serve_forever()\n"
    )
    directory = write_zone(tmp_path / "z", """
        name: reqs
        pods:
          - name: main-pod
            containers:
              - name: web
                image: web
    """, images={"web": web})
    # Already installed with autonomy: pip finds it satisfied through the layer, with no index needed.
    (directory / "images" / "web" / "requirements.txt").write_text("httpx\n")
    _, events = deploy(cluster, directory)
    assert any(e.get("step") == "venv" for e in events)
    pod = cluster.zone_status("reqs")["pods"][0]
    prefix = httpx.get(f"http://127.0.0.1:{pod['port']}/", timeout=5).text
    assert prefix.startswith(str(cluster.home / "zones" / "reqs" / "venvs"))
    cluster.delete_zone("reqs")


def test_a_name_with_url_syntax_names_nothing_rather_than_another_provider_or_zone(cluster):
    cluster.add_model("urlname", url="http://127.0.0.1:9/v1", models=["urlname-model"])
    try:
        for name in ("urlname?x=1", "urlname#x", "urlname/"):
            with pytest.raises(ClusterError):
                cluster.remove_model(name)
            assert "urlname" in [p["name"] for p in cluster.list_models()["providers"]], name
    finally:
        cluster.remove_model("urlname")


def test_a_zone_that_cannot_be_restored_does_not_keep_the_others_down(cluster, tmp_path):
    one = "name: {}\npods:\n  - name: main-pod\n    containers:\n      - name: web\n        image: web\n"
    for name in ("aaa", "bbb"):
        deploy(cluster, write_zone(tmp_path / name, one.format(name)))
    cluster.stop()
    (cluster.home / "zones" / "aaa" / "secrets.json").write_text("{not json")  # restored first, and fails
    try:
        cluster.enroll()

        def restored() -> bool:
            try:
                return cluster.zone_status("bbb")["state"] == "running"
            except ClusterError:
                return False
        until_sync(restored, timeout=60, what="zone bbb restored after zone aaa failed to be")
    finally:
        for name in ("aaa", "bbb"):
            cluster.delete_zone(name)


def test_the_controller_api_refuses_a_body_that_is_not_json_with_400(cluster):
    transport = httpx.HTTPTransport(uds=str(cluster.home / "controller.sock"))
    with httpx.Client(transport=transport, base_url="http://controller", timeout=10) as api:
        for path in ("/zones", "/models"):
            answer = api.post(path, content=b"not json", headers={"content-type": "application/json"})
            assert answer.status_code == 400, (path, answer.text)
            assert "must be JSON" in answer.json()["message"]
            deep = api.post(path, content=b"[" * 100_000 + b"]" * 100_000, headers={"content-type": "application/json"})
            assert deep.status_code == 400 and "nests too deeply" in deep.json()["message"], (path, deep.text)
