"""Local cluster benchmarks: zone deploy and delete times, the public gateway's overhead.

    .venv/bin/python -m benchmarks.bench_zones        (or: python -m benchmarks.run zones)

Deploys ``examples/fanout`` (4 pods: ``main-pod`` + ``runner-pod`` with ``clones: 3``, real autonomy
nodes on the cluster's NATS) on a fresh local cluster in a temporary AUTONOMY_HOME, and measures:

- deploy: from ``ClusterClient.deploy`` to the first 200 from the zone's public URL on ``/squares``
  (the main node fanning work out to the three runners), goal < 3 s on this machine (issue 8; it was < 5 s);
- delete: ``ClusterClient.delete_zone`` until every process and namespace is gone, goal < 2 s;
- the public gateway's overhead: sequential GETs on one keep-alive connection through the gateway vs
  straight to the main pod's port 8000 (ratio), the same with a new connection per request, and the
  path form ``/z/ZONE/`` (which closes the connection after each response) vs direct keep-alive.

These are the one place where absolute times are the goal; the machine's load average is reported
with them. Network namespaces are used when running as root, else the host network.
"""

from __future__ import annotations

import os
import shutil
import statistics
import tempfile
import time
from pathlib import Path

import httpx

from autonomy.cluster import ClusterClient
from autonomy.zones.loading import load_zone

ROUNDS = 3
REQUESTS = 300
FANOUT = Path(__file__).resolve().parent.parent / "examples" / "fanout"


def _deploy(client: ClusterClient, info: dict) -> tuple[float, float]:
    """(seconds until the deploy's done event, seconds until the first 200 from the public URL)."""
    start = time.perf_counter()
    for event in client.deploy(load_zone(FANOUT), {}, FANOUT):
        if event["event"] == "done":
            done = time.perf_counter() - start
    url = f"http://127.0.0.1:{info['public_port']}/squares?upto=3"
    headers = {"Host": f"{info['id']}-fanout.localhost"}
    with httpx.Client(timeout=30) as http:
        while True:
            try:
                response = http.get(url, headers=headers)
                if response.status_code == 200 and "results" in response.json():
                    return done, time.perf_counter() - start
            except httpx.HTTPError:
                pass
            time.sleep(0.02)


def _requests(url: str, headers: dict[str, str], keep_alive: bool) -> float:
    """Mean seconds per sequential GET."""
    if keep_alive:
        with httpx.Client(timeout=10) as http:
            http.get(url, headers=headers)
            start = time.perf_counter()
            for _ in range(REQUESTS):
                http.get(url, headers=headers).raise_for_status()
            return (time.perf_counter() - start) / REQUESTS
    start = time.perf_counter()
    for _ in range(REQUESTS // 3):
        with httpx.Client(timeout=10) as http:
            http.get(url, headers=headers).raise_for_status()
    return (time.perf_counter() - start) / (REQUESTS // 3)


def main() -> None:
    home = Path(tempfile.mkdtemp(prefix="abz-", dir="/tmp"))
    os.environ["AUTONOMY_PUBLIC_PORT"] = "0"
    load_before = os.getloadavg()
    client = ClusterClient(home)
    try:
        t = time.perf_counter()
        info = client.enroll()
        enroll = time.perf_counter() - t
        deploys, firsts, deletes = [], [], []
        for _ in range(ROUNDS):
            done, first = _deploy(client, info)
            deploys.append(done)
            firsts.append(first)
            t = time.perf_counter()
            client.delete_zone("fanout")
            deletes.append(time.perf_counter() - t)
        _deploy(client, info)
        main_pod = client.zone_status("fanout")["pods"][0]
        # /agents: a built-in route open on the public URL (GET /workers is an admin route the node's guard
        # refuses through the gateway, see autonomy/http/guard.py), not traced by the node itself.
        direct = f"http://{main_pod['address']}:{main_pod['port']}/agents"
        gateway = f"http://127.0.0.1:{info['public_port']}/agents"
        host = {"Host": f"{info['id']}-fanout.localhost"}
        figures = {}
        for keep_alive in (True, False):
            d = statistics.median(_requests(direct, {}, keep_alive) for _ in range(3))
            g = statistics.median(_requests(gateway, host, keep_alive) for _ in range(3))
            figures[keep_alive] = (d, g)
        # The path form for clients that do not resolve *.localhost: the gateway closes after each response.
        path_form = f"http://127.0.0.1:{info['public_port']}/z/fanout/agents"
        figures["path"] = (figures[True][0], statistics.median(_requests(path_form, {}, True) for _ in range(3)))
        client.delete_zone("fanout")
    finally:
        client.stop()
        shutil.rmtree(home, ignore_errors=True)
    load_after = os.getloadavg()
    lines = [
        "## Local cluster: zone deploy, delete, public gateway",
        "",
        f"`examples/fanout` (main-pod + runner-pod clones: 3, 4 autonomy nodes) on a fresh local cluster, "
        f"network `{info['network']}`, {ROUNDS} rounds, median shown (min-max). Load average (1/5/15 min): "
        f"{load_before[0]:.2f}/{load_before[1]:.2f}/{load_before[2]:.2f} before, "
        f"{load_after[0]:.2f}/{load_after[1]:.2f}/{load_after[2]:.2f} after; {os.cpu_count()} cores.",
        "",
        "| figure | time | goal |",
        "|---|---|---|",
        f"| `cluster enroll` (controller start: NATS, bridge, gateway) | {enroll:.2f} s | |",
        f"| `zone deploy` until every node is up (done event) | {_span(deploys)} | |",
        f"| `zone deploy` until the first 200 from the public URL | {_span(firsts)} | < 3 s |",
        f"| `zone delete` (processes, namespaces, state gone) | {_span(deletes)} | < 2 s |",
        "",
        f"Public gateway vs the main pod's port 8000 directly, {REQUESTS} sequential `GET /agents`; the "
        f"gateway's spans (docs/traces.md) {_gateway_spans()}:",
        "",
        "| connection | direct | through the gateway | ratio |",
        "|---|---|---|---|",
    ]
    for keep_alive, label in ((True, "one keep-alive connection"), (False, "new connection per request"),
                              ("path", "path form `/z/fanout/` (a keep-alive client; the gateway closes each)")):
        d, g = figures[keep_alive]
        lines.append(f"| {label} | {d * 1e3:.3f} ms | {g * 1e3:.3f} ms | {g / d:.2f}x |")
    print("\n".join(lines))


def _gateway_spans() -> str:
    from autonomy.cluster.trace_collector import available

    if not available():
        return "off (no `traces` extra)"
    return "off (`AUTONOMY_GATEWAY_TRACES=off`)" if os.environ.get("AUTONOMY_GATEWAY_TRACES") == "off" else "on"


def _span(values: list[float]) -> str:
    return f"{statistics.median(values):.2f} s ({min(values):.2f}-{max(values):.2f})"


if __name__ == "__main__":
    main()
