"""The container shim's cost: what a container start through its shim (:mod:`autonomy.cluster.local.shim`)
costs over spawning the container bare, and what a shim holds while it runs.

    .venv/bin/python -m benchmarks.bench_shim                    (or: python -m benchmarks.run shim)
    .venv/bin/python -m benchmarks.bench_shim --compare OLD.py   (another shim file measured in the same run,
                                                                  e.g. `git show REV:autonomy/cluster/local/shim.py`)

Real processes: the container is ``/bin/sleep 600``. A bare start is ``subprocess.Popen`` of it (the
baseline); a start through the shim is ``ContainerProcess.start()`` until ``wait_started()`` returns (the
shim's handshake: the container was spawned), as the controller does. For each shim the table gives the
median wall time of a start, the shim's own CPU time up to its handshake (``/proc/<pid>/stat``
utime+stime), its resident memory (``VmRSS``) once the container runs, and the controller's (this
process's) CPU and threads per start; starts alternate between the cases, so load drifts hit them alike.
Then :data:`BATCH` containers are started at once (a zone of ``clones: 50``), timed until all run.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from autonomy.cluster.local import supervisor  # noqa: E402
from autonomy.cluster.local.supervisor import ContainerProcess  # noqa: E402

ROUNDS = 10
BATCH = 50
# wall s, shim CPU s, shim RSS KB, controller CPU s, controller threads added
Row = tuple[float, float, int, float, int]
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


async def _shimmed(shim: str, home: Path, n: int) -> Row:
    supervisor.SHIM = shim
    proc = ContainerProcess(f"bench/{n}", ARGV, {"PATH": "/usr/bin:/bin"}, home, home / f"{n}.log",
                            state_path=home / "shims" / f"{n}.json")
    threads = threading.active_count()
    began, ours = time.perf_counter(), time.process_time()
    proc.start()
    await proc.wait_started()
    took, ours = time.perf_counter() - began, time.process_time() - ours
    assert proc.alive and proc.shim_pid is not None, proc.status()
    cpu, rss, threads = _cpu(proc.shim_pid), _rss_kb(proc.shim_pid), threading.active_count() - threads
    await proc.stop()
    return took, cpu, rss, ours, threads


async def _batch(shim: str, home: Path) -> float:
    """Seconds until BATCH containers started at once all run (as a zone of ``clones: 50`` does)."""
    supervisor.SHIM = shim
    procs = [ContainerProcess(f"batch/{n}", ARGV, {"PATH": "/usr/bin:/bin"}, home, home / f"b{n}.log",
                              state_path=home / "shims" / f"b{n}.json") for n in range(BATCH)]
    began = time.perf_counter()
    for proc in procs:
        proc.start()
    await asyncio.gather(*(p.wait_started() for p in procs))
    took = time.perf_counter() - began
    assert all(p.alive for p in procs)
    await asyncio.gather(*(p.stop() for p in procs))
    return took


async def _measure(shims: dict[str, str], home: Path) -> tuple[list[float], dict[str, list[Row]]]:
    bare: list[float] = []
    runs: dict[str, list[Row]] = {name: [] for name in shims}
    for n in range(ROUNDS):
        bare.append(_bare())
        for name, path in shims.items():
            runs[name].append(await _shimmed(path, home, n))
    return bare, runs


async def _batches(shims: dict[str, str], home: Path) -> dict[str, float]:
    return {name: await _batch(path, home) for name, path in shims.items()}


def main(argv: list[str]) -> None:
    shims = {"this shim": supervisor.SHIM}
    if argv[:1] == ["--compare"]:
        shims["compared shim"] = str(Path(argv[1]).resolve())
    home = Path(tempfile.mkdtemp(prefix="bs-", dir="/tmp"))
    try:
        bare, runs = asyncio.run(_measure(shims, home))
        batches = asyncio.run(_batches(shims, home))
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
    print("| shim | start -> container spawned | over bare spawn | shim CPU to handshake (mean) | shim RSS "
          "| controller CPU per start | controller threads per container |")
    print("|---|---|---|---|---|---|---|")
    for name, rows in runs.items():
        took = statistics.median(r[0] for r in rows)
        cpu = statistics.fmean(r[1] for r in rows)  # a mean: /proc counts CPU in 10 ms ticks
        rss = statistics.median(r[2] for r in rows)
        print(f"| {name} | {took * 1000:.0f} ms | +{(took - b) * 1000:.0f} ms ({took / b:.0f}x) | "
              f"{cpu * 1000:.1f} ms | {rss / 1024:.1f} MB | {statistics.median(r[3] for r in rows) * 1000:.1f} ms "
              f"| {max(r[4] for r in rows)} |")
    if len(runs) == 2:
        (_, new), (_, old) = runs.items()
        ratio = [statistics.fmean(r[i] for r in new) / max(statistics.fmean(r[i] for r in old), 1e-9)
                 if i == 1 else statistics.median(r[i] for r in new) / statistics.median(r[i] for r in old)
                 for i in range(3)]
        print(f"| this / compared | {ratio[0]:.2f} | – | {ratio[1]:.2f} | {ratio[2]:.2f} | – | – |")
    print(f"\n{BATCH} containers started at once, until all run (one round each):\n")
    print("| shim | seconds | ratio to the first |\n|---|---|---|")
    first = next(iter(batches.values()))
    for name, took in batches.items():
        print(f"| {name} | {took:.2f} s | {took / first:.2f} |")


if __name__ == "__main__":
    main(sys.argv[1:])
