"""`autonomy zone repl`: a deployed zone's Repl, reached by the zone's owner through the controller only.

A real local cluster (namespace network; the process runtime, then the Docker runtime) runs a zone whose
node starts an agent and upstream's `Repl` (bound to 0.0.0.0 on purpose: even a REPL that listens wide
stays out of other zones' reach), and a second zone whose pod probes TCP addresses. The agent's model is
the fake endpoint, through the cluster's model gateway. The owner speaks the REPL protocol with Debian's
`nc -U` (or a raw socket sending the same bytes where netcat is missing) and with `autonomy zone repl`.
"""

from __future__ import annotations

import os
import shutil
import socket
import stat
import subprocess
import sys
import textwrap
from pathlib import Path

import httpx
import pytest

from autonomy.errors import ClusterError
from tests.cluster.apps import write_zone
from tests.cluster.conftest import deploy, needs_root
from tests.support.fake_llm import FakeLLM

pytestmark = [needs_root, pytest.mark.slow]

AUTONOMY = str(Path(sys.executable).parent / "autonomy")

REPL_ZONE = """
    name: replz
    pods:
      - name: main-pod
        containers:
          - name: main
            image: agent
            env:
              DEFAULT_HOST_REPL: "0.0.0.0"
"""

AGENT = textwrap.dedent('''
    from autonomy import Agent, Node, Repl

    async def two_plus_two():
        return 2 + 2

    async def main(node):
        agent = await Agent.start(node=node, name="henry", instructions="You are concise.")
        await Repl.start(agent, functions={"two_plus_two": two_plus_two})

    Node.start(main)
''')

PROBE_ZONE = """
    name: probez
    pods:
      - name: main-pod
        containers:
          - name: main
            image: probe
"""

# GET /tcp?host=H&port=P: "OK" if a TCP connection to H:P opens from inside this pod, else the error.
PROBE = textwrap.dedent('''
    import json, os, socket
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self):
            query = dict(p.split("=", 1) for p in self.path.split("?", 1)[1].split("&"))
            try:
                socket.create_connection((query["host"], int(query["port"])), timeout=3).close()
                outcome = "OK"
            except OSError as exc:
                outcome = f"{type(exc).__name__}: {exc}"
            body = json.dumps({"outcome": outcome}).encode()
            self.send_response(200)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args):
            pass

    ThreadingHTTPServer(("0.0.0.0", int(os.environ["DEFAULT_PORT_HTTP"])), Handler).serve_forever()
''')


RUNTIMES = [
    "process",
    pytest.param("docker", marks=[pytest.mark.timeout(900), pytest.mark.skipif(
        not Path("/etc/debian_version").exists() or shutil.which("dockerd") is None,
        reason="needs Debian's docker.io (scripts/system-deps installs and starts it)")]),
]


@pytest.fixture(scope="module", params=RUNTIMES)
def world(request, make_cluster, tmp_path_factory):
    with FakeLLM() as llm:
        client = make_cluster("namespace", request.param)
        try:
            client.add_model("fake", url=llm.base_url, default=True)
            tmp = tmp_path_factory.mktemp(f"repl-{request.param}")
            repl, _ = deploy(client, write_zone(tmp / "replz", REPL_ZONE, {"agent": AGENT}))
            probe, _ = deploy(client, write_zone(tmp / "probez", PROBE_ZONE, {"probe": PROBE}))
            yield {"client": client, "llm": llm, "repl": repl, "probe": probe}
        finally:  # the other runtime's cluster does not run beside this one
            client.stop()


def talk(path: str, lines: bytes) -> bytes:
    """What the REPL answers to ``lines`` (then end of input), as `nc -U -N` shows it."""
    if shutil.which("nc"):
        done = subprocess.run(["nc", "-N", "-U", path], input=lines, capture_output=True, timeout=120)
        assert done.returncode == 0, done.stderr
        return done.stdout
    with socket.socket(socket.AF_UNIX) as sock:  # the same bytes, without netcat
        sock.settimeout(120)
        sock.connect(path)
        sock.sendall(lines)
        sock.shutdown(socket.SHUT_WR)
        out = b""
        while data := sock.recv(65536):
            out += data
        return out


def frames(output: bytes) -> list[bytes]:
    """The payloads of upstream's frames ``<length>\\n<bytes>`` (``b""`` for the end-of-answer ``0\\n``)."""
    out = []
    while output:
        header, _, output = output.partition(b"\n")
        out.append(output[:int(header)])
        output = output[int(header):]
    return out


def test_the_owner_evaluates_over_the_zones_repl_as_upstreams_nc_users_do(world):
    world["llm"].reply("Hello from henry")
    opened = world["client"].open_repl("replz")
    assert opened["pod"] == "main-pod-0" and opened["port"] == 7000
    output = talk(opened["socket"], b":run two_plus_two\nhi henry\n:quit\n")
    payloads = frames(output)
    assert b"Welcome to Autonomy" in payloads[0]
    assert payloads[1] == b"4\n\n"  # `:run` answers the function's value
    assert b"".join(payloads[2:]) == b"Hello from henry" and payloads[-1] == b""  # streamed, then the end frame
    sent = world["llm"].completion_requests()[-1].json["messages"]
    assert sent[-1] == {"role": "user", "content": "hi henry"}


def test_the_repl_socket_is_private_and_serves_one_client(world):
    opened = world["client"].open_repl("replz")
    path = Path(opened["socket"])
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert stat.S_IMODE(path.parent.stat().st_mode) == 0o700
    with socket.socket(socket.AF_UNIX) as sock:
        sock.settimeout(60)
        sock.connect(str(path))
        assert b"Welcome to Autonomy" in sock.recv(65536)
        assert not path.exists()  # one use: gone once its client is attached
        sock.sendall(b":quit\n")


def test_the_cli_attaches_the_terminal_and_decodes_the_frames(world):
    world["llm"].reply("Decoded answer")
    env = {**os.environ, "AUTONOMY_HOME": str(world["client"].home)}
    done = subprocess.run([AUTONOMY, "zone", "repl", "replz", "--pod", "main-pod"], input="hello\n:quit\n",
                          capture_output=True, text=True, env=env, timeout=120)
    assert done.returncode == 0, done.stderr
    assert "Decoded answer" in done.stdout and "\n> " in done.stdout
    assert "\n0\n" not in done.stdout and not done.stdout.startswith(tuple("0123456789"))


def test_another_zones_pod_cannot_reach_the_repl(world):
    repl_address = world["repl"]["pods"][0]["addresses"][0].split(":")[0]
    probe_address = world["probe"]["pods"][0]["addresses"][0]
    response = httpx.get(f"http://{probe_address}/tcp", params={"host": repl_address, "port": "7000"}, timeout=30)
    assert response.status_code == 200
    assert response.json()["outcome"] != "OK"
    with pytest.raises(ClusterError, match="nothing answers on 127.0.0.1:7000 in pod main-pod-0"):
        world["client"].open_repl("probez")  # and a pod without a REPL is a clear refusal, not a hang


def test_an_unknown_pod_names_the_zones_pods(world):
    with pytest.raises(ClusterError, match=r"zone 'replz' has no pod 'nope' clone 0: its pods are main-pod"):
        world["client"].open_repl("replz", pod="nope")
