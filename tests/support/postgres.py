"""A throwaway PostgreSQL server for tests: its own cluster (initdb) in a temp dir, run by the
``postgres`` user with pg_ctl on a free 127.0.0.1 port, password authentication; removed afterwards.

Needs root (to run as ``postgres``) and Debian's ``postgresql`` package, which
``scripts/system-deps.d/postgresql.sh`` installs; elsewhere the tests that use it skip, saying why.
"""

from __future__ import annotations

import glob
import os
import pwd
import secrets
import shutil
import socket
import subprocess
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

__all__ = ["PostgresServer", "postgres_server", "why_no_postgres"]


def _bin_dir() -> str | None:
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/pg_ctl"))
    return os.path.dirname(found[-1]) if found else None


def why_no_postgres() -> str | None:
    """Why a test PostgreSQL server cannot run here, or None when it can."""
    if os.geteuid() != 0:
        return "needs root to run PostgreSQL as the postgres user"
    if _bin_dir() is None:
        return "PostgreSQL is not installed (scripts/system-deps.d/postgresql.sh installs it on Debian)"
    try:
        pwd.getpwnam("postgres")
    except KeyError:
        return "there is no postgres user (Debian's postgresql package creates it)"
    return None


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@dataclass
class PostgresServer:
    host: str
    port: int
    user: str
    password: str
    database: str
    data_dir: str
    bin_dir: str

    @property
    def url(self) -> str:
        return f"postgresql://{self.user}:{self.password}@{self.host}:{self.port}/{self.database}"

    def kill(self) -> None:
        """Stop the server at once (immediate shutdown)."""
        self._ctl("stop", "-m", "immediate")

    def start(self) -> None:
        self._ctl("start", "-w", "-t", "60", "-l", os.path.join(self.data_dir, "..", "server.log"),
                  "-o", f"-h {self.host} -p {self.port} -k {self.data_dir}")

    def _ctl(self, *args: str) -> None:
        subprocess.run(["runuser", "-u", "postgres", "--", f"{self.bin_dir}/pg_ctl", "-D", self.data_dir, *args],
                       check=True, capture_output=True, timeout=90)


@contextmanager
def postgres_server() -> Iterator[PostgresServer]:
    """A started server with database ``autonomy`` owned by user ``autonomy``; stopped and deleted after."""
    bin_dir = _bin_dir()
    assert bin_dir is not None
    entry = pwd.getpwnam("postgres")
    root = tempfile.mkdtemp(prefix="autonomy-pg-")
    os.chown(root, entry.pw_uid, entry.pw_gid)
    password = secrets.token_hex(12)
    pwfile = os.path.join(root, "pw")
    with open(pwfile, "w") as f:
        f.write(password)
    os.chown(pwfile, entry.pw_uid, entry.pw_gid)
    data = os.path.join(root, "data")
    server = PostgresServer("127.0.0.1", _free_port(), "autonomy", password, "autonomy", data, bin_dir)
    started = False
    try:
        subprocess.run(["runuser", "-u", "postgres", "--", f"{bin_dir}/initdb", "-D", data, "-U", "autonomy",
                        "-A", "scram-sha-256", f"--pwfile={pwfile}", "--no-sync"],
                       check=True, capture_output=True, timeout=120)
        with open(os.path.join(data, "postgresql.conf"), "a") as f:
            f.write("fsync = off\nshared_buffers = 16MB\nmax_connections = 20\n")
        server.start()
        started = True
        env = dict(os.environ, PGPASSWORD=password)
        subprocess.run(["runuser", "-u", "postgres", "--", f"{bin_dir}/createdb", "-h", "127.0.0.1", "-p",
                        str(server.port), "-U", "autonomy", "autonomy"], check=True, capture_output=True,
                       timeout=60, env=env)
        yield server
    finally:
        if started:
            try:
                server.kill()
            except subprocess.CalledProcessError:
                pass  # already stopped by the test
        shutil.rmtree(root, ignore_errors=True)
