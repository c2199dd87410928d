"""Controller crash: how long a restarted controller takes to have a zone of N pods running again, when
it re-adopts the pods' running containers (their shims survived) vs when it must start them again (the
baseline: the shims and containers killed with it, as before re-adoption).

    .venv/bin/python -m benchmarks.bench_adoption        (or: python -m benchmarks.run adoption)

Real processes: a local cluster (process runtime, network namespaces as root), a zone of one pod with N
clones, each a small stdlib HTTP server (tests/cluster/apps.py ``WEB``). Each round SIGKILLs the
controller, starts it again through the client (as the CLI does) and times until ``zone status`` reads
``running`` with every pod answering; rounds alternate between the two cases.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from autonomy.cluster import ClusterClient  # noqa: E402
from autonomy.cluster.local.shim import process_start_time  # noqa: E402
from autonomy.cluster.local.supervisor import kill_orphans  # noqa: E402
from autonomy.zones.loading import load_zone  # noqa: E402
from autonomy.zones.secrets import load_secrets  # noqa: E402
from tests.cluster.apps import WEB, write_zone  # noqa: E402

PODS = 10
ROUNDS = 3


def _kill_controller(client: ClusterClient) -> None:
    pids = subprocess.run(["pgrep", "-f", f"autonomy.cluster.controller --home {client.home}"],
                          capture_output=True, text=True).stdout.split()
    for pid in pids:
        os.kill(int(pid), signal.SIGKILL)
    for pid in pids:
        while process_start_time(int(pid)) is not None:  # None once gone (or a zombie)
            time.sleep(0.01)  # the benchmark waits on another process: there is no event to wait on


def _running(client: ClusterClient, zone: str) -> dict | None:
    try:
        status = client.zone_status(zone)
    except Exception:
        return None
    return status if status["state"] == "running" else None


def _round(client: ClusterClient, cluster_id: str, adopt: bool) -> tuple[float, bool]:
    before = _running(client, "bench")
    assert before is not None
    pids = sorted(c["pid"] for p in before["pods"] for c in p["containers"])
    _kill_controller(client)
    if not adopt:
        kill_orphans(cluster_id)  # the baseline: the pods die with the controller
    began = time.monotonic()
    client.start()
    while (status := _running(client, "bench")) is None:
        time.sleep(0.02)
    took = time.monotonic() - began
    same = sorted(c["pid"] for p in status["pods"] for c in p["containers"]) == pids
    return took, same


def main() -> None:
    home = Path(tempfile.mkdtemp(prefix="ab-", dir="/tmp"))
    os.environ.update({"AUTONOMY_PUBLIC_PORT": "0", "AUTONOMY_RUNTIME": "process"})
    os.environ["AUTONOMY_NETWORK"] = "namespace" if os.geteuid() == 0 else "host"
    client = ClusterClient(home)
    try:
        cluster_id = client.enroll()["id"]
        directory = write_zone(home / "app", f"""
            name: bench
            pods:
              - name: main-pod
                clones: {PODS}
                containers:
                  - name: web
                    image: web
        """, images={"web": WEB})
        events = list(client.deploy(load_zone(directory), load_secrets(directory), directory))
        assert events[-1]["event"] == "done", events[-1]
        adopted, redeployed, kept = [], [], []
        for _ in range(ROUNDS):
            took, same = _round(client, cluster_id, adopt=True)
            adopted.append(took)
            kept.append(same)
            took, _ = _round(client, cluster_id, adopt=False)
            redeployed.append(took)
        a, r = statistics.median(adopted), statistics.median(redeployed)
        print("## Controller crash: re-adopting running pods\n")
        print(f"`python -m benchmarks.bench_adoption`: a zone of {PODS} pods (one small HTTP server each, "
              f"{os.environ['AUTONOMY_NETWORK']} network); the controller SIGKILLed and started again through the "
              f"client, timed until `zone status` reads `running`; {ROUNDS} rounds each, alternating, median. "
              f"Baseline: the same restart with the pods gone (killed with it), which redeploys them. "
              f"Load average {os.getloadavg()[0]:.2f}; {os.cpu_count()} cores.\n")
        print("| measure | value | baseline | ratio |\n|---|---|---|---|")
        print(f"| controller start -> zone running, {PODS} pods re-adopted | {a:.2f} s | {r:.2f} s redeployed "
              f"| {a / r:.2f} |")
        print(f"| pods kept (same pids) after re-adoption | {sum(kept)} of {len(kept)} rounds | – | – |")
    finally:
        try:
            client.stop()
        finally:
            try:
                cluster = json.loads((home / "cluster.json").read_text())["id"]
                kill_orphans(cluster)
                if os.geteuid() == 0:
                    from autonomy.cluster.local.firewall import delete_tables
                    from autonomy.cluster.local.netns import NetnsNetwork

                    NetnsNetwork(cluster).cleanup_stale()
                    delete_tables(f"autonomy_{cluster[:8]}")
            finally:
                shutil.rmtree(home, ignore_errors=True)


if __name__ == "__main__":
    main()
