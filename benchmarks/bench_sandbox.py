"""The process runtime's sandbox: what it costs to start a container in it, and a zone deploy with it.

    .venv/bin/python -m benchmarks.bench_sandbox        (or: python -m benchmarks.run sandbox)

- Container start: the sandbox's argv chain (bwrap + setpriv, as :class:`~autonomy.cluster.local.sandbox.Sandbox`
  renders it, with the credentials and the syscall filter piped in) around ``python -c pass`` and
  ``/bin/true``, against the same command run bare; median of :data:`STARTS` runs each, interleaved.
  Goal: <= 20 ms added.
- Zone deploy: ``examples/fanout`` (4 pods, 4 autonomy nodes) until the first 200 from its public URL,
  on a cluster with the sandbox and, as the baseline in the same run, on one with
  ``AUTONOMY_ISOLATION=none``; median of :data:`ROUNDS`. Goal: < 3 s with the sandbox.

Needs root and bubblewrap (scripts/system-deps); prints why not otherwise.
"""

from __future__ import annotations

import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from autonomy.cluster import ClusterClient
from autonomy.cluster.local.sandbox import (
    DATA_FD,
    SECCOMP_FD,
    Sandbox,
    SandboxPlan,
    sandbox_available,
    write_identity_files,
)
from autonomy.cluster.local.seccomp import filter_program
from benchmarks.bench_zones import _deploy

STARTS = 20
ROUNDS = 3


def _start(argv: list[str], data: dict[str, bytes]) -> float:
    pipes = {}
    for placeholder, blob in data.items():
        read, write = os.pipe()
        os.write(write, blob)
        os.close(write)
        pipes[placeholder] = read
    argv = [str(pipes[a]) if a in pipes else a for a in argv]
    fds = tuple(pipes.values())
    t = time.perf_counter()
    subprocess.run(argv, pass_fds=fds, check=True)
    elapsed = time.perf_counter() - t
    for fd in fds:
        os.close(fd)
    return elapsed


def _starts(command: list[str], tmp: Path) -> tuple[float, float, float, float]:
    """(bare, sandboxed) median seconds to run ``command`` to its end, then (bare, sandboxed) fastest."""
    plan = SandboxPlan(uid=200_777, passwd=write_identity_files(tmp, "bench", 200_777))
    program = filter_program()
    wrapped = Sandbox().wrap(command, plan, with_credentials=True, seccomp=program is not None)
    data = {DATA_FD: b'{"cluster": "bench"}', **({SECCOMP_FD: program} if program is not None else {})}
    bare, boxed = [], []
    for _ in range(STARTS):
        bare.append(_start(command, {}))
        boxed.append(_start(wrapped, data))
    return statistics.median(bare), statistics.median(boxed), min(bare), min(boxed)


def _zone(isolation: str | None) -> list[float]:
    home = Path(tempfile.mkdtemp(prefix="abs-", dir="/tmp"))
    saved = os.environ.get("AUTONOMY_ISOLATION")
    if isolation is None:
        os.environ.pop("AUTONOMY_ISOLATION", None)
    else:
        os.environ["AUTONOMY_ISOLATION"] = isolation
    os.environ["AUTONOMY_PUBLIC_PORT"] = "0"
    client = ClusterClient(home)
    try:
        info = client.enroll()
        firsts = []
        for _ in range(ROUNDS):
            firsts.append(_deploy(client, info)[1])
            client.delete_zone("fanout")
        return firsts
    finally:
        client.stop()
        shutil.rmtree(home, ignore_errors=True)
        if saved is None:
            os.environ.pop("AUTONOMY_ISOLATION", None)
        else:
            os.environ["AUTONOMY_ISOLATION"] = saved


def main() -> None:
    ok, why = sandbox_available()
    if not ok:
        print(f"## Process runtime sandbox\n\nNot measured: {why}.")
        return
    load = os.getloadavg()
    with tempfile.TemporaryDirectory() as tmp:
        python = _starts([sys.executable, "-c", "pass"], Path(tmp))
        true = _starts(["/bin/true"], Path(tmp))
    plain, boxed = statistics.median(_zone("none")), statistics.median(_zone(None))
    lines = [
        "## Process runtime sandbox",
        "",
        f"bubblewrap + setpriv chain as the local deployer renders it (credentials and syscall filter piped in); "
        f"{STARTS} starts each, interleaved with the bare ones, "
        f"median; zone deploys median of {ROUNDS}. Load average {load[0]:.2f}; {os.cpu_count()} cores. On a loaded "
        "shared machine the medians swing with the load (a deploy may even come out faster sandboxed); the "
        "fastest runs show the chain's own cost.",
        "",
        "| measure | bare | sandboxed | added | ratio | added, fastest runs | goal |",
        "|---|---|---|---|---|---|---|",
        f"| start `python -c pass` | {python[0] * 1e3:.1f} ms | {python[1] * 1e3:.1f} ms | "
        f"{(python[1] - python[0]) * 1e3:.1f} ms | {python[1] / python[0]:.2f}x | "
        f"{(python[3] - python[2]) * 1e3:.1f} ms | <= 20 ms added |",
        f"| start `/bin/true` | {true[0] * 1e3:.1f} ms | {true[1] * 1e3:.1f} ms | "
        f"{(true[1] - true[0]) * 1e3:.1f} ms | {true[1] / true[0]:.2f}x | {(true[3] - true[2]) * 1e3:.1f} ms | |",
        f"| `examples/fanout` (4 pods) deploy to first 200 | {plain:.2f} s (`AUTONOMY_ISOLATION=none`) | "
        f"{boxed:.2f} s | {boxed - plain:+.2f} s | {boxed / plain:.2f}x | | < 3 s sandboxed |",
    ]
    print("\n".join(lines))


if __name__ == "__main__":
    main()
