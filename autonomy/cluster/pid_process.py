"""A process this one did not start, handled like a ``subprocess.Popen`` child: by a pidfd.

The cluster's daemons outlive the process that started them (a SIGKILLed controller leaves its NATS server
and its gateway daemon running), so a restarted controller adopts them by pid. Decision: a pidfd
(``os.pidfd_open``, Linux 5.3+) rather than the pid alone: it names exactly that process (no pid reuse),
becomes readable when it exits (zombie or reaped), so :meth:`PidProcess.wait` and the watchers
(``loop.add_reader``) wait on an event instead of polling.
"""

from __future__ import annotations

import os
import select
import signal
import subprocess
from pathlib import Path

__all__ = ["PidProcess", "alive", "cmdline", "wait_gone"]


def alive(pid: int) -> bool:
    """True while ``pid`` runs (a zombie, left when init does not reap, counts as gone)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] != "Z"


def cmdline(pid: int) -> list[str]:
    """The command line of ``pid`` (empty when it is gone or unreadable)."""
    try:
        return [a.decode(errors="replace") for a in Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0") if a]
    except OSError:
        return []


class PidProcess:
    """``poll``/``wait``/``send_signal``/``terminate``/``kill`` of process ``pid`` (not a child).

    Raises ``ProcessLookupError`` when ``pid`` is already gone."""

    def __init__(self, pid: int) -> None:
        self.pid = pid
        self.fd = os.pidfd_open(pid)
        self.returncode: int | None = None

    def poll(self) -> int | None:
        """None while it runs; then its exit code when it was our child, else -1 (a stranger's code is unknown)."""
        if self.returncode is None and select.select([self.fd], [], [], 0)[0]:
            self.returncode = self._reap()
        return self.returncode

    def _reap(self) -> int:
        try:
            _, status = os.waitpid(self.pid, os.WNOHANG)
            return os.waitstatus_to_exitcode(status)
        except ChildProcessError:
            return -1

    def wait(self, timeout: float | None = None) -> int:
        if self.poll() is None:
            if not select.select([self.fd], [], [], timeout)[0]:
                raise subprocess.TimeoutExpired(str(self.pid), timeout or 0.0)
            self.returncode = self._reap()
        assert self.returncode is not None
        return self.returncode

    def send_signal(self, sig: int) -> None:
        if self.poll() is None:
            signal.pidfd_send_signal(self.fd, sig)

    def terminate(self) -> None:
        self.send_signal(signal.SIGTERM)

    def kill(self) -> None:
        self.send_signal(signal.SIGKILL)

    def close(self) -> None:
        """Close the pidfd (idempotent)."""
        fd, self.fd = self.fd, -1
        if fd >= 0:
            os.close(fd)

    def __del__(self) -> None:
        if getattr(self, "fd", -1) >= 0:
            self.close()


def wait_gone(pid: int, timeout: float) -> bool:
    """True once ``pid`` has exited (within ``timeout``)."""
    try:
        process = PidProcess(pid)
    except ProcessLookupError:
        return True
    try:
        process.wait(timeout)
        return True
    except subprocess.TimeoutExpired:
        return False
    finally:
        process.close()
