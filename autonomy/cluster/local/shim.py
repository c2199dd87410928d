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
re-adopts it from its state file (:mod:`.adoption`).

It is lean on purpose (one runs per container; docs/reliability.md has its cost): the standard library's
smallest parts only (no asyncio, subprocess, threading, pathlib, typing, nor json's and signal's
Python halves, which import re and enum), nothing of the cluster's code
or state. One thread waits on everything through ``select.poll``: the container's output pipe, a pidfd
that reads ready when the container exits, and the signal wakeup fd a SIGTERM writes to (so a stop
interrupts any wait, backoff included). The container is spawned with ``os.posix_spawn`` (vfork + exec).
"""

from __future__ import annotations

import binascii
import os
import select
import sys
import time

TYPE_CHECKING = False
if TYPE_CHECKING:  # typing costs a shim start more than all of the rest: for the type checker only
    import signal
    from typing import Any
else:  # signal's C half: signal.py adds enums, whose import (with re's, json's) is ~half a shim's start CPU
    import _signal as signal

# json's C half, likewise (CPython's, as the project requires): the spec is read and the state file
# written as json.loads and json.dump would.
from _json import encode_basestring_ascii, make_encoder, make_scanner  # noqa: E402


class _Decoding:
    strict = True
    object_hook = object_pairs_hook = None
    parse_float, parse_int, parse_constant = float, int, float


def _unserializable(value: object) -> object:
    raise TypeError(f"{type(value).__name__} is not JSON serializable")


_scan = make_scanner(_Decoding())  # type: ignore[arg-type]  # any object with these attributes will do
_encode = make_encoder(None, _unserializable, encode_basestring_ascii, None, ": ", ", ", False, False, True)


def _loads(text: str) -> Any:
    try:
        return _scan(text.strip(), 0)[0]
    except StopIteration:
        raise ValueError("the spec on stdin is not JSON") from None  # never quoted: it holds secrets


def _dumps(value: Any) -> str:
    return "".join(_encode(value, 0))

__all__ = ["LOG_CAP", "SHIM_MARKER", "process_start_time", "write_state", "main"]

LOG_CAP = 10 * 2**20
BACKOFF_FIRST = 0.5
BACKOFF_CAP = 30.0
STABLE_AFTER = 10.0
CRASH_LOOP = 5
DRAIN = 2.0  # seconds the output of an exited container (a grandchild may hold its pipe) is still read
#: In the shim's own environment (never in the container's): ``AUTONOMY_SHIM=<cluster id>``.
SHIM_MARKER = "AUTONOMY_SHIM"


def process_start_time(pid: int) -> int | None:
    """The start time of process ``pid`` (clock ticks since boot, field 22 of ``/proc/<pid>/stat``), or
    None when there is no such process: with the pid it names one process for the life of the machine."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as f:
            stat = f.read()
    except OSError:
        return None
    fields = stat[stat.rfind(b")") + 2:].split()
    if fields[0] == b"Z":  # a zombie is gone already
        return None
    return int(fields[19])


def write_state(path: str | os.PathLike[str], state: dict[str, Any]) -> None:
    """Write ``state`` to ``path`` whole (a temporary file renamed over it), 0600."""
    path = os.fspath(path)
    head, name = os.path.split(path)
    tmp = os.path.join(head, f".{name}.{os.getpid()}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with open(fd, "w") as f:
        f.write(_dumps(state))
    os.replace(tmp, path)


def _killpg(pgid: int, sig: int) -> None:
    try:
        os.killpg(pgid, sig)
    except (ProcessLookupError, PermissionError):
        pass


def data_pipe(data: bytes) -> int:
    """The read end of a pipe holding ``data`` (written whole, write end closed): a file for bwrap's
    ``--ro-bind-data`` that never exists on disk nor in argv."""
    if len(data) > 60_000:  # more than a pipe buffers without a reader
        raise ValueError(f"{len(data)} bytes are too many to pass through a pipe")
    read, write = os.pipe()
    try:
        os.write(write, data)
    except BaseException:
        os.close(read)
        raise
    finally:
        os.close(write)
    return read


def _executable(name: str, env: dict[str, str]) -> str:
    """``name`` looked up in the container's PATH (as ``subprocess`` does) when it has no slash."""
    if "/" in name:
        return name
    for directory in os.get_exec_path(env):
        path = os.path.join(directory, name)
        if os.access(path, os.X_OK) and not os.path.isdir(path):
            return path
    raise FileNotFoundError(2, "No such file or directory", name)


class Shim:
    """Supervises one container as described by ``spec`` (see the module docstring)."""

    def __init__(self, spec: dict[str, Any]) -> None:
        self.argv: list[str] = spec["argv"]
        self.env: dict[str, str] = spec["env"]
        self.cwd: str = spec["cwd"]
        self.log_path: str = spec["log_path"]
        self.state_path: str = spec["state_path"]
        self.grace: float = spec.get("grace", 3.0)
        self.data = {k: binascii.a2b_base64(v) for k, v in spec.get("data", {}).items()}
        self.state: dict[str, Any] = {
            "shim_pid": os.getpid(), "shim_start": process_start_time(os.getpid()), "label": spec["label"],
            "log": self.log_path, "pid": None, "pid_start": None, "state": "starting",
            "restarts": int(spec.get("restarts", 0)), "last_exit": None, "last_error": None,
            "meta": spec.get("meta", {}),
        }
        self.stopping = False
        self._announced = False
        # A signal writes its number to this pipe (``signal.set_wakeup_fd``): every wait polls its read end.
        self._wake, wake_write = os.pipe2(os.O_NONBLOCK | os.O_CLOEXEC)
        signal.set_wakeup_fd(wake_write, warn_on_full_buffer=False)
        signal.signal(signal.SIGTERM, self._on_signal)
        signal.signal(signal.SIGINT, self._on_signal)

    def _on_signal(self, signum: int, frame: object) -> None:
        self.stopping = True

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
        try:
            os.write(1, (_dumps({"pid": self.state["pid"], "state": self.state["state"]}) + "\n").encode())
        except OSError:
            pass
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, 1)
        os.close(devnull)

    def run(self) -> None:
        try:
            self._supervise()
        finally:
            self._set(state="stopped", pid=None, pid_start=None)
            self._announce()

    def _supervise(self) -> None:
        backoff = BACKOFF_FIRST
        quick_exits = 0
        while not self.stopping:
            began = time.monotonic()
            try:
                self._run_once()
            except (OSError, ValueError) as exc:  # cannot be started (missing file, permission, NUL in env)
                error = f"cannot start {self.argv[0]!r}: {exc}"
                self._write_log(f"[autonomy] {error}\n".encode())
                self._set(state="crashed", pid=None, pid_start=None, last_error=error)
                self._announce()
            if self.stopping:
                break
            quick_exits = 0 if time.monotonic() - began >= STABLE_AFTER else quick_exits + 1
            if quick_exits == 0:
                backoff = BACKOFF_FIRST
            spawned = self.state["pid"] is not None
            self._set(state="crashed" if quick_exits >= CRASH_LOOP or not spawned else "restarting",
                      pid=None, pid_start=None)
            self._write_log(f"[autonomy] exited with {self.state['last_exit']}; restarting in {backoff:g} s\n"
                            .encode())
            self._sleep(backoff)  # a SIGTERM ends it at once
            backoff = min(backoff * 2, BACKOFF_CAP)
            if self.stopping:
                break
            self.state["restarts"] += 1

    def _sleep(self, seconds: float) -> None:
        poller = select.poll()
        poller.register(self._wake, select.POLLIN)
        deadline = time.monotonic() + seconds
        while not self.stopping and (left := deadline - time.monotonic()) > 0:
            if poller.poll(left * 1000):
                self._drain_wake()

    def _drain_wake(self) -> None:
        try:
            while os.read(self._wake, 64):
                pass
        except BlockingIOError:
            pass

    def _spawn(self) -> tuple[int, int]:
        """Start the container (a new session, output to a pipe); its pid and the pipe's read end."""
        self.state["pid"] = None
        pipes: dict[str, int] = {}
        try:
            for placeholder, data in self.data.items():
                pipes[placeholder] = data_pipe(data)
            argv = [str(pipes[a]) if a in pipes else a for a in self.argv]
            for fd in pipes.values():
                os.set_inheritable(fd, True)  # posix_spawn passes the fds that are not close-on-exec
            out_read, out_write = os.pipe()
            try:
                os.chdir(self.cwd)  # posix_spawn has no cwd of its own: the shim's is the container's
                pid = os.posix_spawn(
                    _executable(argv[0], self.env), argv, self.env, setsid=True,
                    file_actions=[(os.POSIX_SPAWN_OPEN, 0, os.devnull, os.O_RDONLY, 0),
                                  (os.POSIX_SPAWN_DUP2, out_write, 1), (os.POSIX_SPAWN_DUP2, out_write, 2)])
            except BaseException:
                os.close(out_read)
                raise
            finally:
                os.close(out_write)
                os.chdir("/")
        finally:
            for fd in pipes.values():
                os.close(fd)
        return pid, out_read

    def _run_once(self) -> None:
        pid, out = self._spawn()
        try:
            exited = os.pidfd_open(pid)
        except BaseException:
            os.close(out)
            _killpg(pid, signal.SIGKILL)
            os.waitpid(pid, 0)
            raise
        try:
            self._set(state="running", pid=pid, pid_start=process_start_time(pid))
            self._announce()
            self.state["last_exit"] = self._wait(pid, exited, out)
        finally:
            os.close(exited)
            os.close(out)

    def _wait(self, pid: int, exited: int, out: int) -> int:
        """Pump the container's output to the log until it exits (stopping it on SIGTERM); its exit code.
        Once it exited, its output is still read for :data:`DRAIN` seconds while a writer holds the pipe."""
        poller = select.poll()
        for fd in (out, exited, self._wake):
            poller.register(fd, select.POLLIN)
        code: int | None = None
        deadline: float | None = None  # of the grace after SIGTERM, then of the drain after the exit
        killed, reading = False, True
        while code is None or (reading and deadline is not None and time.monotonic() < deadline):
            if code is None and self.stopping and deadline is None:
                _killpg(pid, signal.SIGTERM)
                deadline = time.monotonic() + self.grace
            elif code is None and deadline is not None and not killed and time.monotonic() >= deadline:
                _killpg(pid, signal.SIGKILL)
                killed = True
            wait = None if deadline is None or (killed and code is None) else max(0.0, deadline - time.monotonic())
            for fd, _ in poller.poll(None if wait is None else wait * 1000):
                if fd == self._wake:
                    self._drain_wake()
                elif fd == exited:
                    poller.unregister(exited)
                    code = os.waitstatus_to_exitcode(os.waitpid(pid, 0)[1])
                    _killpg(pid, signal.SIGKILL)  # children left in the group go with the leader
                    deadline = time.monotonic() + DRAIN
                elif fd == out:
                    if chunk := os.read(out, 65536):
                        self._write_log(chunk)
                    else:  # every writer is gone (the container may still run: it waits on its pidfd)
                        poller.unregister(out)
                        reading = False
        return code

    def _write_log(self, data: bytes) -> None:
        try:
            try:
                if os.stat(self.log_path).st_size + len(data) > LOG_CAP:
                    os.replace(self.log_path, self.log_path + ".1")
            except FileNotFoundError:
                pass
            with open(self.log_path, "ab") as f:
                f.write(data)
        except OSError as exc:
            try:
                os.write(2, f"cannot write the log {self.log_path}: {exc}\n".encode())
            except OSError:
                pass


def main() -> int:
    spec = _loads(sys.stdin.buffer.read().decode())
    os.chdir("/")  # hold no directory of the controller's
    devnull = os.open(os.devnull, os.O_RDONLY)
    os.dup2(devnull, 0)
    os.close(devnull)
    signal.signal(signal.SIGHUP, signal.SIG_IGN)  # the controller's terminal going away is not ours to obey
    shim = Shim(spec)
    try:
        shim.run()
    except BaseException as exc:
        shim._set(state="crashed", pid=None, last_error=f"the shim failed: {exc!r}")
        shim._announce()
        raise
    return 0


if __name__ == "__main__":
    sys.exit(main())
