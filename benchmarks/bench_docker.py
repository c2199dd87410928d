"""The Docker runtime with its zone networks: a zone deploy to its first 200, against the process runtime.

    .venv/bin/python -m benchmarks.bench_docker        (or: python -m benchmarks.run docker)

``examples/fanout`` (4 pods, 4 autonomy nodes) deployed until the first 200 from its public URL, on a
cluster with ``AUTONOMY_RUNTIME=docker`` (a bridge network per zone, nftables) and, as the baseline in
the same run, on one with the process runtime (sandbox, namespaces); median of :data:`ROUNDS` each,
after one deploy per runtime that is not counted (it builds the images: "images cached" is the goal's
condition). Goal (issue 8): < 10 s with Docker, < 3 s with processes.

Needs root and a Docker Engine (scripts/system-deps); prints why not otherwise.
"""

from __future__ import annotations

import os
import shutil
import statistics
import tempfile
from pathlib import Path

from autonomy.cluster import ClusterClient
from benchmarks.bench_zones import _deploy

ROUNDS = 3


def _zone(runtime: str) -> list[float]:
    home = Path(tempfile.mkdtemp(prefix="abd-", dir="/tmp"))
    saved = os.environ.get("AUTONOMY_RUNTIME")
    os.environ["AUTONOMY_RUNTIME"] = runtime
    os.environ["AUTONOMY_PUBLIC_PORT"] = "0"
    client = ClusterClient(home)
    try:
        info = client.enroll()
        firsts = []
        for _ in range(ROUNDS + 1):
            firsts.append(_deploy(client, info)[1])
            client.delete_zone("fanout")
        return firsts[1:]
    finally:
        client.stop()
        shutil.rmtree(home, ignore_errors=True)
        if saved is None:
            os.environ.pop("AUTONOMY_RUNTIME", None)
        else:
            os.environ["AUTONOMY_RUNTIME"] = saved


def main() -> None:
    if os.geteuid() != 0 or shutil.which("docker") is None:
        print("## Docker runtime\n\nNot measured: needs root and a Docker Engine (scripts/system-deps).")
        return
    load = os.getloadavg()
    process, docker = statistics.median(_zone("process")), statistics.median(_zone("docker"))
    print("\n".join([
        "## Docker runtime",
        "",
        f"`examples/fanout` (4 pods) deployed until the first 200 from its public URL, median of {ROUNDS} "
        "after one uncounted deploy per runtime (images cached); Docker pods on their zone's bridge network "
        f"under the cluster's nftables rules. Load average {load[0]:.2f}; {os.cpu_count()} cores.",
        "",
        "| measure | process runtime (baseline) | Docker runtime | ratio | goal |",
        "|---|---|---|---|---|",
        f"| `examples/fanout` (4 pods) deploy to first 200 | {process:.2f} s | {docker:.2f} s | "
        f"{docker / process:.2f}x | < 3 s process, < 10 s Docker |",
    ]))


if __name__ == "__main__":
    main()
