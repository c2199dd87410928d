"""One supervised container, as the controller sees it: the client of its shim (:mod:`.shim`).

:class:`ContainerProcess` starts a shim (a detached process of its own session) that owns the container:
it starts it, logs its output, restarts it with backoff, and keeps its state in a state file (see the
shim's docstring for the rules). The controller reads that file for ``state``, ``pid``, ``restarts``,
``last_exit`` and ``last_error``, stops the container by sending SIGTERM to the shim, and waits for the
shim's exit (its child; or, for a shim a previous controller started, through a pidfd). A controller
killed with SIGKILL leaves its shims and their containers running; the next one adopts them
(:meth:`ContainerProcess.adopt`, :mod:`.adoption`).

Secrets never reach the shim's argv or its state file: the container's env and piped data go to the
shim through its stdin.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import json
import logging
import os
import signal
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

from autonomy.cluster.local.shim import LOG_CAP, SHIM_MARKER, process_start_time

__all__ = ["ContainerProcess", "LOG_CAP", "MARKER", "kill_orphans"]

log = logging.getLogger("autonomy.cluster")

SHIM = str(Path(__file__).with_name("shim.py"))
MARKER = "AUTONOMY_SUPERVISOR"
STOP_MARGIN = 10.0  # seconds a shim gets, beyond its container's grace, to exit once asked to stop


class ContainerProcess:
    """Runs ``argv`` (already wrapped for namespace/cgroup) with ``env`` in ``cwd``, through a shim.

    ``on_restart()`` is called once per restart the controller learns of (it returns the new count);
    ``restarts`` starts the shim's count (a zone restored after its shims were lost keeps counting);
    ``meta`` is written into the shim's state file (the pod facts a later controller adopts it by).
    """

    def __init__(self, label: str, argv: list[str], env: dict[str, str], cwd: Path, log_path: Path,
                 on_restart: Callable[[], int] | None = None, grace: float = 3.0,
                 data: dict[str, bytes] | None = None, *, state_path: Path | None = None,
                 meta: dict[str, Any] | None = None, restarts: int = 0, cluster_id: str = "") -> None:
        self.label = label
        # {placeholder: bytes}: each given to the process through a pipe whose fd number replaces the
        # placeholder in argv (a new pipe at each start)
        self.data = data or {}
        self.argv = argv
        self.env = env
        self.cwd = cwd
        self.log_path = log_path
        self.on_restart = on_restart
        self.grace = grace
        self.state_path = state_path or log_path.with_name(log_path.name + ".shim.json")
        self.meta = meta or {}
        self.cluster_id = cluster_id
        self.shim_pid: int | None = None
        self._shim_start: int | None = None
        self._initial_restarts = restarts
        self._seen_restarts = restarts
        self._st: dict[str, Any] = {"state": "starting", "pid": None, "restarts": restarts, "last_exit": None,
                                    "last_error": None}
        self._stamp: tuple[int, int] | None = None
        self._gone: str | None = None  # why the shim is gone, when it went without being asked to
        self._task: asyncio.Task[None] | None = None
        self._stopping = False
        self._started = asyncio.Event()
        self._exited = asyncio.Event()

    # --- start / adopt ---------------------------------------------------------------------------
    def start(self) -> None:
        """Start the shim; returns at once. ``wait_started()`` waits for the container's first spawn."""
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        self.state_path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        self._task = asyncio.get_running_loop().create_task(self._launch(), name=f"shim of {self.label}")
        self._task.add_done_callback(self._task_done)

    @classmethod
    def adopt(cls, record: dict[str, Any], state_path: Path, on_restart: Callable[[], int] | None = None,
              grace: float = 3.0, seen: int | None = None) -> ContainerProcess:
        """The client of the running shim whose state file ``state_path`` holds ``record`` (checked alive
        and ours by :attr:`.adoption.ShimRecord.alive`); its container is not touched. ``seen``: how many of
        its restarts ``on_restart`` was told of already (the others are told at the next look)."""
        restarts = int(record.get("restarts") or 0)
        proc = cls(record["label"], [], {}, Path("/"), Path(record["log"]), on_restart, grace,
                   state_path=state_path, meta=record.get("meta", {}), restarts=restarts)
        proc._seen_restarts = restarts if seen is None else min(seen, restarts)
        proc.shim_pid, proc._shim_start = int(record["shim_pid"]), record["shim_start"]
        proc._st.update({k: record.get(k) for k in ("state", "pid", "restarts", "last_exit", "last_error")})
        proc._started.set()
        proc._task = asyncio.get_running_loop().create_task(proc._watch_adopted(), name=f"shim of {proc.label}")
        proc._task.add_done_callback(proc._task_done)
        return proc

    def _task_done(self, task: asyncio.Task[None]) -> None:
        if not task.cancelled() and task.exception() is not None:
            self._gone = f"supervising its shim failed: {task.exception()!r}"
            log.error("the shim of %s failed", self.label, exc_info=task.exception())
        self._started.set()  # whoever waits for the first spawn learns of the failure from ``state``
        self._exited.set()

    async def wait_started(self) -> None:
        await self._started.wait()

    async def _launch(self) -> None:
        spec = {"label": self.label, "argv": self.argv, "env": self.env, "cwd": str(self.cwd),
                "log_path": str(self.log_path), "state_path": str(self.state_path), "grace": self.grace,
                "data": {k: base64.b64encode(v).decode() for k, v in self.data.items()},
                "restarts": self._initial_restarts, "meta": self.meta}
        # The shim's own environment: nothing of the controller's (which may hold provider keys) but the basics.
        env = {k: os.environ[k] for k in ("PATH", "LANG", "LC_ALL", "TZ") if k in os.environ}
        env[SHIM_MARKER] = self.cluster_id
        errors = self.state_path.with_suffix(".err")
        pid, out = _spawn_shim(json.dumps(spec).encode(), env, errors)
        self.shim_pid, self._shim_start = pid, process_start_time(pid)
        exited = os.pidfd_open(pid)  # our unreaped child: its pid cannot name another process yet
        try:
            line = await _read_line(out)  # the handshake: the container was spawned (or could not be)
            self._refresh()
            if not line:
                self._gone = f"its shim exited before starting it: {_tail(errors) or 'no output'}"
            self._started.set()
            await _readable(exited)
        finally:
            os.close(exited)
        code = os.waitstatus_to_exitcode(os.waitpid(pid, 0)[1])  # noqa: ASYNC222 (it exited: returns at once)
        self._exited.set()
        if not self._stopping and self._gone is None:
            self._gone = f"its shim (pid {pid}) exited unexpectedly with code {code}: {_tail(errors)}"
            log.error("container %s: %s", self.label, self._gone)

    async def _watch_adopted(self) -> None:
        """Wait for an adopted shim (not our child) to exit, through a pidfd."""
        assert self.shim_pid is not None
        try:
            fd = os.pidfd_open(self.shim_pid)
        except ProcessLookupError:
            fd = None
        if fd is not None:
            try:
                if process_start_time(self.shim_pid) == self._shim_start:  # else the pid was reused meanwhile
                    await _readable(fd)
            finally:
                os.close(fd)
        self._exited.set()
        if not self._stopping and self._gone is None:
            self._gone = f"its shim (pid {self.shim_pid}) exited unexpectedly"
            log.error("container %s: %s", self.label, self._gone)

    # --- state -----------------------------------------------------------------------------------
    def _refresh(self) -> dict[str, Any]:
        """The shim's state, read again when its file changed; restarts learnt of go to ``on_restart``."""
        try:
            st = os.stat(self.state_path)
            stamp = (st.st_mtime_ns, st.st_ino)
            if stamp != self._stamp:
                self._st.update(json.loads(self.state_path.read_text()))
                self._stamp = stamp
        except (OSError, ValueError):
            pass
        restarts = int(self._st.get("restarts") or 0)
        while self._seen_restarts < restarts:
            self._seen_restarts += 1
            if self.on_restart is not None:
                self.on_restart()
        return self._st

    @property
    def state(self) -> str:
        if self._stopping and self._exited.is_set():
            return "stopped"
        if self._gone is not None:
            return "crashed"
        return str(self._refresh()["state"])

    @property
    def pid(self) -> int | None:
        pid = self._refresh().get("pid")
        return int(pid) if pid is not None and self._gone is None else None

    @property
    def restarts(self) -> int:
        return int(self._refresh().get("restarts") or 0)

    @property
    def last_exit(self) -> int | None:
        return self._refresh().get("last_exit")

    @property
    def last_error(self) -> str:
        return self._gone or str(self._refresh().get("last_error") or "")

    @property
    def restarted(self) -> bool:
        """Whether the shim restarted its container since this client started or adopted it."""
        return self.restarts > self._initial_restarts

    @property
    def alive(self) -> bool:
        return self.state == "running" and self.pid is not None

    # --- stop ------------------------------------------------------------------------------------
    async def stop(self) -> None:
        """Stop the container and its process group, then its shim; returns when they are gone."""
        self._stopping = True
        if self._task is not None and not self._started.is_set():
            await self._started.wait()
        if self.shim_pid is not None and not self._exited.is_set() and self._ours():
            with contextlib.suppress(ProcessLookupError):
                os.kill(self.shim_pid, signal.SIGTERM)
            try:
                await asyncio.wait_for(self._exited.wait(), self.grace + STOP_MARGIN)
            except TimeoutError:
                log.warning("the shim of %s did not stop in time: killed", self.label)
                pid = self._refresh().get("pid")
                with contextlib.suppress(ProcessLookupError):
                    os.kill(self.shim_pid, signal.SIGKILL)
                if pid:
                    _killpg(int(pid), signal.SIGKILL)
        if self._task is not None:
            with contextlib.suppress(asyncio.CancelledError, asyncio.TimeoutError):
                await asyncio.wait_for(self._task, 5.0)
        self._exited.set()
        for path in (self.state_path, self.state_path.with_suffix(".err")):
            with contextlib.suppress(FileNotFoundError):
                path.unlink()

    def _ours(self) -> bool:
        return self.shim_pid is not None and process_start_time(self.shim_pid) == self._shim_start

    def status(self) -> dict[str, object]:
        return {"state": self.state, "pid": self.pid if self.alive else None, "restarts": self.restarts,
                "last_exit": self.last_exit, "last_error": self.last_error or None, "log": str(self.log_path),
                "shim_pid": self.shim_pid}


def _spawn_shim(spec: bytes, env: dict[str, str], errors: Path) -> tuple[int, int]:
    """Start a shim in a session of its own, ``spec`` on its stdin; its pid and the read end of its stdout.

    The spec (secrets included) is given as an anonymous in-memory file (a memfd, never on disk), so no
    write can block the event loop whatever its size; the shim's stderr appends to ``errors`` (its own
    failures). ``posix_spawn`` and a pidfd rather than asyncio's subprocesses: those start a thread per
    child to wait on it (Python 3.11), i.e. one per container for the life of the controller.
    """
    memfd = os.memfd_create("autonomy-shim-spec", os.MFD_CLOEXEC)
    err = os.open(errors, os.O_WRONLY | os.O_CREAT | os.O_APPEND | os.O_CLOEXEC, 0o600)
    read, write = os.pipe()
    try:
        view = memoryview(spec)
        while view:
            view = view[os.write(memfd, view):]
        os.lseek(memfd, 0, os.SEEK_SET)
        pid = os.posix_spawn(sys.executable, [sys.executable, "-I", "-S", SHIM], env, setsid=True,
                             file_actions=[(os.POSIX_SPAWN_DUP2, memfd, 0), (os.POSIX_SPAWN_DUP2, write, 1),
                                           (os.POSIX_SPAWN_DUP2, err, 2)])
    except BaseException:
        os.close(read)
        raise
    finally:
        for fd in (memfd, err, write):
            os.close(fd)
    os.set_blocking(read, False)
    return pid, read


async def _readable(fd: int) -> None:
    """Wait until ``fd`` reads ready (a pidfd: its process exited)."""
    loop = asyncio.get_running_loop()
    ready: asyncio.Future[None] = loop.create_future()

    def wake() -> None:
        if not ready.done():
            ready.set_result(None)

    loop.add_reader(fd, wake)
    try:
        await ready
    finally:
        loop.remove_reader(fd)


async def _read_line(fd: int) -> bytes:
    """One line from the non-blocking ``fd`` (b"" at end of file); ``fd`` is closed."""
    line = b""
    try:
        while b"\n" not in line:
            try:
                chunk = os.read(fd, 4096)
            except BlockingIOError:
                await _readable(fd)
                continue
            if not chunk:
                break
            line += chunk
    finally:
        os.close(fd)
    return line


def _tail(path: Path, size: int = 2000) -> str:
    try:
        with open(path, "rb") as f:
            f.seek(max(0, f.seek(0, os.SEEK_END) - size))
            return f.read().decode(errors="replace").strip()
    except OSError:
        return ""


def _killpg(pgid: int, sig: int) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pgid, sig)


def kill_orphans(cluster_id: str, keep: set[int] | frozenset[int] = frozenset()) -> int:
    """Kill the shims and containers a previous controller of this cluster left running, but for the
    process groups in ``keep`` (those being adopted).

    Shims carry ``AUTONOMY_SHIM=<cluster id>`` in their environment, containers
    ``AUTONOMY_SUPERVISOR=<cluster id>``; shims go first (so none restarts its container meanwhile).
    Returns how many groups were killed.
    """
    killed = 0
    for marker in (SHIM_MARKER, MARKER):
        groups = _groups_with(f"{marker}={cluster_id}".encode()) - set(keep)
        for pgid in groups:
            _killpg(pgid, signal.SIGKILL)
        killed += len(groups)
    return killed


def _groups_with(marker: bytes) -> set[int]:
    groups: set[int] = set()
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit() or int(entry.name) == os.getpid():
            continue
        try:
            if marker in (entry / "environ").read_bytes().split(b"\0"):
                groups.add(os.getpgid(int(entry.name)))
        except (OSError, ProcessLookupError):
            continue
    return groups
