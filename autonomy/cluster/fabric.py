"""The cluster's fabric as the controller runs it: credentials kept in the home, an embedded NATS.

Credentials are generated on first start under ``AUTONOMY_HOME/fabric/credentials`` (every file 0600)
and reused afterwards; the server certificate is re-issued (same CA, so node files stay valid) when the
listen address is not yet in it. Nodes get ``AUTONOMY_HOME/fabric/node.json`` as
``AUTONOMY_FABRIC_CREDENTIALS``. The server listens on ``host``: the pod bridge's address when pods
run in network namespaces (reachable from every pod and from the host), else 127.0.0.1; TLS is
required either way.

Zones' nodes do not get ``node.json`` (the cluster's own user) but their zone's credentials
(:meth:`ClusterFabric.zone_credentials`): a NATS user per zone whose subject permissions
(:mod:`autonomy.transport.permissions`) confine it to its zone. The server learns a zone's user (and its
node names) at each deploy, through a configuration reload; a deleted zone's user is removed.
"""

from __future__ import annotations

import os
import signal
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

from autonomy.errors import ConfigError, FabricError
from autonomy.transport.credentials import ClusterCredentials
from autonomy.transport.embedded import EmbeddedNats
from autonomy.transport.permissions import ZoneUser, zone_permissions

__all__ = ["ClusterFabric", "start_fabric"]


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
    """Start the cluster's NATS server on ``host`` (a free port); returns when it accepts connections."""
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
    _kill_stale_server(directory / "server")
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


def _kill_stale_server(workdir: Path) -> None:
    """Kill the nats-server a previous controller of this home left running (it was killed with SIGKILL).

    The server writes ``ports/<binary>_<pid>.ports``; a pid whose command line still names this home's
    config is that server.
    """
    config = str(workdir / "nats.conf")
    for ports in (workdir / "ports").glob("*_*.ports"):
        pid = ports.stem.rsplit("_", 1)[1]
        try:
            cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
            if config.encode() in cmdline:
                os.kill(int(pid), signal.SIGKILL)
        except (OSError, ValueError):
            continue
