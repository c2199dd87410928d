"""Which runtime runs a local cluster's zones: chosen at enroll, stored with the cluster, used at every start.

``autonomy cluster enroll --runtime docker|process`` stores ``"runtime"`` in ``AUTONOMY_HOME/cluster.json``
(beside the cluster's id and public port, :mod:`.public_port`), so every later start of the controller
runs the same runtime whatever the environment of the command that starts it. Decisions:

- the runtime asked for at enroll: ``--runtime``, else ``AUTONOMY_RUNTIME``, else ``process`` (the
  no-setup default: sandboxed processes); it is stored when the cluster is created;
- at every controller start: ``AUTONOMY_RUNTIME`` when set (an override, for tests and one-off runs),
  else the stored runtime, else ``process`` (a cluster enrolled before the runtime was stored);
- ``--runtime`` naming another runtime than the stored one switches the cluster only while it has no
  zone (a zone deployed by one runtime is not restored by the other): refused otherwise, naming the fix;
  the variable never switches an enrolled cluster (it only overrides a start);
- the runtime is the user's word (``process``, ``docker``); the backend behind it is
  :func:`backend_kind` (``local`` for ``process``), opened by :func:`autonomy.cluster.backends.open_backend`.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

from autonomy.errors import ConfigError

__all__ = ["DEFAULT", "ENV", "RUNTIMES", "backend_kind", "controller_runtime", "requested_runtime",
           "store_runtime", "stored_runtime"]

RUNTIMES = ("process", "docker")
DEFAULT = "process"
ENV = "AUTONOMY_RUNTIME"
_ALIASES = {"local": "process"}  # the backend's name, accepted from the variable as before


def _valid(value: str, field: str) -> str:
    runtime = _ALIASES.get(value.strip().lower(), value.strip().lower())
    if runtime not in RUNTIMES:
        raise ConfigError(f"{field}: runtime {value!r} is unknown: use one of {', '.join(RUNTIMES)}")
    return runtime


def requested_runtime(flag: str | None) -> str | None:
    """The runtime asked for by ``--runtime``, else by ``AUTONOMY_RUNTIME``; None if neither."""
    if flag is not None:
        return _valid(flag, "--runtime")
    raw = os.environ.get(ENV, "").strip()
    return _valid(raw, ENV) if raw else None


def stored_runtime(home: Path) -> str | None:
    """The runtime stored in ``home/cluster.json``, or None (not enrolled, or enrolled before it was stored)."""
    try:
        value = json.loads((home / "cluster.json").read_text()).get("runtime")
    except (OSError, ValueError, AttributeError):
        return None
    return value if value in RUNTIMES else None


def store_runtime(home: Path, runtime: str) -> None:
    """Write ``runtime`` into ``home/cluster.json`` (which must exist), atomically."""
    path = home / "cluster.json"
    data = json.loads(path.read_text())
    data["runtime"] = _valid(runtime, "runtime")
    tmp = path.with_suffix(".runtime.tmp")
    tmp.write_text(json.dumps(data, indent=2) + "\n")
    os.replace(tmp, path)


def controller_runtime(home: Path) -> str:
    """The runtime a starting controller runs: the variable, else the stored one, else :data:`DEFAULT`."""
    raw = os.environ.get(ENV, "").strip()
    if raw:
        return _valid(raw, ENV)
    return stored_runtime(home) or DEFAULT


def backend_kind(runtime: str) -> str:
    """The cluster backend (:data:`autonomy.cluster.backends.BACKENDS`) running ``runtime``."""
    return "local" if runtime == "process" else runtime
