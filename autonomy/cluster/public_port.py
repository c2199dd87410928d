"""The public gateway's port: chosen at enroll, stored with the cluster, the same at every start.

``autonomy cluster enroll [--port N]`` picks the port once and stores it in ``AUTONOMY_HOME/cluster.json``
(``"public_port"``, beside the cluster's id), so every later start of the controller serves the zones at
the same URLs whatever the environment of the command that starts it. Decisions:

- the port asked for: ``--port``, else ``AUTONOMY_PUBLIC_PORT``, else :data:`DEFAULT_PORT`;
- when nothing was asked and 32100 is busy, the next free port up to 32199 is taken and enroll says so;
- when a port was asked for (flag or variable) and is busy: one line naming the flag and the variable;
- ``0`` is stored as 0: a free port at each start (tests use it; URLs then change at each start);
- a cluster enrolled before the port was stored keeps the old behaviour (variable, else 32100) until the
  next ``enroll``, which stores it.
"""

from __future__ import annotations

import errno
import json
import os
import socket
from pathlib import Path

from autonomy.errors import ClusterError, ConfigError

__all__ = ["DEFAULT_PORT", "ENV", "choose_port", "stored_port", "store_port", "port_in_use", "busy_message",
           "requested_port"]

DEFAULT_PORT = 32100
SCAN = 100
ENV = "AUTONOMY_PUBLIC_PORT"


def requested_port(flag: int | None) -> tuple[int | None, str | None]:
    """``(port, where it came from)`` asked for by ``--port`` or the variable; ``(None, None)`` if neither."""
    if flag is not None:
        return _valid(flag, "--port"), "--port"
    raw = os.environ.get(ENV, "").strip()
    if not raw:
        return None, None
    try:
        return _valid(int(raw), ENV), ENV
    except ValueError:
        raise ConfigError(f"{ENV}={raw!r} must be a port number (0 picks a free port at each start)") from None


def _valid(port: int, field: str) -> int:
    if not 0 <= port <= 65535:
        raise ConfigError(f"{field}: {port} is not a port number (1-65535, or 0 for a free port at each start)")
    return port


def port_in_use(port: int, host: str = "127.0.0.1") -> bool:
    """True when ``host:port`` cannot be bound now (another program listens there)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((host, port))
        except OSError as exc:
            return exc.errno in (errno.EADDRINUSE, errno.EACCES)
    return False


def busy_message(port: int) -> str:
    return (f"The public port {port} is in use by another program: enroll with another one, "
            f"`autonomy cluster enroll --port N` (or {ENV}=N), or stop what uses it")


def choose_port(flag: int | None) -> tuple[int, str | None]:
    """The port to store at enroll, and a note to show when it is not the one that was expected."""
    port, source = requested_port(flag)
    if port is not None:
        if port and port_in_use(port):
            raise ClusterError(busy_message(port))
        return port, None
    for candidate in range(DEFAULT_PORT, DEFAULT_PORT + SCAN):
        if not port_in_use(candidate):
            note = f"port {DEFAULT_PORT} is in use: the public port is {candidate}"
            return candidate, None if candidate == DEFAULT_PORT else note
    raise ClusterError(f"ports {DEFAULT_PORT}-{DEFAULT_PORT + SCAN - 1} are all in use: "
                       f"`autonomy cluster enroll --port N` (or {ENV}=N) picks another")


def stored_port(home: Path) -> int | None:
    """The port stored in ``home/cluster.json``, or None (not enrolled, or enrolled before ports were stored)."""
    try:
        value = json.loads((home / "cluster.json").read_text()).get("public_port")
    except (OSError, ValueError, AttributeError):
        return None
    return value if isinstance(value, int) and 0 <= value <= 65535 else None


def store_port(home: Path, port: int) -> None:
    """Write ``public_port`` into ``home/cluster.json`` (which must exist), atomically."""
    path = home / "cluster.json"
    data = json.loads(path.read_text())
    data["public_port"] = port
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(data, indent=2) + "\n")
    os.replace(tmp, path)


def start_port(home: Path) -> int:
    """The port a starting controller serves on: the stored one, else the variable, else the default."""
    stored = stored_port(home)
    if stored is not None:
        return stored
    port, _ = requested_port(None)
    return DEFAULT_PORT if port is None else port
