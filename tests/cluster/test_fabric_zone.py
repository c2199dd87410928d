"""The upstream-style multi-pod zone on the local cluster: main pod + runner-pod clones over the fabric.

Deploys ``examples/fanout`` as it is: its main node finds the runners with ``Zone.nodes(node,
filter="runner")``, ships a worker to each with ``RemoteNode.start_worker`` and fans work out over the
cluster's NATS (TLS, the cluster's credentials), served through the public gateway.
"""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest

from tests.cluster.conftest import deploy, needs_root

FANOUT = Path(__file__).resolve().parents[2] / "examples" / "fanout"


@pytest.fixture(scope="module")
def cluster(make_cluster):
    return make_cluster("namespace")


@needs_root
def test_main_pod_fans_work_out_to_every_runner_clone(cluster):
    result, _ = deploy(cluster, FANOUT)
    assert {p["pod"]: p["clones"] for p in result["pods"]} == {"main-pod": 1, "runner-pod": 3}
    info = cluster.show()
    url = f"http://127.0.0.1:{info['public_port']}/squares?upto=12"
    host = {"Host": f"{info['id']}-fanout.localhost"}
    # The example answers once its main() has shipped the workers (it waits for that), so the first
    # request after the deploy already gets every square.
    response = httpx.get(url, headers=host, timeout=60)
    assert response.status_code == 200, response.text
    body = response.json()
    runners = [f"{info['id']}-fanout-runner-pod-{i}" for i in range(3)]
    assert body["runners"] == runners
    assert [r["square"] for r in body["results"]] == [n * n for n in range(1, 13)]
    assert {r["node"] for r in body["results"]} == set(runners)
    assert info["fabric_url"].startswith("tls://")
    cluster.delete_zone("fanout")


@needs_root
@pytest.mark.slow
def test_fanout_recovers_after_a_runner_and_then_main_are_killed(cluster):
    import os
    import signal
    import time

    from tests.support.until import until_sync as wait_until

    deploy(cluster, FANOUT)
    info = cluster.show()
    url = f"http://127.0.0.1:{info['public_port']}/squares?upto=12"
    host = {"Host": f"{info['id']}-fanout.localhost"}

    def answers():
        try:
            response = httpx.get(url, headers=host, timeout=30)
        except httpx.HTTPError:
            return False
        return response.status_code == 200 and [r["square"] for r in response.json()["results"]] == [
            n * n for n in range(1, 13)] and len(response.json()["runners"]) == 3

    def container_pid(pod):
        status = cluster.zone_status("fanout")
        return next(p for p in status["pods"] if p["pod"] == pod)["containers"][0]["pid"]

    try:
        assert answers()
        for pod in ("runner-pod", "main-pod"):  # a runner's restart, then main's
            killed = time.monotonic()
            os.kill(container_pid(pod), signal.SIGKILL)
            wait_until(answers, timeout=90, what=f"fanout to answer after {pod} was killed")
            print(f"fanout answers again {time.monotonic() - killed:.1f} s after {pod} was killed")
    finally:
        cluster.delete_zone("fanout")
