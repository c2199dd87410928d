"""The rendered NATS config on a real 3-server cluster (loopback): mutual route TLS, zone isolation, failover."""

from __future__ import annotations

import asyncio
import json
import signal
import socket
import subprocess
import time
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import nats
import pytest

from autonomy.cluster.kubernetes.fabric import render_nats_config, zone_user
from autonomy.errors import AutonomyError
from autonomy.nodes.node import Node
from autonomy.transport.base import FabricConfig
from autonomy.transport.credentials import ClusterCredentials, _write_private
from autonomy.transport.embedded import find_nats_server
from tests.kubernetes.support import CLUSTER_ID

pytestmark = pytest.mark.slow
ZONE_A = [f"{CLUSTER_ID}-a-main-pod", f"{CLUSTER_ID}-a-runner-pod-0"]
ZONE_B = [f"{CLUSTER_ID}-b-main-pod"]


def free_ports(n: int) -> list[int]:
    sockets = [socket.socket() for _ in range(n)]
    for s in sockets:
        s.bind(("127.0.0.1", 0))
    ports = [s.getsockname()[1] for s in sockets]
    for s in sockets:
        s.close()
    return ports


@dataclass
class Nats3:
    creds: ClusterCredentials
    configs: list[Path]
    client_ports: list[int]
    monitor_ports: list[int]
    files: dict[str, Path]
    processes: list[subprocess.Popen] = field(default_factory=list)

    def urls(self, first: int) -> tuple[str, ...]:
        order = [first] + [i for i in range(3) if i != first]
        return tuple(f"tls://127.0.0.1:{self.client_ports[i]}" for i in order)

    def routes(self, i: int) -> int:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{self.monitor_ports[i]}/routez", timeout=5) as answer:
                routes = json.load(answer)["routes"]
        except OSError:
            return 0
        return len({r.get("remote_name") or r.get("remote_id") for r in routes})


@pytest.fixture
def nats3(tmp_path: Path) -> Iterator[Nats3]:
    creds = ClusterCredentials.generate(CLUSTER_ID)
    tls = tmp_path / "tls"
    tls.mkdir()
    for name, pem in (("ca.crt", creds.tls.ca_cert_pem), ("tls.crt", creds.tls.server_cert_pem),
                      ("tls.key", creds.tls.server_key_pem)):
        _write_private(tls / name, pem)
    zones = [zone_user(creds, "a", ZONE_A), zone_user(creds, "b", ZONE_B)]
    client, route, monitor = free_ports(3), free_ports(3), free_ports(3)
    configs = []
    for i in range(3):
        conf = render_nats_config(creds, zones, routes=[f"tls://127.0.0.1:{p}" for p in route],
                                  cert_file=str(tls / "tls.crt"), key_file=str(tls / "tls.key"),
                                  ca_file=str(tls / "ca.crt"), server_name=f"nats-{i}", host="127.0.0.1",
                                  client_port=client[i], route_port=route[i], monitor_port=monitor[i])
        path = tmp_path / f"nats-{i}.conf"
        _write_private(path, conf)
        configs.append(path)
    files = {z.zone: tmp_path / f"{z.zone}.json" for z in zones}
    for z in zones:
        _write_private(files[z.zone], z.node_credentials(creds).to_json())
    cluster = Nats3(creds, configs, client, monitor, files)
    try:
        yield cluster
    finally:
        for process in cluster.processes:
            process.kill()
            process.wait(10)


def start(cluster: Nats3, tmp_path: Path) -> None:
    for i, config in enumerate(cluster.configs):
        log = open(tmp_path / f"nats-{i}.log", "wb")  # noqa: SIM115 (closed with the process)
        cluster.processes.append(subprocess.Popen([find_nats_server(), "-c", str(config)], stdout=log,
                                                  stderr=subprocess.STDOUT))
        log.close()
    deadline = time.monotonic() + 60
    while not all(cluster.routes(i) >= 2 for i in range(3)):
        if time.monotonic() > deadline:
            logs = "\n".join((tmp_path / f"nats-{i}.log").read_text()[-1500:] for i in range(3))
            raise AssertionError(f"routes did not form:\n{logs}")
        time.sleep(0.1)


class Echo:
    async def handle_message(self, context, message):
        await context.reply(f"echo {message}")


def test_nats_server_accepts_the_rendered_config(nats3):
    for config in nats3.configs:
        done = subprocess.run([find_nats_server(), "-t", "-c", str(config)], capture_output=True, text=True,
                              timeout=60, check=False)
        assert done.returncode == 0, done.stdout + done.stderr


async def test_routes_form_zones_are_isolated_and_a_killed_server_is_survived(nats3, tmp_path):
    await asyncio.to_thread(start, nats3, tmp_path)  # fails without clientAuth on the server certificate
    a_main = await Node.create(ZONE_A[0], cluster=CLUSTER_ID, zone="a",
                               fabric=FabricConfig(nats3.urls(0), str(nats3.files["a"])))
    a_runner = await Node.create(ZONE_A[1], cluster=CLUSTER_ID, zone="a",
                                 fabric=FabricConfig(nats3.urls(2), str(nats3.files["a"])))
    b_main = await Node.create(ZONE_B[0], cluster=CLUSTER_ID, zone="b",
                               fabric=FabricConfig(nats3.urls(1), str(nats3.files["b"])))
    spy = None
    try:
        await a_runner.start_worker("echo", Echo())
        # across servers, within the zone
        assert await a_main.send_and_receive("echo", "hi", node=a_runner.name, timeout=10) == "echo hi"

        # another zone's user can neither send to zone a's nodes nor listen to their subjects
        with pytest.raises(AutonomyError):
            await b_main.send_and_receive("echo", "steal", node=a_runner.name, timeout=3)
        denied: list[str] = []

        async def on_error(error: Exception) -> None:
            denied.append(str(error))

        zone_b = json.loads(nats3.files["b"].read_text())
        spy = await nats.connect(list(nats3.urls(1)), user=zone_b["user"], password=zone_b["password"],
                                 tls=_tls(nats3), error_cb=on_error, allow_reconnect=False)
        heard: list[bytes] = []

        async def overhear(msg) -> None:
            heard.append(msg.data)

        await spy.subscribe(f"autonomy.{CLUSTER_ID}.node.{a_runner.name}", cb=overhear)
        await spy.flush()
        assert await a_main.send_and_receive("echo", "private", node=a_runner.name, timeout=10) == "echo private"
        await asyncio.sleep(0.5)
        assert heard == [] and any("permissions violation for subscription" in e.lower() for e in denied)

        # a killed server: a_main (on server 0) fails over and the zone keeps talking
        nats3.processes[0].send_signal(signal.SIGKILL)
        nats3.processes[0].wait(10)
        deadline = time.monotonic() + 60
        while True:
            try:
                assert await a_main.send_and_receive("echo", "again", node=a_runner.name, timeout=3) == "echo again"
                break
            except AutonomyError:
                if time.monotonic() > deadline:
                    raise
                await asyncio.sleep(0.2)
    finally:
        if spy is not None:
            await spy.close()
        for node in (a_main, a_runner, b_main):
            await node.stop()


def test_a_zone_password_is_refused_for_another_cluster_user(nats3, tmp_path):
    start(nats3, tmp_path)

    async def connect(user: str, password: str) -> None:
        nc = await nats.connect([nats3.urls(0)[0]], user=user, password=password, tls=_tls(nats3),
                                allow_reconnect=False, max_reconnect_attempts=0, connect_timeout=5)
        await nc.close()

    zone_a = json.loads(nats3.files["a"].read_text())
    asyncio.run(connect(zone_a["user"], zone_a["password"]))
    with pytest.raises(Exception, match="[Aa]uthorization"):
        asyncio.run(connect("zone_b", zone_a["password"]))


def _tls(cluster: Nats3):
    import ssl

    context = ssl.create_default_context(cadata=cluster.creds.tls.ca_cert_pem)
    return context


def test_nats_server_accepts_the_system_namespace_config(tmp_path):
    """The exact config the NATS StatefulSet mounts, with its certificate paths pointed at files here."""
    from autonomy.cluster.kubernetes.system import nats_hosts, system_nats_config
    from tests.kubernetes.support import cluster

    target = cluster()
    creds = ClusterCredentials.generate(CLUSTER_ID, hosts=nats_hosts(target))
    for name, pem in (("ca.crt", creds.tls.ca_cert_pem), ("tls.crt", creds.tls.server_cert_pem),
                      ("tls.key", creds.tls.server_key_pem)):
        _write_private(tmp_path / name, pem)
    conf = system_nats_config(target, creds, [zone_user(creds, "a", ZONE_A)])
    conf = conf.replace("/etc/nats-tls", str(tmp_path)).replace("/var/run/nats", str(tmp_path))
    _write_private(tmp_path / "nats.conf", conf)
    done = subprocess.run([find_nats_server(), "-t", "-c", str(tmp_path / "nats.conf")], capture_output=True,
                          text=True, timeout=60, check=False, env={"SERVER_NAME": "nats-0", "PATH": "/usr/bin:/bin"})
    assert done.returncode == 0, done.stdout + done.stderr
    assert "*.nats-headless.autonomy-d2c25cc3.svc" in creds.tls.hosts
