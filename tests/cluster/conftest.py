"""Fixtures for the local cluster: a controller per test module in a temporary AUTONOMY_HOME."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from autonomy.cluster import ClusterClient
from autonomy.zones.loading import load_zone
from autonomy.zones.secrets import load_secrets

IS_ROOT = os.geteuid() == 0
needs_root = pytest.mark.skipif(not IS_ROOT, reason="network namespaces need root; the host-network tests still run")


def describe_cluster(client: ClusterClient, zone: str) -> Callable[[], str]:
    """A ``describe`` for until_sync: the zone's status and the controller log's tail."""
    def describe() -> str:
        try:
            status: Any = client.zone_status(zone)
        except Exception as exc:  # the description must not hide the timeout
            status = repr(exc)
        log = (client.home / "controller.log").read_text(errors="replace").splitlines()[-30:]
        return f"status: {json.dumps(status, indent=1)}\ncontroller.log:\n" + "\n".join(log)
    return describe


def deploy(client: ClusterClient, directory: Path) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """Deploy the zone in ``directory``; returns the ``done`` result and every event."""
    events = list(client.deploy(load_zone(directory), load_secrets(directory), directory))
    assert events[-1]["event"] == "done", events
    return events[-1]["result"], events


def _cleanup(home: Path) -> None:
    """Whatever a failed test left: the controller, its containers, namespaces, bridge."""
    try:
        cluster = json.loads((home / "cluster.json").read_text())["id"]
    except (OSError, ValueError, KeyError):
        return
    from autonomy.cluster.local.supervisor import kill_orphans

    # the gateway daemon first: it restarts a controller that dies
    for pattern in (f"autonomy.cluster.gateways --home {home} ", f"autonomy.cluster.controller --home {home}",
                    f"{home}/fabric/server/nats.conf"):
        out = subprocess.run(["pgrep", "-f", pattern], capture_output=True, text=True).stdout
        for pid in out.split():
            os.kill(int(pid), signal.SIGKILL)
    kill_orphans(cluster)
    if IS_ROOT:
        from autonomy.cluster.local.netns import NetnsNetwork

        NetnsNetwork(cluster).cleanup_stale()
        from autonomy.cluster.local.firewall import delete_tables

        delete_tables(f"autonomy_{cluster[:8]}")
        _cleanup_docker(cluster)


def _cleanup_docker(cluster: str) -> None:
    """The Docker runtime's containers, zone networks and service bridge of ``cluster``, if any."""
    if shutil.which("docker") is None:
        return
    label = f"label=computer.autonomy.cluster={cluster}"
    ids = subprocess.run(["docker", "ps", "-aq", "--filter", label], capture_output=True, text=True).stdout.split()
    if ids:
        subprocess.run(["docker", "rm", "-f", *ids], capture_output=True)
    ids = subprocess.run(["docker", "network", "ls", "-q", "--filter", label], capture_output=True,
                         text=True).stdout.split()
    if ids:
        subprocess.run(["docker", "network", "rm", *ids], capture_output=True)
    subprocess.run(["ip", "link", "del", f"ad{cluster[:8]}"], capture_output=True)
    # the zones' app images, tagged per cluster (autonomy/images/naming.py): the base image stays cached
    ids = subprocess.run(["docker", "images", "-q", "--filter", f"reference=autonomy-local/{cluster[:8]}-*/*"],
                         capture_output=True, text=True).stdout.split()
    if ids:
        subprocess.run(["docker", "rmi", "-f", *set(ids)], capture_output=True)


@pytest.fixture(scope="module")
def make_cluster() -> Iterator[Callable[..., ClusterClient]]:
    """``make_cluster(network="namespace"|"host", runtime="process"|"docker")`` -> an enrolled client;
    stopped at module end."""
    homes: list[Path] = []
    saved = {k: os.environ.get(k) for k in ("AUTONOMY_PUBLIC_PORT", "AUTONOMY_NETWORK", "AUTONOMY_HOME",
                                            "AUTONOMY_RUNTIME")}

    def make(network: str = "namespace", runtime: str = "process") -> ClusterClient:
        # Unix socket paths are limited to 108 bytes: keep the home short.
        home = Path(tempfile.mkdtemp(prefix="ac-", dir="/tmp"))
        homes.append(home)
        os.environ["AUTONOMY_PUBLIC_PORT"] = "0"
        os.environ["AUTONOMY_NETWORK"] = network
        os.environ["AUTONOMY_RUNTIME"] = runtime
        client = ClusterClient(home)
        client.enroll()
        return client

    try:
        yield make
    finally:
        for home in homes:
            try:
                ClusterClient(home).stop()
            finally:
                _cleanup(home)
                shutil.rmtree(home, ignore_errors=True)
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value
