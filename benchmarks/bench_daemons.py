"""Cluster daemons: SIGKILL of the controller and of the gateway daemon on a real local cluster.

    .venv/bin/python -m benchmarks.bench_daemons        (or: python -m benchmarks.run daemons)

A local cluster (host network, process runtime) in a temporary home, one zone whose public main pod is a
small stdlib HTTP server. A thread polls the zone's public URL and the model gateway (no key: 401 means
it answers) every 50 ms. Controller: SIGKILL, then time until a new controller (started by the gateway
daemon) answers, and how long the public URL failed (today the restarted controller redeploys the zone's
containers; once they are re-adopted that window should be 0). Gateway daemon: SIGKILL, then time until
the public URL answers again (its supervisor forks it again) and until the controller has re-attached.
Baseline: a cold ``cluster start`` of the same cluster, in the same run.
"""

from __future__ import annotations

import os
import shutil
import signal
import statistics
import sys
import tempfile
import textwrap
import threading
import time
from pathlib import Path
from typing import Any

import httpx

from autonomy.cluster import ClusterClient
from autonomy.zones.loading import load_zone

KILLS = 3
APP = textwrap.dedent('''
    import os
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, *args):
            pass

        def do_GET(self):
            self.send_response(200)
            self.send_header("Content-Length", "2")
            self.end_headers()
            self.wfile.write(b"ok")

    ThreadingHTTPServer(("0.0.0.0", int(os.environ["DEFAULT_PORT_HTTP"])), Handler).serve_forever()
''')
ZONE = """
name: bench
pods:
  - name: main-pod
    public: true
    containers:
      - name: web
        image: web
"""


class Poller(threading.Thread):
    def __init__(self, public: str, gateway: str) -> None:
        super().__init__(daemon=True)
        self.public, self.gateway = public, gateway
        self.results: list[tuple[float, int, int]] = []  # (time, public status, model gateway status)
        self.stopped = threading.Event()

    def run(self) -> None:
        with httpx.Client(timeout=10, headers={"Connection": "close"}) as http:
            while not self.stopped.is_set():
                statuses = []
                for url in (self.public, self.gateway):
                    try:
                        statuses.append(http.get(url).status_code)
                    except httpx.HTTPError:
                        statuses.append(0)
                self.results.append((time.monotonic(), statuses[0], statuses[1]))
                self.stopped.wait(0.05)


def _until(condition: Any, timeout: float = 60.0) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(0.02)
    raise RuntimeError("timed out")


def _public_ok(client: ClusterClient) -> bool:
    port = client.show()["public_port"]
    try:
        return httpx.get(f"http://127.0.0.1:{port}/z/bench/", timeout=5).status_code == 200
    except httpx.HTTPError:
        return False


def main() -> None:
    home = Path(tempfile.mkdtemp(prefix="abd-", dir="/tmp"))
    source = Path(tempfile.mkdtemp(prefix="abd-src-"))
    os.environ.update(AUTONOMY_PUBLIC_PORT="0", AUTONOMY_NETWORK="host", AUTONOMY_RUNTIME="process")
    (source / "autonomy.yaml").write_text(ZONE)
    (source / "images" / "web").mkdir(parents=True)
    (source / "images" / "web" / "Dockerfile").write_text('FROM ghcr.io/build-trust/autonomy-python\n'
                                                          'COPY . .\nENTRYPOINT ["python", "main.py"]\n')
    (source / "images" / "web" / "main.py").write_text(APP)
    client = ClusterClient(home)
    controller, downtime, no_answer, daemon, public = [], [], 0, [], []
    try:
        client.enroll()
        list(client.deploy(load_zone(source), {}, source))
        client.stop()
        started = time.monotonic()
        client.start()
        cold = time.monotonic() - started  # baseline: a cold start of the controller and its daemons
        _until(lambda: _public_ok(client))
        info = client.show()
        poller = Poller(f"http://127.0.0.1:{info['public_port']}/z/bench/",
                        info["gateway_url"].rstrip("/") + "/v1/models")
        poller.start()
        for _ in range(KILLS):
            before = client.show()
            killed = time.monotonic()
            os.kill(before["pid"], signal.SIGKILL)
            _until(lambda: client.running and client.show()["pid"] != before["pid"])  # noqa: B023
            controller.append(time.monotonic() - killed)
            _until(lambda: _public_ok(client) and any(t > time.monotonic() - 0.3 and s == 200  # noqa: B023
                                                     for t, s, _ in poller.results[-4:]))
            window = [r for r in poller.results if r[0] >= killed]
            failed = [t for t, s, _ in window if s != 200]
            downtime.append((failed[-1] - killed) if failed else 0.0)
            no_answer += sum(1 for _, _, g in window if g == 0)
        for _ in range(KILLS):
            before = client.show()
            _until(lambda: poller.results[-1][1] == 200)
            killed, polls = time.monotonic(), len(poller.results)
            os.kill(before["gateways"]["pid"], signal.SIGKILL)
            # a poll that began after the kill (the first one after it may have begun before) answered 200
            _until(lambda: len(poller.results) > polls + 1 and poller.results[-1][1] == 200)  # noqa: B023
            public.append(time.monotonic() - killed)
            _until(lambda: client.show()["gateways"]["restarts"] == before["gateways"]["restarts"] + 1)  # noqa: B023
            daemon.append(time.monotonic() - killed)
        poller.stopped.set()
        poller.join()
    finally:
        client.stop()  # the controller, its gateway daemon, NATS and the zone
        shutil.rmtree(home, ignore_errors=True)
        shutil.rmtree(source, ignore_errors=True)

    def fig(values: list[float]) -> str:
        return f"{statistics.median(values):.2f} s, {max(values):.2f} s"
    print("## Cluster daemons: controller and gateway daemon crashes\n")
    print(f"`python -m benchmarks.bench_daemons`: a local cluster (host network), one zone with a public stdlib "
          f"HTTP pod; {KILLS} SIGKILLs each; the public URL and the model gateway polled every 50 ms. Baseline: "
          "a cold `cluster start` of the same cluster in the same run. The public URL's downtime comes from the "
          "restarted controller redeploying the zone's containers (until they are re-adopted).\n")
    print("| measure | value (median, max) | baseline | ratio (max) |\n|---|---|---|---|")
    print(f"| controller SIGKILL -> a new controller answers (started by the gateway daemon) | {fig(controller)} | "
          f"cold start {cold:.2f} s | {max(controller) / cold:.2f} |")
    print(f"| controller SIGKILL -> the last failed poll of the public URL | {fig(downtime)} | "
          f"goal 0 s once containers are re-adopted | – |")
    print(f"| model gateway polls without an answer while the controller was down | {no_answer} | 0 | – |")
    print(f"| gateway daemon SIGKILL -> public URL answers again (forked again by its supervisor) | {fig(public)} | "
          f"cold start {cold:.2f} s | {max(public) / cold:.2f} |")
    print(f"| gateway daemon SIGKILL -> the controller has re-attached to the new one | {fig(daemon)} | "
          f"cold start {cold:.2f} s | {max(daemon) / cold:.2f} |")
    print()


if __name__ == "__main__":
    sys.exit(main())
