"""A cluster's fabric credentials: its id, its NATS account and user, and the TLS material.

One :class:`ClusterCredentials` per cluster. The control plane generates it once, saves it under a
directory (every file mode 0600) and gives each node of the cluster the small JSON file written by
:meth:`ClusterCredentials.write_node_credentials`, named by ``AUTONOMY_FABRIC_CREDENTIALS``::

    {"cluster": "<32 hex>", "user": "...", "password": "...", "ca_pem": "-----BEGIN CERTIFICATE-----..."}

Decision: the CA certificate travels *inside* that file as PEM (``ca_pem``), so a node needs one
file and no path that must also exist in its container. ``ca_file`` (a path) is accepted instead
when reading. The password is never logged and never part of a ``repr``.

The cluster's own user may use every subject of the cluster (tools, tests, nodes outside zones). The
nodes of a zone get their zone's user instead (:meth:`ClusterCredentials.zone_credentials`; the file then
also holds ``"zone"``), whose subject permissions (:mod:`autonomy.transport.permissions`) make the zone
the trust boundary. The NATS account of the cluster isolates it from other clusters on the same server.
A zone user's password is an HMAC of the cluster password and the zone name: nothing more to store.
"""

from __future__ import annotations

import datetime
import hashlib
import hmac
import ipaddress
import json
import os
import re
import secrets
from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from autonomy.errors import ConfigError, FabricError

__all__ = ["ClusterCredentials", "NodeCredentials", "TlsMaterial", "generate_tls", "load_node_credentials"]

_CLUSTER_ID = re.compile(r"[0-9a-f]{32}")
_FILES = {"cluster": "cluster.json", "ca_cert": "ca.pem", "ca_key": "ca.key", "server_cert": "server.pem",
          "server_key": "server.key"}


def _write_private(path: Path, data: str | bytes) -> None:
    """Write ``data`` to ``path`` with mode 0600 from the start (no window where others can read it)."""
    raw = data.encode() if isinstance(data, str) else data
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        os.fchmod(fd, 0o600)
        os.write(fd, raw)
    finally:
        os.close(fd)


def validate_cluster_id(cluster: str) -> str:
    """Return ``cluster`` if it is 32 lowercase hex characters, else raise ConfigError."""
    if not isinstance(cluster, str) or not _CLUSTER_ID.fullmatch(cluster):
        raise ConfigError(f"cluster id {cluster!r} must be 32 lowercase hex characters (e.g. secrets.token_hex(16))")
    return cluster


@dataclass(frozen=True)
class TlsMaterial:
    """A CA and a server certificate it signed (PEM). The server's SANs are in ``hosts``."""

    ca_cert_pem: str
    ca_key_pem: str = field(repr=False)
    server_cert_pem: str
    server_key_pem: str = field(repr=False)
    hosts: tuple[str, ...] = ()


def _self_signed_ca(ca_key: Any, ca_name: Any, now: datetime.datetime) -> Any:
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes

    return (
        x509.CertificateBuilder().subject_name(ca_name).issuer_name(ca_name)
        .public_key(ca_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5)).not_valid_after(now + datetime.timedelta(days=3650))
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(x509.KeyUsage(digital_signature=True, key_cert_sign=True, crl_sign=True,
                                     content_commitment=False, key_encipherment=False, data_encipherment=False,
                                     key_agreement=False, encipher_only=False, decipher_only=False), critical=True)
        .sign(ca_key, hashes.SHA256())
    )


def generate_tls(hosts: Iterable[str] = (), common_name: str = "autonomy fabric",
                 ca: TlsMaterial | None = None) -> TlsMaterial:
    """A server certificate for 127.0.0.1, localhost and ``hosts`` (EC P-256, 10 years), signed by the
    CA of ``ca`` if given, else by a new CA.

    The certificate is for ``serverAuth`` and ``clientAuth``: NATS route TLS is mutual (a server
    connecting a route presents it as a client certificate), so servers of one NATS cluster share it."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

    names = ["127.0.0.1", "localhost", *[h for h in hosts if h]]
    names = list(dict.fromkeys(names))
    now = datetime.datetime.now(datetime.UTC)
    if ca is not None:
        ca_key = serialization.load_pem_private_key(ca.ca_key_pem.encode(), password=None)
        if not isinstance(ca_key, ec.EllipticCurvePrivateKey):
            raise ConfigError("the CA key must be an EC key made by generate_tls()")
        ca_cert = x509.load_pem_x509_certificate(ca.ca_cert_pem.encode())
        ca_name = ca_cert.subject
    else:
        ca_key = ec.generate_private_key(ec.SECP256R1())
        ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, f"{common_name} CA")])
        ca_cert = _self_signed_ca(ca_key, ca_name, now)
    sans: list[x509.GeneralName] = []
    for name in names:
        try:
            sans.append(x509.IPAddress(ipaddress.ip_address(name)))
        except ValueError:
            sans.append(x509.DNSName(name))
    server_key = ec.generate_private_key(ec.SECP256R1())
    server_cert = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)]))
        .issuer_name(ca_name).public_key(server_key.public_key()).serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5)).not_valid_after(now + datetime.timedelta(days=3650))
        .add_extension(x509.SubjectAlternativeName(sans), critical=False)
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH, ExtendedKeyUsageOID.CLIENT_AUTH]),
                       critical=False)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .sign(ca_key, hashes.SHA256())
    )

    def key_pem(key: ec.EllipticCurvePrivateKey) -> str:
        return key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                 serialization.NoEncryption()).decode()

    return TlsMaterial(
        ca_cert_pem=ca_cert.public_bytes(serialization.Encoding.PEM).decode(),
        ca_key_pem=ca.ca_key_pem if ca is not None else key_pem(ca_key),
        server_cert_pem=server_cert.public_bytes(serialization.Encoding.PEM).decode(),
        server_key_pem=key_pem(server_key), hosts=tuple(names),
    )


@dataclass(frozen=True)
class NodeCredentials:
    """What one node needs to join its cluster's fabric (the ``AUTONOMY_FABRIC_CREDENTIALS`` file)."""

    cluster: str
    user: str
    password: str = field(repr=False)
    ca_pem: str | None = field(default=None, repr=False)
    zone: str | None = None

    def to_json(self) -> str:
        data = {"cluster": self.cluster, "user": self.user, "password": self.password, "ca_pem": self.ca_pem}
        if self.zone:
            data["zone"] = self.zone
        return json.dumps(data)


def load_node_credentials(path: str | os.PathLike[str]) -> NodeCredentials:
    """Read a node credentials file; FabricError names the file and what is wrong with it."""
    path = Path(path)
    try:
        data = json.loads(path.read_text())
    except OSError as exc:
        raise FabricError(f"Cannot read fabric credentials {str(path)!r} (AUTONOMY_FABRIC_CREDENTIALS): "
                          f"{exc.strerror or exc}") from exc
    except ValueError as exc:
        raise FabricError(f"Fabric credentials {str(path)!r} are not valid JSON: {exc}") from exc
    missing = [k for k in ("cluster", "user", "password") if not isinstance(data.get(k), str) or not data[k]]
    if missing:
        raise FabricError(f"Fabric credentials {str(path)!r} lack {', '.join(missing)}: "
                          "write them with ClusterCredentials.write_node_credentials()")
    ca_pem = data.get("ca_pem")
    if not ca_pem and data.get("ca_file"):
        ca_file = Path(data["ca_file"])
        if not ca_file.is_absolute():
            ca_file = path.parent / ca_file
        try:
            ca_pem = ca_file.read_text()
        except OSError as exc:
            raise FabricError(f"Cannot read the CA file {str(ca_file)!r} named in {str(path)!r}") from exc
    zone = data.get("zone") or None
    if zone is not None and not isinstance(zone, str):
        raise FabricError(f"Fabric credentials {str(path)!r}: 'zone' must be a zone name")
    return NodeCredentials(cluster=validate_cluster_id(data["cluster"]), user=data["user"],
                           password=data["password"], ca_pem=ca_pem or None, zone=zone)


@dataclass(frozen=True)
class ClusterCredentials:
    """Everything secret about one cluster's fabric.

    ``cluster``: the id (32 lowercase hex). ``account``: the NATS account that holds the cluster (and
    isolates it from other clusters on the same server). ``user``/``password``: what the cluster's
    nodes log in with. ``tls``: the CA nodes trust and the certificate the server presents.
    """

    cluster: str
    account: str
    user: str
    password: str = field(repr=False)
    tls: TlsMaterial = field(repr=False)

    @classmethod
    def generate(cls, cluster: str | None = None, hosts: Iterable[str] = (),
                 tls: TlsMaterial | None = None) -> ClusterCredentials:
        """New credentials for ``cluster`` (a random id if None).

        ``hosts``: extra IPs / host names for the server certificate (127.0.0.1 and localhost are
        always in it). ``tls``: reuse existing TLS material (several clusters served by one server).
        """
        cluster = validate_cluster_id(cluster) if cluster is not None else secrets.token_hex(16)
        return cls(cluster=cluster, account=f"cluster_{cluster}", user=f"nodes_{cluster}",
                   password=secrets.token_urlsafe(32), tls=tls or generate_tls(hosts))

    def with_hosts(self, hosts: Iterable[str]) -> ClusterCredentials:
        """The same credentials with a new server certificate that also covers ``hosts``, signed by the
        same CA (nodes' credentials files stay valid)."""
        return replace(self, tls=generate_tls([*self.tls.hosts, *hosts], ca=self.tls))

    def node_credentials(self) -> NodeCredentials:
        return NodeCredentials(cluster=self.cluster, user=self.user, password=self.password,
                               ca_pem=self.tls.ca_cert_pem)

    def zone_credentials(self, zone: str) -> NodeCredentials:
        """The credentials of zone ``zone``'s nodes: its own NATS user (see the module docstring)."""
        password = hmac.new(self.password.encode(), f"zone:{zone}".encode(), hashlib.sha256).hexdigest()
        return NodeCredentials(cluster=self.cluster, user=f"zone_{zone}", password=password,
                               ca_pem=self.tls.ca_cert_pem, zone=zone)

    def write_node_credentials(self, path: str | os.PathLike[str]) -> Path:
        """Write the file a node gets as ``AUTONOMY_FABRIC_CREDENTIALS`` (JSON, mode 0600); returns its path."""
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        _write_private(path, self.node_credentials().to_json())
        return path

    def save(self, directory: str | os.PathLike[str]) -> Path:
        """Save under ``directory`` (created with mode 0700; every file mode 0600)."""
        directory = Path(directory)
        directory.mkdir(parents=True, exist_ok=True, mode=0o700)
        meta = {"cluster": self.cluster, "account": self.account, "user": self.user, "password": self.password,
                "hosts": list(self.tls.hosts)}
        _write_private(directory / _FILES["cluster"], json.dumps(meta, indent=2))
        _write_private(directory / _FILES["ca_cert"], self.tls.ca_cert_pem)
        _write_private(directory / _FILES["ca_key"], self.tls.ca_key_pem)
        _write_private(directory / _FILES["server_cert"], self.tls.server_cert_pem)
        _write_private(directory / _FILES["server_key"], self.tls.server_key_pem)
        return directory

    @classmethod
    def load(cls, directory: str | os.PathLike[str]) -> ClusterCredentials:
        """Load what :meth:`save` wrote; ConfigError names the missing or broken file."""
        directory = Path(directory)
        try:
            meta = json.loads((directory / _FILES["cluster"]).read_text())
            pems = {k: (directory / name).read_text() for k, name in _FILES.items() if k != "cluster"}
            tls = TlsMaterial(ca_cert_pem=pems["ca_cert"], ca_key_pem=pems["ca_key"],
                              server_cert_pem=pems["server_cert"], server_key_pem=pems["server_key"],
                              hosts=tuple(meta.get("hosts", ())))
            return cls(cluster=validate_cluster_id(meta["cluster"]), account=meta["account"], user=meta["user"],
                       password=meta["password"], tls=tls)
        except (OSError, KeyError, ValueError) as exc:
            if isinstance(exc, ConfigError):
                raise
            raise ConfigError(f"Cluster credentials under {str(directory)!r} are missing or broken ({exc}): "
                              "generate them with ClusterCredentials.generate(...).save(directory)") from exc
