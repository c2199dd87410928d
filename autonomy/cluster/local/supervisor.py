"""One supervised container: a process group, its log file, restarts with exponential backoff.

A container runs as the leader of its own session/process group (``start_new_session``), so stopping
it signals the whole group: SIGTERM, then SIGKILL after ``grace`` seconds; any process left in the group
after the leader exits is killed too (nothing is left behind). stdout and stderr go through a pipe to
``log_path``; the file is capped at ``LOG_CAP`` bytes and rotated once to ``<log>.1``.

When the process exits without being stopped it is started again after a backoff of 0.5 s doubling
per consecutive quick exit, capped at 30 s; a run that lasted ``STABLE_AFTER`` seconds resets the
backoff. States: ``starting``, ``running``, ``restarting`` (waiting for its backoff after an exit),
``crashed`` (crash-looping: ``CRASH_LOOP`` quick exits in a row, or the command cannot be started;
still retried at the capped backoff), ``stopped``.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import signal
import time
from collections.abc import Callable
from pathlib import Path

__all__ = ["ContainerProcess", "LOG_CAP"]

log = logging.getLogger("autonomy.cluster")

LOG_CAP = 10 * 2**20
BACKOFF_FIRST = 0.5
BACKOFF_CAP = 30.0
STABLE_AFTER = 10.0
CRASH_LOOP = 5


class ContainerProcess:
    """Runs ``argv`` (already wrapped for namespace/cgroup) with ``env`` in ``cwd``, supervised."""

    def __init__(self, label: str, argv: list[str], env: dict[str, str], cwd: Path, log_path: Path,
                 on_restart: Callable[[], int] | None = None, grace: float = 3.0,
                 data: dict[str, bytes] | None = None) -> None:
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
        self.state = "starting"
        self.pid: int | None = None
        self.restarts = 0
        self.last_exit: int | None = None
        self.last_error = ""
        self._proc: asyncio.subprocess.Process | None = None
        self._task: asyncio.Task[None] | None = None
        self._stopping = False
        self._started = asyncio.Event()

    def start(self) -> None:
        """Start supervising; returns at once. ``wait_started()`` waits for the first spawn."""
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        self._task = asyncio.get_running_loop().create_task(self._supervise(), name=f"container {self.label}")
        self._task.add_done_callback(self._task_done)

    def _task_done(self, task: asyncio.Task[None]) -> None:
        if not task.cancelled() and task.exception() is not None:
            self.state, self.last_error = "crashed", f"supervisor failed: {task.exception()!r}"
            log.error("supervisor of %s failed", self.label, exc_info=task.exception())
        self._started.set()  # whoever waits for the first spawn learns of the failure from ``state``

    async def wait_started(self) -> None:
        await self._started.wait()

    @property
    def alive(self) -> bool:
        return self._proc is not None and self._proc.returncode is None

    async def _supervise(self) -> None:
        backoff = BACKOFF_FIRST
        quick_exits = 0
        while not self._stopping:
            began = time.monotonic()
            try:
                await self._run_once()
            except (OSError, ValueError) as exc:  # cannot be started (missing file, permission, NUL in env)
                self.last_error = f"cannot start {self.argv[0]!r}: {exc}"
                self._write_log(f"[autonomy] {self.last_error}\n".encode())
                self._started.set()
            if self._stopping:
                break
            quick_exits = 0 if time.monotonic() - began >= STABLE_AFTER else quick_exits + 1
            if quick_exits == 0:
                backoff = BACKOFF_FIRST
            self.state = "crashed" if quick_exits >= CRASH_LOOP or self.pid is None else "restarting"
            self._write_log(f"[autonomy] exited with {self.last_exit}; restarting in {backoff:g} s\n".encode())
            await asyncio.sleep(backoff)
            backoff = min(backoff * 2, BACKOFF_CAP)
            if self._stopping:
                break
            self.restarts = self.on_restart() if self.on_restart else self.restarts + 1
        self.state = "stopped"

    async def _run_once(self) -> None:
        self.pid = None
        argv = self.argv
        pipes: dict[str, int] = {}
        try:
            for placeholder, data in self.data.items():
                pipes[placeholder] = _data_pipe(data)
        except BaseException:
            for fd in pipes.values():
                os.close(fd)
            raise
        argv = [str(pipes[a]) if a in pipes else a for a in argv]
        fds = tuple(pipes.values())
        try:
            proc = await asyncio.create_subprocess_exec(
                *argv, env=self.env, cwd=str(self.cwd), stdin=asyncio.subprocess.DEVNULL,
                stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT, start_new_session=True,
                pass_fds=fds,
            )
        finally:
            for fd in fds:
                os.close(fd)
        self._proc, self.pid, self.state = proc, proc.pid, "running"
        self._started.set()
        assert proc.stdout is not None
        pump = asyncio.ensure_future(self._pump(proc.stdout))
        try:
            self.last_exit = await proc.wait()
        finally:
            _killpg(proc.pid, signal.SIGKILL)  # children left in the group go with the leader
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(asyncio.shield(pump), 2.0)
            pump.cancel()

    async def _pump(self, stream: asyncio.StreamReader) -> None:
        while chunk := await stream.read(65536):
            self._write_log(chunk)

    def _write_log(self, data: bytes) -> None:
        try:
            if self.log_path.exists() and self.log_path.stat().st_size + len(data) > LOG_CAP:
                os.replace(self.log_path, self.log_path.with_name(self.log_path.name + ".1"))
            with open(self.log_path, "ab") as f:
                f.write(data)
        except OSError as exc:
            log.warning("cannot write the log of %s: %s", self.label, exc)

    async def stop(self) -> None:
        """Stop the container and its process group; returns when they are gone."""
        self._stopping = True
        proc = self._proc
        if proc is not None and proc.returncode is None:
            _killpg(proc.pid, signal.SIGTERM)
            try:
                await asyncio.wait_for(proc.wait(), self.grace)
            except TimeoutError:
                _killpg(proc.pid, signal.SIGKILL)
        if self._task is not None:
            if proc is None or proc.returncode is not None:
                self._task.cancel()  # it may be sleeping in its backoff
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        self.state = "stopped"

    def status(self) -> dict[str, object]:
        return {"state": self.state, "pid": self.pid if self.alive else None, "restarts": self.restarts,
                "last_exit": self.last_exit, "last_error": self.last_error or None, "log": str(self.log_path)}


def _data_pipe(data: bytes) -> int:
    """The read end of a pipe holding ``data`` (written whole, write end closed): a file for bwrap's
    ``--ro-bind-data`` that never exists on disk nor in argv."""
    read, write = os.pipe()
    try:
        if len(data) > 60_000:  # more than a pipe buffers without a reader
            raise ValueError(f"{len(data)} bytes are too many to pass through a pipe")
        os.write(write, data)
    except BaseException:
        os.close(read)
        raise
    finally:
        os.close(write)
    return read


def _killpg(pgid: int, sig: int) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pgid, sig)


MARKER = "AUTONOMY_SUPERVISOR"


def kill_orphans(cluster_id: str) -> int:
    """Kill the process groups of containers a previous controller of this cluster left running.

    Containers carry ``AUTONOMY_SUPERVISOR=<cluster id>`` in their environment (a controller killed
    with SIGKILL cannot stop them); returns how many groups were killed.
    """
    marker = f"{MARKER}={cluster_id}".encode()
    groups: set[int] = set()
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit() or int(entry.name) == os.getpid():
            continue
        try:
            if marker in (entry / "environ").read_bytes().split(b"\0"):
                groups.add(os.getpgid(int(entry.name)))
        except (OSError, ProcessLookupError):
            continue
    for pgid in groups:
        _killpg(pgid, signal.SIGKILL)
    return len(groups)
