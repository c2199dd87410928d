"""The cluster's fabric as the controller runs it: credentials kept in the home, an embedded NATS.

Credentials are generated on first start under ``AUTONOMY_HOME/fabric/credentials`` (every file 0600)
and reused afterwards; the server certificate is re-issued (same CA, so node files stay valid) when the
listen address is not yet in it. Nodes get ``AUTONOMY_HOME/fabric/node.json`` as
``AUTONOMY_FABRIC_CREDENTIALS``. The server listens on ``host``: the pod bridge's address when pods
run in network namespaces (reachable from every pod and from the host), else 127.0.0.1; TLS is
required either way.

A nats-server of this home left running by a controller that was killed (SIGKILL, a crash) is adopted by
the next controller (same port, same credentials; its command line must name this home's config and it
must listen on today's address), so nodes stay connected; one that does not fit is killed and a new one
started. ``cluster stop`` stops it as before.

Zones' nodes do not get ``node.json`` (the cluster's own user) but their zone's credentials
(:meth:`ClusterFabric.zone_credentials`): a NATS user per zone whose subject permissions
(:mod:`autonomy.transport.permissions`) confine it to its zone. The server learns a zone's user (and its
node names) at each deploy, through a configuration reload; a deleted zone's user is removed.
"""

from __future__ import annotations

import json
import logging
import re
import socket
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

from autonomy.cluster.pid_process import PidProcess, cmdline
from autonomy.errors import ConfigError, FabricError
from autonomy.transport.credentials import ClusterCredentials
from autonomy.transport.embedded import EmbeddedNats
from autonomy.transport.permissions import ZoneUser, zone_permissions

__all__ = ["ClusterFabric", "start_fabric"]

log = logging.getLogger("autonomy.cluster")


@dataclass
class ClusterFabric:
    url: str
    credentials_file: Path
    credentials: ClusterCredentials
    server: EmbeddedNats
    zones: dict[str, tuple[str, ...]] = field(default_factory=dict)  # zone -> its node names

    def stop(self) -> None:
        self.server.stop()

    def zone_credentials(self, zone: str, names: Iterable[str]) -> bytes:
        """The credentials file (JSON) of zone ``zone``'s nodes, named ``names``; the server knows the
        zone's user and permissions when this returns (blocking: a reload takes milliseconds)."""
        self.zones[zone] = tuple(sorted(set(names)))
        self._apply()
        return self.credentials.zone_credentials(zone).to_json().encode()

    def forget_zone(self, zone: str) -> None:
        """Remove zone ``zone``'s user (its connections are closed)."""
        if self.zones.pop(zone, None) is not None:
            self._apply()

    def _apply(self) -> None:
        c = self.credentials
        users = []
        for zone, names in sorted(self.zones.items()):
            creds = c.zone_credentials(zone)
            users.append(ZoneUser(c.account, creds.user, creds.password, zone_permissions(c.cluster, zone, names)))
        self.server.set_users(users)


def start_fabric(home: Path, cluster_id: str, host: str) -> ClusterFabric:
    """The cluster's NATS server on ``host``: the running one of this home adopted, else started on the
    port this home's last server had (a free one when taken); returns when it accepts connections."""
    directory = home / "fabric"
    cred_dir = directory / "credentials"
    try:
        creds = ClusterCredentials.load(cred_dir)
    except ConfigError:
        creds = ClusterCredentials.generate(cluster_id, hosts=[host])
        creds.save(cred_dir)
    if host not in creds.tls.hosts:
        creds = creds.with_hosts([host])
        creds.save(cred_dir)
    node_file = creds.write_node_credentials(directory / "node.json")
    running = _running_server(directory / "server", host)
    if running is not None:  # left by a controller that was killed: adopted, nodes stay connected
        server = EmbeddedNats([creds], host=host, port=0, workdir=directory / "server")
        url = server.adopt(*running)
        log.info("adopted the running NATS server of this home (pid %d) at %s", running[0].pid, url)
    else:
        server, url = _start_server(creds, host, directory)
    return ClusterFabric(url=url, credentials_file=node_file, credentials=creds, server=server)


def _start_server(creds: ClusterCredentials, host: str, directory: Path) -> tuple[EmbeddedNats, str]:
    """Start the server on the port the previous one of this home had (``fabric/port``), so that pods a
    restarted controller adopts (cluster/local/adoption.py) reconnect to the URL they were given; on a
    free port when that one is taken or there was none."""
    port_file = directory / "port"
    try:
        previous = int(port_file.read_text())
    except (OSError, ValueError):
        previous = 0
    server = EmbeddedNats([creds], host=host, port=previous, workdir=directory / "server")
    try:
        url = server.start()
    except FabricError:
        if not previous:
            raise
        server = EmbeddedNats([creds], host=host, port=0, workdir=directory / "server")
        url = server.start()
    port_file.write_text(str(server.port))
    return server, url


def _running_server(workdir: Path, host: str) -> tuple[PidProcess, int] | None:
    """The nats-server a previous controller of this home left running (it was killed), when it is ours and
    still fit: its command line names this home's config, it listens on ``host`` at the port of its ports
    file, and that port accepts connections. One that is ours but unfit (another host) is killed."""
    config = str(workdir / "nats.conf")
    for ports in (workdir / "ports").glob("*_*.ports"):
        try:
            pid = int(ports.stem.rsplit("_", 1)[1])
            if config not in cmdline(pid):
                continue
            process = PidProcess(pid)
            port = int(json.loads(ports.read_text())["nats"][0].rsplit(":", 1)[1])
            listen = re.search(r'^listen: "(.*):(-?\d+)"', (workdir / "nats.conf").read_text(), re.M)
        except (OSError, ValueError, KeyError, IndexError):
            continue
        if listen is not None and listen.group(1) == host and _accepts(host, port):
            return process, port
        log.warning("killing the NATS server (pid %d) a previous controller left: it does not serve %s", pid, host)
        process.kill()
        process.wait(5.0)
        process.close()
    return None


def _accepts(host: str, port: int) -> bool:
    try:
        with socket.create_connection((host, port), timeout=2.0):
            return True
    except OSError:
        return False
