"""The container shim: one small detached process per container that owns it (like containerd-shim/conmon).

The controller starts ``python -I -S <this file>`` in a session of its own and writes the container's
spec (argv, env, cwd, log path, piped data, restart count, pod facts) as JSON to the shim's stdin, then
closes it: secrets and credentials travel through that pipe, never through argv or a file. The shim then

- starts the container as the leader of its own session/process group, data given through pipes whose
  fd numbers replace placeholders in argv (bwrap's ``--ro-bind-data``), a new pipe at each start;
- writes the container's stdout/stderr to the log file, capped at :data:`LOG_CAP` and rotated once to
  ``<log>.1``;
- restarts it when it exits: a backoff of 0.5 s doubling per consecutive quick exit, capped at 30 s; a
  run that lasted :data:`STABLE_AFTER` seconds resets the backoff; :data:`CRASH_LOOP` quick exits in a
  row (or a command that cannot be started) read ``crashed`` (still retried at the capped backoff);
- keeps its state in a JSON file (0600, written whole and renamed into place at every change): its own
  pid and start time (so a controller can tell it from a later process of the same pid), the
  container's pid, ``state`` (``starting``, ``running``, ``restarting``, ``crashed``, ``stopped``),
  ``restarts``, ``last_exit``, ``last_error`` and the pod facts (``meta``) the controller gave it.
  Never the env nor argv;
- writes one line to its stdout once the container was spawned (or could not be): the controller's
  start-up handshake; stdout is closed right after;
- on SIGTERM stops the container's process group (SIGTERM, then SIGKILL after ``grace`` seconds; any
  process left in the group goes too), writes ``stopped`` and exits 0.

The shim outlives the controller: a controller killed with SIGKILL leaves it running, and the next one
re-adopts it from its state file (:mod:`.adoption`). It imports only the standard library (its start
costs a bare interpreter's, and nothing of the cluster's code or state is loaded into it).
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import json
import os
import signal
import sys
import time
from pathlib import Path
from typing import Any

__all__ = ["LOG_CAP", "process_start_time", "write_state", "main"]

LOG_CAP = 10 * 2**20
BACKOFF_FIRST = 0.5
BACKOFF_CAP = 30.0
STABLE_AFTER = 10.0
CRASH_LOOP = 5
#: In the shim's own environment (never in the container's): ``AUTONOMY_SHIM=<cluster id>``.
SHIM_MARKER = "AUTONOMY_SHIM"


def process_start_time(pid: int) -> int | None:
    """The start time of process ``pid`` (clock ticks since boot, field 22 of ``/proc/<pid>/stat``), or
    None when there is no such process: with the pid it names one process for the life of the machine."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_bytes()
    except OSError:
        return None
    fields = stat[stat.rfind(b")") + 2:].split()
    if fields[0] == b"Z":  # a zombie is gone already
        return None
    return int(fields[19])


def write_state(path: Path, state: dict[str, Any]) -> None:
    """Write ``state`` to ``path`` whole (a temporary file renamed over it), 0600."""
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as f:
        json.dump(state, f)
    os.replace(tmp, path)


def _killpg(pgid: int, sig: int) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pgid, sig)


def data_pipe(data: bytes) -> int:
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


class Shim:
    """Supervises one container as described by ``spec`` (see the module docstring)."""

    def __init__(self, spec: dict[str, Any]) -> None:
        self.argv: list[str] = spec["argv"]
        self.env: dict[str, str] = spec["env"]
        self.cwd: str = spec["cwd"]
        self.log_path = Path(spec["log_path"])
        self.state_path = Path(spec["state_path"])
        self.grace: float = spec.get("grace", 3.0)
        self.data = {k: base64.b64decode(v) for k, v in spec.get("data", {}).items()}
        self.state: dict[str, Any] = {
            "shim_pid": os.getpid(), "shim_start": process_start_time(os.getpid()), "label": spec["label"],
            "log": str(self.log_path), "pid": None, "pid_start": None, "state": "starting",
            "restarts": int(spec.get("restarts", 0)), "last_exit": None, "last_error": None,
            "meta": spec.get("meta", {}),
        }
        self._proc: asyncio.subprocess.Process | None = None
        self._stopping = asyncio.Event()
        self._announced = False

    def _set(self, **changes: Any) -> None:
        self.state.update(changes)
        try:
            write_state(self.state_path, self.state)
        except OSError as exc:
            self._write_log(f"[autonomy] the shim cannot write its state file {self.state_path}: {exc}\n".encode())

    def _announce(self) -> None:
        """The start-up handshake: one line on stdout, then stdout is closed (the controller may be gone)."""
        if self._announced:
            return
        self._announced = True
        with contextlib.suppress(OSError):
            os.write(1, (json.dumps({"pid": self.state["pid"], "state": self.state["state"]}) + "\n").encode())
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, 1)
        os.close(devnull)

    async def run(self) -> None:
        loop = asyncio.get_running_loop()
        loop.add_signal_handler(signal.SIGTERM, self._stopping.set)
        loop.add_signal_handler(signal.SIGINT, self._stopping.set)
        stop_task = asyncio.ensure_future(self._stop_on_signal())
        try:
            await self._supervise()
        finally:
            stop_task.cancel()
            self._set(state="stopped", pid=None, pid_start=None)
            self._announce()

    async def _stop_on_signal(self) -> None:
        await self._stopping.wait()
        proc = self._proc
        if proc is None or proc.returncode is not None:
            return
        _killpg(proc.pid, signal.SIGTERM)
        try:
            await asyncio.wait_for(asyncio.shield(proc.wait()), self.grace)
        except TimeoutError:
            _killpg(proc.pid, signal.SIGKILL)

    async def _supervise(self) -> None:
        backoff = BACKOFF_FIRST
        quick_exits = 0
        while not self._stopping.is_set():
            began = time.monotonic()
            try:
                await self._run_once()
            except (OSError, ValueError) as exc:  # cannot be started (missing file, permission, NUL in env)
                error = f"cannot start {self.argv[0]!r}: {exc}"
                self._write_log(f"[autonomy] {error}\n".encode())
                self._set(state="crashed", pid=None, pid_start=None, last_error=error)
                self._announce()
            if self._stopping.is_set():
                break
            quick_exits = 0 if time.monotonic() - began >= STABLE_AFTER else quick_exits + 1
            if quick_exits == 0:
                backoff = BACKOFF_FIRST
            spawned = self.state["pid"] is not None
            self._set(state="crashed" if quick_exits >= CRASH_LOOP or not spawned else "restarting",
                      pid=None, pid_start=None)
            self._write_log(f"[autonomy] exited with {self.state['last_exit']}; restarting in {backoff:g} s\n"
                            .encode())
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._stopping.wait(), backoff)
            backoff = min(backoff * 2, BACKOFF_CAP)
            if self._stopping.is_set():
                break
            self.state["restarts"] += 1

    async def _run_once(self) -> None:
        self.state["pid"] = None
        pipes: dict[str, int] = {}
        try:
            for placeholder, data in self.data.items():
                pipes[placeholder] = data_pipe(data)
        except BaseException:
            for fd in pipes.values():
                os.close(fd)
            raise
        argv = [str(pipes[a]) if a in pipes else a for a in self.argv]
        fds = tuple(pipes.values())
        try:
            proc = await asyncio.create_subprocess_exec(
                *argv, env=self.env, cwd=self.cwd, stdin=asyncio.subprocess.DEVNULL,
                stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT, start_new_session=True,
                pass_fds=fds,
            )
        finally:
            for fd in fds:
                os.close(fd)
        self._proc = proc
        self._set(state="running", pid=proc.pid, pid_start=process_start_time(proc.pid))
        self._announce()
        assert proc.stdout is not None
        pump = asyncio.ensure_future(self._pump(proc.stdout))
        try:
            code = await proc.wait()
        finally:
            _killpg(proc.pid, signal.SIGKILL)  # children left in the group go with the leader
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(asyncio.shield(pump), 2.0)
            pump.cancel()
        self.state["last_exit"] = code

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
            with contextlib.suppress(OSError):
                os.write(2, f"cannot write the log {self.log_path}: {exc}\n".encode())


def main() -> int:
    spec = json.loads(sys.stdin.buffer.read())
    devnull = os.open(os.devnull, os.O_RDONLY)
    os.dup2(devnull, 0)
    os.close(devnull)
    signal.signal(signal.SIGHUP, signal.SIG_IGN)  # the controller's terminal going away is not ours to obey
    shim = Shim(spec)
    try:
        asyncio.run(shim.run())
    except BaseException as exc:
        shim._set(state="crashed", pid=None, last_error=f"the shim failed: {exc!r}")
        shim._announce()
        raise
    return 0


if __name__ == "__main__":
    sys.exit(main())
