"""Running a workspace command in a bubblewrap sandbox (``Workspace.terminal``, spec §1.5).

Our decision (upstream runs ``bash -c`` directly unless it is under gVisor): a command an agent
chose always runs in a sandbox, never directly on the host. The sandbox is bubblewrap (``bwrap``,
Debian package ``bubblewrap``):

* a fresh root holding read-only ``/usr``, ``/bin``, ``/lib*``, ``/sbin`` and ``/etc``, a private
  ``/tmp``, ``/proc`` and ``/dev``; the workspace directory is the only writable place, at
  ``/workspace`` (also the working directory and ``HOME``);
* new user, PID, network, IPC, UTS and cgroup namespaces (no network at all), no capabilities, a
  new session (no terminal injection), killed with its caller (``--die-with-parent``);
* a clean environment (``PATH``, ``HOME``, ``PWD``, ``WORKSPACE``, ``LANG``): the node's own
  environment, which may hold secrets, never reaches the command.

Where bubblewrap is missing or cannot create namespaces, :class:`SandboxUnavailable` says so and
what to install; nothing runs unsandboxed. Output is stdout and stderr combined, stripped, capped
at :data:`MAX_OUTPUT` characters; a non-zero exit status is appended as ``[exit status N]``.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import shutil
import signal
import subprocess
from pathlib import Path

from autonomy.errors import AutonomyError

__all__ = ["SandboxUnavailable", "sandbox_problem", "run_sandboxed", "MAX_OUTPUT", "SANDBOX_PATH"]

MAX_OUTPUT = 100_000
SANDBOX_PATH = "/workspace"
_ENV = {"PATH": "/usr/local/bin:/usr/bin:/bin", "HOME": SANDBOX_PATH, "PWD": SANDBOX_PATH,
        "WORKSPACE": SANDBOX_PATH, "LANG": "C.UTF-8"}
_problem: list[str | None] = []  # cached probe result (the host does not change under a running node)


class SandboxUnavailable(AutonomyError):
    """Commands cannot run here: no working bubblewrap. The message says what to install."""

    http_status = 503


def _arguments(workspace: Path) -> list[str]:
    bwrap = shutil.which("bwrap") or "bwrap"
    args = [bwrap, "--tmpfs", "/", "--ro-bind", "/usr", "/usr"]
    for path in ("/bin", "/lib", "/lib32", "/lib64", "/sbin", "/etc"):
        args += ["--ro-bind-try", path, path]
    args += ["--proc", "/proc", "--dev", "/dev", "--tmpfs", "/tmp", "--bind", str(workspace), SANDBOX_PATH,
             "--chdir", SANDBOX_PATH, "--unshare-all", "--die-with-parent", "--new-session", "--cap-drop", "ALL",
             "--clearenv"]
    for key, value in _ENV.items():
        args += ["--setenv", key, value]
    return args


def sandbox_problem() -> str | None:
    """None when sandboxed commands can run here, else why not and what to do (probed once)."""
    if _problem:
        return _problem[0]
    problem = None
    if shutil.which("bwrap") is None:
        problem = ("commands run only in a bubblewrap sandbox, and 'bwrap' is not installed: install the "
                   "Debian package bubblewrap (apt-get install bubblewrap)")
    else:
        probe = Path("/tmp") if os.access("/tmp", os.W_OK) else Path.cwd()
        try:
            done = subprocess.run([*_arguments(probe), "--", "/bin/true"], capture_output=True, timeout=30,
                                  stdin=subprocess.DEVNULL)
        except (OSError, subprocess.TimeoutExpired) as exc:
            problem = f"bubblewrap could not start ({exc})"
        else:
            if done.returncode != 0:
                problem = ("bubblewrap cannot create its sandbox here (" + done.stderr.decode(errors="replace").strip()
                           + "): allow unprivileged user namespaces (sysctl kernel.unprivileged_userns_clone=1) or "
                           "run the node where it may create namespaces")
    _problem.append(problem)
    return problem


async def run_sandboxed(workspace: Path, command: str, timeout: float) -> str:
    """Run ``bash -c command`` in the sandbox with ``workspace`` at ``/workspace``; the combined output.

    Raises SandboxUnavailable when no sandbox can run. On timeout the whole sandbox is killed and the
    output so far is returned with a note."""
    problem = sandbox_problem()
    if problem is not None:
        raise SandboxUnavailable(problem)
    process = await asyncio.create_subprocess_exec(
        *_arguments(workspace), "--", "/bin/bash", "-c", command, stdin=asyncio.subprocess.DEVNULL,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT, start_new_session=True)
    assert process.stdout is not None
    chunks: list[bytes] = []
    size = 0

    async def read() -> None:
        nonlocal size
        while chunk := await process.stdout.read(65536):  # type: ignore[union-attr]
            if size < MAX_OUTPUT * 4:
                chunks.append(chunk)
            size += len(chunk)
        await process.wait()

    timed_out = False
    try:
        await asyncio.wait_for(read(), timeout)
    except TimeoutError:
        timed_out = True
    finally:
        if process.returncode is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGKILL)
            await process.wait()
    output = b"".join(chunks).decode(errors="replace").strip()
    if len(output) > MAX_OUTPUT:
        output = output[:MAX_OUTPUT] + f"\n[... output truncated at {MAX_OUTPUT} characters]"
    if timed_out:
        return (output + "\n" if output else "") + f"[command timed out after {timeout:g} s and was killed]"
    if process.returncode:
        return (output + "\n" if output else "") + f"[exit status {process.returncode}]"
    return output
