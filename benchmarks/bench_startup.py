"""What a node process costs to start, and how fast many of them start on the local cluster.

    .venv/bin/python -m benchmarks.bench_startup          (or: python -m benchmarks.run startup)
    .venv/bin/python -m benchmarks.bench_startup process  (only the per-process part, ~1 min)

- **One node process**: a bare runner (``Node.start(main)`` whose ``main`` returns at once) joined to an
  embedded nats-server (TLS, the environment a deployer gives it), started :data:`RUNS` times; CPU
  (user + system, from ``wait4``) and peak RSS of each run, median. Run side by side, interleaved: this
  tree, ``main`` (the branch's merge base with main, or the revision in ``AUTONOMY_BENCH_BASE``, extracted
  with ``git archive`` to a temp dir, run on the same venv) and a bare
  ``python -c pass`` as the floor; both trees byte-compiled first. Also what ``import autonomy`` costs
  alone, and the first HTTP request to a node (which builds its FastAPI app, see docs/startup.md) against
  the second.
- **Sandbox chain**: bwrap + setpriv as this tree renders it and as ``main``'s sandbox module does, around
  ``/bin/true`` and ``python -c pass``, against the bare command (:data:`SANDBOX_STARTS` each,
  interleaved). Goal (issue 8): <= 20 ms added.
- **Clones**: ``clones: 50`` of a bare runner on a fresh local cluster until every clone joined the fabric,
  per clone CPU and RSS. Goal: < 15 s on 2 cores. Joined = the clone logged "joined the fabric" (its
  presence started and flushed); the time is that log line's timestamp, from the deploy's start. (An
  observer node of the cluster, as bench_scale had, no longer sees a zone's nodes: the zone is the trust
  boundary on the fabric since issue 8.)
"""

from __future__ import annotations

import compileall
import datetime
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
RUNS = 7

_RUNNER = """
from autonomy import Node

async def main(node):
    pass

Node.start(main, wait_until_interrupted=False)
"""

# The node serves HTTP on a free port; main asks it twice and prints both times (first: app built).
_FIRST_REQUEST = """
import asyncio, time
from autonomy import Node

async def get(address, path):
    reader, writer = await asyncio.open_connection(*address)
    writer.write(f"GET {path} HTTP/1.1\\r\\nHost: x\\r\\nConnection: close\\r\\n\\r\\n".encode())
    await writer.drain()
    data = await reader.read()
    writer.close()
    assert data.startswith(b"HTTP/1.1 200"), data[:200]

async def main(node):
    address = node.http_server.address
    times = []
    for _ in range(2):
        t = time.perf_counter()
        await get(address, "/agents")
        times.append(time.perf_counter() - t)
    print("TIMES", *times)

Node.start(main, wait_until_interrupted=False)
"""


# The peak RSS of the process itself (VmHWM: this program's, reset by exec; a parent's ru_maxrss would
# count the forked copy of the parent before exec).
_PEAK = "\nprint('PEAK', [l.split()[1] for l in open('/proc/self/status') if l.startswith('VmHWM')][0])\n"


def _run(code: str, env: dict[str, str], cwd: Path) -> tuple[float, float, str]:
    """CPU seconds, peak RSS (MiB) and stdout of ``python -c code``."""
    proc = subprocess.Popen([sys.executable, "-c", code + _PEAK], env=env, cwd=cwd, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE)
    out = proc.stdout.read() if proc.stdout else b""
    err = proc.stderr.read() if proc.stderr else b""
    _, status, usage = os.wait4(proc.pid, 0)
    proc.returncode = os.waitstatus_to_exitcode(status)
    if proc.returncode != 0:
        raise RuntimeError(f"node process failed ({proc.returncode}): {err.decode()[-2000:]}")
    text = out.decode()
    return usage.ru_utime + usage.ru_stime, int(text.rsplit("PEAK", 1)[1]) / 1024, text


def _base_description() -> str:
    rev = os.environ.get("AUTONOMY_BENCH_BASE", "").strip()
    return f"the tree at `{rev}` (AUTONOMY_BENCH_BASE)" if rev else "main where this branch left it (the merge base)"


def _main_tree(tmp: Path) -> Path | None:
    """The autonomy package where this branch left ``main`` (their merge base: "before" this branch's
    changes, without what main gained since), extracted under ``tmp``; None without a main branch."""
    target = tmp / "main"
    target.mkdir()
    rev = os.environ.get("AUTONOMY_BENCH_BASE", "").strip()  # on main itself: the revision to compare with
    if not rev:
        base = subprocess.run(["git", "merge-base", "HEAD", "main"], cwd=ROOT, capture_output=True, text=True)
        if base.returncode != 0:
            return None
        rev = base.stdout.strip()
    archive = subprocess.run(["git", "archive", rev, "autonomy"], cwd=ROOT, capture_output=True)
    if archive.returncode != 0:
        return None
    subprocess.run(["tar", "-x", "-C", str(target)], input=archive.stdout, check=True)
    return target


def per_process() -> dict[str, dict[str, float]]:
    from autonomy.transport.credentials import ClusterCredentials
    from autonomy.transport.embedded import EmbeddedNats

    creds = ClusterCredentials.generate()
    with tempfile.TemporaryDirectory(prefix="abs-startup-") as tmp_name, EmbeddedNats([creds]) as server:
        tmp = Path(tmp_name)
        node_file = creds.write_node_credentials(tmp / "node.json")
        cwd = tmp / "cwd"  # not the checkout: PYTHONPATH decides which tree is imported
        cwd.mkdir()
        base = {k: v for k, v in os.environ.items() if k not in ("NODE", "CLUSTER", "ZONE", "PYTHONPATH")}
        base.update(CLUSTER=creds.cluster, ZONE="bench", AUTONOMY_FABRIC_URL=server.url,
                    AUTONOMY_FABRIC_CREDENTIALS=str(node_file), DEFAULT_PORT_HTTP="0", DEFAULT_HOST_HTTP="127.0.0.1")
        trees = {"this tree": ROOT}
        main = _main_tree(tmp)
        if main is not None:
            trees["main"] = main
        for tree in trees.values():  # as the local runtime does (autonomy/cluster/local/bytecode.py)
            compileall.compile_dir(tree / "autonomy", quiet=2)
        samples: dict[str, list[tuple[float, float]]] = {}
        firsts: dict[str, list[tuple[float, float]]] = {}
        for i in range(RUNS):
            samples.setdefault("python -c pass", []).append(_run("pass", base, cwd)[:2])
            for label, tree in trees.items():
                env = {**base, "PYTHONPATH": str(tree), "NODE": f"{creds.cluster}-bench-runner-{i}"}
                samples.setdefault(label, []).append(_run(_RUNNER, env, cwd)[:2])
                samples.setdefault(f"{label}: import autonomy", []).append(_run("import autonomy", env, cwd)[:2])
                out = _run(_FIRST_REQUEST, env, cwd)[2]
                first, second = (float(x) for x in out.split("TIMES", 1)[1].split()[:2])
                firsts.setdefault(label, []).append((first, second))
    figures = {label: {"cpu": statistics.median(c for c, _ in runs), "rss": statistics.median(r for _, r in runs)}
               for label, runs in samples.items()}
    for label, runs in firsts.items():
        figures[label]["first"] = statistics.median(f for f, _ in runs)
        figures[label]["second"] = statistics.median(s for _, s in runs)
    return figures


SANDBOX_STARTS = 30


def _chain_start(argv: list[str], data: dict[str, bytes]) -> float:
    pipes = {}
    for placeholder, blob in data.items():
        read, write = os.pipe()
        os.write(write, blob)
        os.close(write)
        pipes[placeholder] = read
    argv = [str(pipes[a]) if a in pipes else a for a in argv]
    t = time.perf_counter()
    subprocess.run(argv, pass_fds=tuple(pipes.values()), check=True)
    elapsed = time.perf_counter() - t
    for fd in pipes.values():
        os.close(fd)
    return elapsed


def sandbox_chains() -> dict[str, dict[str, float]] | None:
    """The sandbox chain of this tree and of ``main`` (its sandbox module, same mounts of the Python
    environment) around ``/bin/true`` and ``python -c pass``, interleaved with the bare command: median
    and fastest added time. None where there is no sandbox or no main branch."""
    import importlib.util

    from autonomy.cluster.local.sandbox import DATA_FD, SECCOMP_FD, Sandbox, SandboxPlan, sandbox_available
    from autonomy.cluster.local.sandbox import write_identity_files as write_identity
    from autonomy.cluster.local.seccomp import filter_program

    if not sandbox_available()[0]:
        return None
    with tempfile.TemporaryDirectory(prefix="abs-sandbox-") as tmp_name:
        tmp = Path(tmp_name)
        main = _main_tree(tmp)
        if main is None:
            return None
        spec = importlib.util.spec_from_file_location("main_sandbox", main / "autonomy/cluster/local/sandbox.py")
        assert spec is not None and spec.loader is not None
        old = importlib.util.module_from_spec(spec)
        sys.modules["main_sandbox"] = old  # dataclasses look their module up there
        try:
            spec.loader.exec_module(old)
        finally:
            del sys.modules["main_sandbox"]
        new_sandbox, old_sandbox = Sandbox(), old.Sandbox()
        old_sandbox._python = new_sandbox._python  # its roots are computed from its own file's location
        program = filter_program()
        data = {DATA_FD: b"{}", **({SECCOMP_FD: program} if program is not None else {})}
        (tmp / "new").mkdir()
        (tmp / "old").mkdir()
        figures: dict[str, dict[str, float]] = {}
        for label, command in (("/bin/true", ["/bin/true"]),
                               ("python -c pass", [os.path.realpath(sys.executable), "-c", "pass"])):
            chains = {
                "this tree": new_sandbox.wrap(command, SandboxPlan(uid=200_777, passwd=write_identity(
                    tmp / "new", "bench", 200_777)), with_credentials=True, seccomp=program is not None),
                "main": old_sandbox.wrap(command, old.SandboxPlan(uid=200_777, passwd=old.write_identity_files(
                    tmp / "old", "bench", 200_777)), with_credentials=True, seccomp=program is not None)}
            runs: dict[str, list[float]] = {"bare": [], "this tree": [], "main": []}
            for _ in range(SANDBOX_STARTS):
                runs["bare"].append(_chain_start(command, {}))
                for name, argv in chains.items():
                    runs[name].append(_chain_start(argv, data))
            bare_median, bare_min = statistics.median(runs["bare"]), min(runs["bare"])
            for name in chains:
                figures[f"{label}, {name}"] = {"added": statistics.median(runs[name]) - bare_median,
                                               "fastest": min(runs[name]) - bare_min,
                                               "mounts": sum(a in ("--ro-bind", "--bind") for a in chains[name])}
    return figures


CLONES = 50
_ZONE_YAML = f"""name: clones
pods:
  - name: runner-pod
    clones: {CLONES}
    containers:
      - name: runner
        image: runner
"""
_CLONE = "from autonomy import Node\n\nNode.start()\n"
_DOCKERFILE = 'FROM ghcr.io/build-trust/autonomy-python\nCOPY . .\nENTRYPOINT ["python", "main.py"]\n'


def _joined_at(log: Path) -> float | None:
    """The wall-clock time of the clone's "joined the fabric" log line (None before it)."""
    for line in log.read_text(errors="replace").splitlines():
        if "joined the fabric" in line:
            token = line.split(" ", 1)[0]  # the node's log time: UTC, ISO 8601 (autonomy/logs/formatter.py)
            stamp = datetime.datetime.fromisoformat(token.removesuffix("Z")).replace(tzinfo=datetime.UTC)
            return stamp.timestamp()
    return None


def clones() -> dict[str, float]:
    """``clones: 50`` of a bare runner on a fresh local cluster: deploy until every clone has joined."""
    import psutil

    from autonomy.cluster import ClusterClient
    from autonomy.zones.loading import load_zone

    home = Path(tempfile.mkdtemp(prefix="abs-", dir="/tmp"))
    source = home / "zone"
    (source / "images" / "runner").mkdir(parents=True)
    (source / "autonomy.yaml").write_text(_ZONE_YAML)
    (source / "images" / "runner" / "main.py").write_text(_CLONE)
    (source / "images" / "runner" / "Dockerfile").write_text(_DOCKERFILE)
    os.environ["AUTONOMY_PUBLIC_PORT"] = "0"
    client = ClusterClient(home / "cluster")
    logs = home / "cluster" / "zones" / "clones" / "logs"
    try:
        client.enroll()
        start = time.time()
        done = None
        for event in client.deploy(load_zone(source), {}, source):
            if event["event"] == "done":
                done = time.time() - start
        deadline = time.monotonic() + 300
        while True:
            joined = [_joined_at(f) for f in logs.glob("runner-pod-*-runner.log")]
            if len(joined) == CLONES and all(t is not None for t in joined):
                break
            if time.monotonic() > deadline:
                raise RuntimeError(f"{CLONES} clones did not join in 300 s")
            time.sleep(0.2)
        status = client.zone_status("clones")
        pids = [c["pid"] for pod in status["pods"] for c in pod.get("containers", []) if c.get("pid")]
        rss = cpu = 0.0
        for pid in pids:
            try:
                proc = psutil.Process(pid)
                for p in [proc, *proc.children(recursive=True)]:
                    rss += p.memory_info().rss
                    cpu += sum(p.cpu_times()[:2])
            except psutil.NoSuchProcess:
                pass
        client.delete_zone("clones")
    finally:
        client.stop()
        shutil.rmtree(home, ignore_errors=True)
    count = max(len(pids), 1)
    return {"done": done or 0.0, "joined": max(t for t in joined if t is not None) - start, "rss": rss / count,
            "cpu": cpu / count, "processes": len(pids), "load": os.getloadavg()[0]}


def report(figures: dict[str, dict[str, float]], clones: dict[str, float] | None,
           chains: dict[str, dict[str, float]] | None = None) -> str:
    floor = figures["python -c pass"]
    main = figures.get("main")
    lines = ["## Node process start-up", "",
             f"A bare runner (`Node.start(main)`, joined to an embedded nats-server over TLS, HTTP on a free port), "
             f"median of {RUNS} runs, interleaved; `main` is {_base_description()}, run "
             f"from the same venv; 2 cores shared "
             f"(load average {os.getloadavg()[0]:.1f} at the end). How: benchmarks/bench_startup.py; where the time "
             "goes: docs/startup.md.", "",
             "| process | CPU | peak RSS | vs main (CPU) | vs main (RSS) |", "|---|---|---|---|---|"]
    for label in ("python -c pass", "main: import autonomy", "this tree: import autonomy", "main", "this tree"):
        if label not in figures:
            continue
        f = figures[label]
        ref = figures.get("main: import autonomy" if "import" in label else "main")
        ratio = (f"{f['cpu'] / ref['cpu']:.2f}x | {f['rss'] / ref['rss']:.2f}x"
                 if ref is not None and label not in ("python -c pass",) else "- | -")
        name = "bare runner, " + label if label in ("main", "this tree") else label
        lines.append(f"| {name} | {f['cpu'] * 1000:.0f} ms | {f['rss']:.1f} MiB | {ratio} |")
    this = figures["this tree"]
    lines += ["", f"Floor (`python -c pass`): {floor['cpu'] * 1000:.0f} ms CPU, {floor['rss']:.1f} MiB."]
    if main is not None and "first" in main:
        lines.append(f"First HTTP request to a node (`GET /agents`, builds the FastAPI app here): "
                     f"{this['first'] * 1000:.0f} ms, then {this['second'] * 1000:.1f} ms; on main (app built at "
                     f"start): {main['first'] * 1000:.0f} ms, then {main['second'] * 1000:.1f} ms.")
    if chains is not None:
        lines += ["", f"The sandbox's chain (bwrap + setpriv, as the deployer renders it, credentials and syscall "
                  f"filter piped in) against the bare command, {SANDBOX_STARTS} starts each, interleaved; `main` "
                  "is that main's sandbox module with the same Python mounts. The fastest runs show the chain's own "
                  "cost; medians swing with the load.", "",
                  "| command | chain | mounts | added (median) | added (fastest) | goal |", "|---|---|---|---|---|---|"]
        for key, f in chains.items():
            lines.append(f"| `{key.split(', ')[0]}` | {key.split(', ')[1]} | {f['mounts']:.0f} | "
                         f"{f['added'] * 1e3:.1f} ms | {f['fastest'] * 1e3:.1f} ms | <= 20 ms added |")
    if clones is not None:
        k = clones
        lines += ["", "| local cluster | figure | goal |", "|---|---|---|",
                  f"| `clones: 50` of a bare runner: deploy until every clone joined | {k['joined']:.1f} s "
                  f"(done event {k['done']:.1f} s) | < 15 s {'met' if k['joined'] < 15 else '**MISSED**'} |",
                  f"| same, per clone ({k['processes']:.0f} processes) | CPU {k['cpu']:.2f} s, "
                  f"RSS {k['rss'] / 2**20:.0f} MiB | (reported) |", "",
                  f"Load average at the end of the clones run: {k['load']:.1f} (2 cores)."]
    return "\n".join(lines)


def main(argv: list[str]) -> int:
    parts = argv or ["process", "sandbox", "clones"]
    figures = per_process() if "process" in parts else None
    chains = sandbox_chains() if "sandbox" in parts else None
    print(f"sandbox: {chains}", file=sys.stderr, flush=True)
    print(f"process: {figures}", file=sys.stderr, flush=True)
    clones = None
    run_clones = globals()["clones"]
    if "clones" in parts:
        if shutil.which("ip") is None:
            print("clones: skipped (no iproute2)", file=sys.stderr)
        else:
            clones = run_clones()
            print(f"clones: {clones}", file=sys.stderr, flush=True)
    if figures is not None:
        print(report(figures, clones, chains))
    return 0


if __name__ == "__main__":
    t = time.perf_counter()
    code = main(sys.argv[1:])
    print(f"(bench_startup took {time.perf_counter() - t:.0f} s)", file=sys.stderr)
    sys.exit(code)
