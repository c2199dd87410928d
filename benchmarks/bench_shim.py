"""The container shim's cost: what a container start through its shim (:mod:`autonomy.cluster.local.shim`)
costs over spawning the container bare, and what a shim holds while it runs.

    .venv/bin/python -m benchmarks.bench_shim                    (or: python -m benchmarks.run shim)
    .venv/bin/python -m benchmarks.bench_shim --compare OLD.py   (another shim file measured in the same run,
                                                                  e.g. `git show REV:autonomy/cluster/local/shim.py`)

Real processes: the container is ``/bin/sleep 600``. A bare start is ``subprocess.Popen`` of it (the
baseline); a start through the shim is ``ContainerProcess.start()`` until ``wait_started()`` returns (the
shim's handshake: the container was spawned), as the controller does. For each shim the table gives the
median wall time of a start, the shim's own CPU time up to its handshake (``/proc/<pid>/stat``
utime+stime) and its resident memory (``VmRSS``) once the container runs; starts alternate between the
cases, so load drifts hit them alike.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from autonomy.cluster.local import supervisor  # noqa: E402
from autonomy.cluster.local.supervisor import ContainerProcess  # noqa: E402

ROUNDS = 10
ARGV = ["/bin/sleep", "600"]
TICK = os.sysconf("SC_CLK_TCK")


def _cpu(pid: int) -> float:
    stat = Path(f"/proc/{pid}/stat").read_bytes()
    fields = stat[stat.rfind(b")") + 2:].split()
    return (int(fields[11]) + int(fields[12])) / TICK


def _rss_kb(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return 0


def _bare() -> float:
    began = time.perf_counter()
    proc = subprocess.Popen(ARGV, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT,
                            start_new_session=True)
    took = time.perf_counter() - began
    proc.kill()
    proc.wait()
    return took


async def _shimmed(shim: str, home: Path, n: int) -> tuple[float, float, int]:
    supervisor.SHIM = shim
    proc = ContainerProcess(f"bench/{n}", ARGV, {"PATH": "/usr/bin:/bin"}, home, home / f"{n}.log",
                            state_path=home / "shims" / f"{n}.json")
    began = time.perf_counter()
    proc.start()
    await proc.wait_started()
    took = time.perf_counter() - began
    assert proc.alive and proc.shim_pid is not None, proc.status()
    cpu, rss = _cpu(proc.shim_pid), _rss_kb(proc.shim_pid)
    await proc.stop()
    return took, cpu, rss


async def _measure(shims: dict[str, str], home: Path) -> tuple[list[float], dict[str, list[tuple[float, float, int]]]]:
    bare: list[float] = []
    runs: dict[str, list[tuple[float, float, int]]] = {name: [] for name in shims}
    for n in range(ROUNDS):
        bare.append(_bare())
        for name, path in shims.items():
            runs[name].append(await _shimmed(path, home, n))
    return bare, runs


def main(argv: list[str]) -> None:
    shims = {"this shim": supervisor.SHIM}
    if argv[:1] == ["--compare"]:
        shims["compared shim"] = str(Path(argv[1]).resolve())
    home = Path(tempfile.mkdtemp(prefix="bs-", dir="/tmp"))
    try:
        bare, runs = asyncio.run(_measure(shims, home))
    finally:
        shutil.rmtree(home, ignore_errors=True)
    b = statistics.median(bare)
    bare_rss = "import os; print(open(f'/proc/{os.getpid()}/status').read().split('VmRSS:')[1].split()[0])"
    interpreter = subprocess.run([sys.executable, "-I", "-S", "-c", bare_rss], capture_output=True,
                                 text=True).stdout.strip()
    print("## Container shim: cost per container (process runtime)\n")
    print(f"`python -m benchmarks.bench_shim`: `/bin/sleep 600` as the container, {ROUNDS} starts per case, "
          f"alternating, median. Baseline: the same command spawned bare (`subprocess.Popen`, "
          f"{b * 1000:.1f} ms). A bare `python -I -S` holds {interpreter} KB. "
          f"Load average {os.getloadavg()[0]:.2f}; {os.cpu_count()} cores.\n")
    print("| shim | start -> container spawned | over bare spawn | shim CPU to handshake | shim RSS |")
    print("|---|---|---|---|---|")
    for name, rows in runs.items():
        took = statistics.median(r[0] for r in rows)
        cpu = statistics.median(r[1] for r in rows)
        rss = statistics.median(r[2] for r in rows)
        print(f"| {name} | {took * 1000:.0f} ms | +{(took - b) * 1000:.0f} ms ({took / b:.0f}x) | "
              f"{cpu * 1000:.0f} ms | {rss / 1024:.1f} MB |")
    if len(runs) == 2:
        (_, new), (_, old) = runs.items()
        ratio = [statistics.median(r[i] for r in new) / max(statistics.median(r[i] for r in old), 1e-9)
                 for i in range(3)]
        print(f"| this / compared | {ratio[0]:.2f} | – | {ratio[1]:.2f} | {ratio[2]:.2f} |")


if __name__ == "__main__":
    main(sys.argv[1:])
