"""Faults of the local cluster's daemons: the NATS server SIGKILLed (repaired on its port, nodes
reconnect, no container restarts), and a crash-looping container (the zone reads ``degraded`` with
the reason)."""

from __future__ import annotations

import os
import signal
import textwrap
import time

import httpx
import pytest

from tests.cluster.apps import write_zone
from tests.cluster.conftest import deploy, describe_cluster, make_cluster  # noqa: F401 (fixture)
from tests.support.until import until_sync as wait_until

pytestmark = pytest.mark.slow

MAIN = textwrap.dedent('''
    from fastapi import FastAPI
    from autonomy import HttpServer, Node, Zone

    app = FastAPI()

    @app.get("/echo")
    async def echo():
        node = app.state.node
        runners = await Zone.nodes(node, filter="runner")
        return {"answers": [await r.send_and_receive("echo", "x", timeout=5) for r in runners]}

    async def main(node):
        app.state.node = node

    Node.start(main, http_server=HttpServer(app=app))
''')
RUNNER = textwrap.dedent('''
    from autonomy import Node

    class Echo:
        async def handle_message(self, context, message):
            await context.reply("echo:" + message)

    async def main(node):
        await node.start_worker("echo", Echo())

    Node.start(main)
''')
# Runs until the test creates ``crash`` in the pod's data dir, then fails at every start: a crash loop.
CRASHER = textwrap.dedent('''
    import os, pathlib, sys, time
    flag = pathlib.Path(os.environ["AUTONOMY_DATA_DIR"]) / "crash"
    while not flag.exists():
        time.sleep(0.1)
    print("failing on purpose", flush=True)
    sys.exit(3)
''')
ZONE = """
    name: {name}
    pods:
      - name: main-pod
        containers:
          - name: main
            image: main
      - name: runner-pod
        containers:
          - name: runner
            image: runner
"""


@pytest.fixture(scope="module")
def cluster(make_cluster):  # noqa: F811
    return make_cluster("host")


def _echo(cluster, zone: str) -> bool:
    address = cluster.zone_status(zone)["pods"][0]
    try:
        answer = httpx.get(f"http://{address['address']}:{address['port']}/echo", timeout=10)
    except httpx.HTTPError:
        return False
    return answer.status_code == 200 and answer.json()["answers"] == ["echo:x"]


def test_a_killed_nats_server_is_restarted_on_its_port_and_nodes_reconnect(cluster, tmp_path):
    directory = write_zone(tmp_path / "fab", ZONE.format(name="fab"), images={"main": MAIN, "runner": RUNNER})
    deploy(cluster, directory)
    describe = describe_cluster(cluster, "fab")
    try:
        wait_until(lambda: _echo(cluster, "fab"), timeout=60, what="the zone's nodes to talk", describe=describe)
        before = cluster.show()
        pids = [c["pid"] for p in cluster.zone_status("fab")["pods"] for c in p["containers"]]
        killed_at = time.monotonic()
        os.kill(before["fabric"]["pid"], signal.SIGKILL)
        after = wait_until(lambda: (i := cluster.show())["fabric"]["pid"] not in (None, before["fabric"]["pid"])
                           and i["fabric"]["problem"] is None and i, timeout=30, what="the NATS server's repair",
                           describe=describe)
        print(f"NATS repaired {time.monotonic() - killed_at:.2f} s after the kill")
        assert after["fabric_url"] == before["fabric_url"] and after["fabric"]["restarts"] == 1
        wait_until(lambda: _echo(cluster, "fab"), timeout=60, what="the nodes to reconnect", describe=describe)
        status = cluster.zone_status("fab")
        assert [c["pid"] for p in status["pods"] for c in p["containers"]] == pids  # no container restarted
        assert all(c["restarts"] == 0 for p in status["pods"] for c in p["containers"])
        assert status["state"] == "running"
    finally:
        cluster.delete_zone("fab")


def test_a_crash_looping_container_makes_the_zone_degraded_with_the_reason(cluster, tmp_path):
    yaml_text = ZONE.format(name="loop") + """
          - name: broken
            image: crasher
    """
    directory = write_zone(tmp_path / "loop", yaml_text, images={"main": MAIN, "runner": RUNNER, "crasher": CRASHER})
    try:
        deploy(cluster, directory)
        assert cluster.zone_status("loop")["state"] == "running"
        (cluster.home / "zones" / "loop" / "data" / "runner-pod-0" / "crash").touch()

        def degraded():
            listed = {z["zone"]: z for z in cluster.list_zones()}
            return listed["loop"]["state"] == "degraded" and listed["loop"]
        zone = wait_until(degraded, timeout=60, what="the zone to read degraded")
        assert "runner-pod-0/broken" in zone["reason"]
        status = cluster.zone_status("loop")
        assert status["state"] == "degraded" and "runner-pod-0/broken" in status["error"]
    finally:
        cluster.delete_zone("loop")
