"""The fabric of a Kubernetes cluster: per-zone NATS users and the NATS servers' configuration.

Decisions (docs/kubernetes.md):
- One NATS account per cluster (``cluster_<id>``). Each zone logs in as its own user ``zone_<zone>``
  whose subject permissions cover the subjects of that zone's nodes only (their names are known when
  the zone is rendered: ``{cluster}-{zone}-{pod}[-{i}]``), so one zone's user can neither send to nor
  listen on another zone's nodes. The cluster's own user (``nodes_<id>``) keeps full access to the
  account; it is never given to a zone.
- A zone's password and model-gateway key are derived from the cluster's secret (HMAC-SHA256 of the
  cluster password and the zone name): rendering stays a pure function and a redeploy changes nothing
  the nodes hold. Rotating them means rotating the cluster's credentials.
- Passwords are in the NATS config in clear: the config is a Secret of the system namespace, which
  zones cannot read (no bcrypt dependency for a value that only ever sits in Secrets).
"""

from __future__ import annotations

import hashlib
import hmac
import json
from collections.abc import Sequence
from dataclasses import dataclass, field

from autonomy.transport.credentials import ClusterCredentials, NodeCredentials

__all__ = ["ZoneUser", "zone_user", "zone_gateway_key", "render_nats_config", "NATS_CLIENT_PORT",
           "NATS_ROUTE_PORT", "NATS_MONITOR_PORT"]

NATS_CLIENT_PORT = 4222
NATS_ROUTE_PORT = 6222
NATS_MONITOR_PORT = 8222
MAX_PAYLOAD = 8 * 1024 * 1024


def _derive(creds: ClusterCredentials, purpose: str) -> str:
    return hmac.new(creds.password.encode(), purpose.encode(), hashlib.sha256).hexdigest()


@dataclass(frozen=True)
class ZoneUser:
    """The NATS user of one zone and the node names it may act as."""

    zone: str
    user: str
    password: str = field(repr=False)
    nodes: tuple[str, ...] = ()

    def node_credentials(self, creds: ClusterCredentials) -> NodeCredentials:
        return NodeCredentials(cluster=creds.cluster, user=self.user, password=self.password,
                               ca_pem=creds.tls.ca_cert_pem)


def zone_user(creds: ClusterCredentials, zone: str, nodes: Sequence[str]) -> ZoneUser:
    return ZoneUser(zone=zone, user=f"zone_{zone}", password=_derive(creds, f"fabric:{zone}"), nodes=tuple(nodes))


def route_password(creds: ClusterCredentials) -> str:
    return _derive(creds, "routes")


def zone_gateway_key(creds: ClusterCredentials, zone: str) -> str:
    """The zone's model-gateway key (``azk_`` + 43 characters, as :class:`autonomy.gateway.ZoneKeys` issues)."""
    return "azk_" + _derive(creds, f"gateway:{zone}")[:43]


def _q(value: str) -> str:
    return json.dumps(value)


def _zone_permissions(cluster: str, nodes: Sequence[str]) -> str:
    root = f"autonomy.{cluster}"
    own = [f"{root}.node.{n}" for n in nodes] + [f"{root}.reply.{n}.>" for n in nodes]
    publish = [*own, *(f"{root}.presence.{n}" for n in nodes), f"{root}.discover"]
    subscribe = [*own, f"{root}.presence.>", f"{root}.discover", "_INBOX.>"]
    return (f"permissions: {{ publish: {{ allow: [{', '.join(map(_q, publish))}] }}, "
            f"subscribe: {{ allow: [{', '.join(map(_q, subscribe))}] }}, allow_responses: {{ max: 1 }} }}")


def render_nats_config(
    creds: ClusterCredentials, zones: Sequence[ZoneUser], *, routes: Sequence[str], cert_file: str, key_file: str,
    ca_file: str, server_name: str = "$SERVER_NAME", host: str = "0.0.0.0", client_port: int = NATS_CLIENT_PORT,
    route_port: int = NATS_ROUTE_PORT, monitor_port: int = NATS_MONITOR_PORT, pid_file: str | None = None,
) -> str:
    """``nats.conf`` of one server of the cluster's NATS (client TLS required, mutual route TLS with
    route auth, one account, the cluster's user and one user per zone). ``routes``: every server's
    route URL (``tls://HOST:PORT``; the route user and password are added here)."""
    route_pw = route_password(creds)
    route_urls = [u.replace("tls://", f"tls://route:{route_pw}@", 1) for u in routes]
    users = [f"{{ user: {_q(creds.user)}, password: {_q(creds.password)} }}"]
    for zone in sorted(zones, key=lambda z: z.zone):
        users.append(f"{{ user: {_q(zone.user)}, password: {_q(zone.password)}, "
                     f"{_zone_permissions(creds.cluster, zone.nodes)} }}")
    name = server_name if server_name.startswith("$") else _q(server_name)
    lines = [
        f"server_name: {name}",
        f"listen: {_q(f'{host}:{client_port}')}",
        f"http: {_q(f'{host}:{monitor_port}')}",
        f"max_payload: {MAX_PAYLOAD}",
        "lame_duck_duration: 30s",
        "lame_duck_grace_period: 10s",
        *([f"pid_file: {_q(pid_file)}"] if pid_file else []),
        f"tls {{ cert_file: {_q(cert_file)}, key_file: {_q(key_file)}, ca_file: {_q(ca_file)}, timeout: 5 }}",
        "cluster {",
        f"  name: {_q('autonomy-' + creds.cluster[:8])}",
        f"  listen: {_q(f'{host}:{route_port}')}",
        "  no_advertise: true",
        f"  authorization {{ user: route, password: {_q(route_pw)}, timeout: 5 }}",
        f"  tls {{ cert_file: {_q(cert_file)}, key_file: {_q(key_file)}, ca_file: {_q(ca_file)}, timeout: 5 }}",
        f"  routes: [{', '.join(map(_q, route_urls))}]",
        "}",
        "accounts {",
        f"  {_q(creds.account)}: {{",
        "    users: [",
        *(f"      {u}" for u in users),
        "    ]",
        "  }",
        "}",
    ]
    return "\n".join(line for line in lines if line) + "\n"
