"""A controller that was killed leaves its NATS server running: the next one of the same home adopts it (same
process, same URL, nodes stay connected) and can still repair it; a server of the home that does not serve
today's address is replaced."""

from __future__ import annotations

import os
import signal
import subprocess
import sys

from autonomy.cluster.fabric import start_fabric
from autonomy.cluster.pid_process import PidProcess
from tests.support.until import until_sync

CLUSTER = "0123456789abcdef0123456789abcdef"


def test_a_running_nats_server_of_the_home_is_adopted_and_still_repaired(tmp_path):
    first = start_fabric(tmp_path, CLUSTER, "127.0.0.1")
    second = None
    try:
        second = start_fabric(tmp_path, CLUSTER, "127.0.0.1")  # as a controller started after a SIGKILL
        assert second.server.pid == first.server.pid and second.url == first.url
        os.kill(first.server.pid, signal.SIGKILL)
        until_sync(lambda: not second.server.running, timeout=30, what="the adopted server to be seen dead")
        assert second.server.restart() == first.url  # the watch's repair: same port
        assert second.server.pid != first.server.pid
    finally:
        if second is not None:
            second.stop()
        first.stop()


def test_a_server_of_the_home_on_another_address_is_replaced(tmp_path):
    first = start_fabric(tmp_path, CLUSTER, "127.0.0.1")
    second = None
    try:
        second = start_fabric(tmp_path, CLUSTER, "127.0.0.2")  # the pod network changed
        until_sync(lambda: first.server._process.poll() is not None, timeout=30, what="the old server to exit")
        assert second.server.pid != first.server.pid and second.url.startswith("tls://127.0.0.2:")
    finally:
        if second is not None:
            second.stop()
        first.stop()


def test_a_pid_process_waits_on_a_process_it_did_not_start():
    child = subprocess.Popen([sys.executable, "-c", "import sys; sys.stdin.read()"], stdin=subprocess.PIPE)
    process = PidProcess(child.pid)
    try:
        assert process.poll() is None
        child.stdin.close()
        assert process.wait(30) in (0, -1)  # its exit code when it is ours to reap, else unknown
    finally:
        process.close()
        child.wait(30)
