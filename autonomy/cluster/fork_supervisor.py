"""Keep a service process running by forking it again from a parent that has already imported its code.

The gateway daemon's repair must not wait for a new interpreter to import the service's code (seconds on a
loaded 2-core machine): :func:`supervise` runs in a parent process that imported everything, forks the
service, and forks it again at once when it dies by a signal or an unexpected exit code (a SIGKILL, an
OOM kill, a crash). Decisions:

- the child dies with the parent (``PR_SET_PDEATHSIG`` = SIGKILL): a killed supervisor never leaves a
  service holding the ports that its replacement needs;
- exit codes 0 (asked to stop) and 1 (refused to start: a busy port, another daemon) end the supervisor
  with that code: those are not crashes, forking again would fail the same way;
- SIGTERM and SIGINT to the parent are passed to the child (which then stops and exits 0);
- a child that keeps dying is forked again after a backoff (0.1 s doubling to 5 s; reset after 10 s up).
  The parent runs no thread and no event loop, so forking it is safe.
"""

from __future__ import annotations

import ctypes
import logging
import os
import signal
import sys
import time
from collections.abc import Callable

__all__ = ["supervise"]

log = logging.getLogger("autonomy.cluster")

_PR_SET_PDEATHSIG = 1
STABLE = 10.0


def _die_with_parent(parent: int) -> None:
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
    except (OSError, AttributeError):  # not Linux: the service then outlives a killed supervisor
        pass
    if os.getppid() != parent:  # the parent died before prctl took effect
        os._exit(1)


def supervise(child: Callable[[int], int]) -> int:
    """Run ``child(generation)`` (0 first, then 1, 2, ... after each crash) in a forked process until it
    exits with 0 or 1; returns that code."""
    generation, backoff = 0, 0.1
    current = 0

    def forward(signum: int, frame: object) -> None:
        if current:
            os.kill(current, signum)
    signal.signal(signal.SIGTERM, forward)
    signal.signal(signal.SIGINT, forward)
    while True:
        parent = os.getpid()
        started = time.monotonic()
        sys.stdout.flush()
        sys.stderr.flush()
        pid = os.fork()
        if pid == 0:
            signal.signal(signal.SIGTERM, signal.SIG_DFL)
            signal.signal(signal.SIGINT, signal.SIG_DFL)
            _die_with_parent(parent)
            code = 1
            try:
                code = child(generation)
            finally:
                sys.stdout.flush()
                sys.stderr.flush()
                os._exit(code)
        current = pid
        while True:
            try:
                _, status = os.waitpid(pid, 0)
                break
            except InterruptedError:
                continue
        current = 0
        code = os.waitstatus_to_exitcode(status)
        if code in (0, 1):
            return code
        if time.monotonic() - started > STABLE:
            backoff = 0.1
        log.error("the service (pid %d) died (%s): forking it again in %.1f s", pid,
                  f"signal {-code}" if code < 0 else f"exit code {code}", backoff)
        time.sleep(backoff)  # a crash loop must not spin: there is no event to wait for here
        backoff = min(backoff * 2, 5.0)
        generation += 1
