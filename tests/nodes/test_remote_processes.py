"""Nodes as separate processes with the environment a deployer gives them, joined by a real NATS."""

import asyncio
import json
import os
import signal
import subprocess
import sys

import pytest

from autonomy.errors import NodeLeft, NodeNotFound, WorkerNotFound
from tests.support.until import until
from tests.transport.fabric import APPS, ROOT


def _start(fabric, name, script, **extra):  # noqa: F811
    return subprocess.Popen([sys.executable, str(APPS / script)], env=fabric.env(name, **extra), cwd=ROOT,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def _stop(process):
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
    try:
        process.communicate(timeout=15)  # also closes the pipes
    except subprocess.TimeoutExpired:
        process.kill()
        process.communicate()


async def test_upstream_style_main_ships_a_main_module_worker_to_discovered_runners(fabric):  # noqa: F811
    prefix = f"{fabric.a.cluster}-{fabric.zone}"
    runners = [_start(fabric, f"{prefix}-runner-pod-{i}", "runner.py") for i in range(2)]
    main = _start(fabric, f"{prefix}-main-pod", "main.py", EXPECT_RUNNERS="2")
    try:
        out, err = await asyncio.to_thread(main.communicate, timeout=90)
        assert main.returncode == 0, err[-3000:]
        result = json.loads(next(line for line in out.splitlines() if line.startswith("RESULT "))[7:])
        names = [f"{prefix}-runner-pod-{i}" for i in range(2)]
        assert sorted(result["runners"]) == names
        for name in names:
            assert result["echo"][name] == "echo:ping"
            assert result["first"][name] == {"label": "job", "step": 0, "node": name}
            assert result["streams"][name] == list(range(20))
            assert {"name": "progress"} in result["workers"][name]
    finally:
        for process in [*runners, main]:
            _stop(process)


async def test_a_killed_node_fails_waiting_requests_with_node_left_and_leaves_discovery(fabric):  # noqa: F811
    main = await fabric.node("main")
    name = fabric.name("runner")
    runner = _start(fabric, name, "runner.py")
    try:
        await until(lambda: _echoes(main, name), timeout=30)
        call = asyncio.ensure_future(main.send_and_receive("sleeper", "forever", node=name))
        mailbox = await main.send("sleeper", "forever", node=name)
        await until(lambda: _entered(main, name), what="the runner's sleeper to take the request")
        assert not call.done()
        loop = asyncio.get_running_loop()
        killed_at = loop.time()
        os.kill(runner.pid, signal.SIGKILL)
        with pytest.raises(NodeLeft):
            await asyncio.wait_for(call, 10)
        with pytest.raises(NodeLeft):
            await mailbox.receive(timeout=10)
        await until(lambda: _lacks(main, name), timeout=10)
        detected = loop.time() - killed_at
        print(f"SIGKILL detected in {detected:.2f} s")  # reported with -s; no wall-time assertion
        with pytest.raises(NodeNotFound):
            await main.send_and_receive("echo", "x", node=name, timeout=5)
        _stop(runner)
        runner = _start(fabric, name, "runner.py")  # the pod restarts under the same name
        await until(lambda: _echoes(main, name), timeout=30)
    finally:
        _stop(runner)
        await main.stop()


async def _echoes(node, name):
    """The runner joined the fabric and its main() has started the echo worker."""
    if name not in await node.list_nodes():
        return False
    try:
        return await node.send_and_receive("echo", "x", node=name, timeout=10) == "echo:x"
    except WorkerNotFound:
        return False


async def _entered(node, name):
    return await node.send_and_receive("entered", "", node=name, timeout=10) != "0"


async def _lacks(node, name):
    return name not in await node.list_nodes()
