"""The Docker runtime with its zone networks: a zone deploy to its first 200, against the process runtime.

    .venv/bin/python -m benchmarks.bench_docker        (or: python -m benchmarks.run docker)

``examples/fanout`` (4 pods, 4 autonomy nodes) deployed until the first 200 from its public URL, on a
cluster with ``AUTONOMY_RUNTIME=docker`` (a bridge network per zone, nftables) and, as the baseline in
the same run, on one with the process runtime (sandbox, namespaces); median of :data:`ROUNDS` each,
after one deploy per runtime that is not counted (it builds the images: "images cached" is the goal's
condition). Goal (issue 8): < 10 s with Docker, < 3 s with processes.

``examples/webui`` (one pod: a Node.js UI built with ``RUN apt-get`` beside a Python node) is deployed
the same way on the Docker cluster, until the first 200 of its UI->node round trip (``/api/hello``),
against the fanout deploy of the same run (its ratio says what a second, non-Python image in a pod costs).

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


WEBUI = Path(__file__).resolve().parents[1] / "examples" / "webui"


def _webui(client: ClusterClient, info: dict) -> float:
    """Seconds from the deploy until the first 200 of the UI's round trip to the Python node."""
    import time

    import httpx

    from autonomy.zones.loading import load_zone

    start = time.perf_counter()
    for _ in client.deploy(load_zone(WEBUI), {}, WEBUI):
        pass
    url, headers = f"http://127.0.0.1:{info['public_port']}/api/hello", {"Host": f"{info['id']}-webui.localhost"}
    with httpx.Client(timeout=30) as http:
        while True:
            try:
                if http.get(url, headers=headers).status_code == 200:
                    return time.perf_counter() - start
            except httpx.HTTPError:
                pass
            time.sleep(0.02)


def _zone(runtime: str, webui: list[float] | None = None) -> list[float]:
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
        if webui is not None:  # deleting the zone removes its images: the rounds redeploy over it instead
            for _ in range(ROUNDS + 1):
                webui.append(_webui(client, info))
            client.delete_zone("webui")
            webui[:] = webui[1:]
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
    webui: list[float] = []
    process, docker = statistics.median(_zone("process")), statistics.median(_zone("docker", webui))
    ui = statistics.median(webui)
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
        f"| `examples/webui` (Node.js UI + Python node, 1 pod) redeploy to the UI's first round trip, "
        f"vs fanout under Docker | {docker:.2f} s (fanout) | {ui:.2f} s | {ui / docker:.2f}x | < 10 s Docker |",
    ]))


if __name__ == "__main__":
    main()
