"""The container shim on its own: it owns the container (a client that goes away leaves it running), a
new client adopts it, secrets never reach its argv or state file, and a stop leaves no process."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import sys
from pathlib import Path

from autonomy.cluster.local.adoption import ShimRecord
from autonomy.cluster.local.shim import process_start_time
from autonomy.cluster.local.supervisor import ContainerProcess
from tests.support.until import until

SECRET = "s3cr3t-value-never-shown"
# Prints a line per second; its pid and its memory are what adoption must keep.
SCRIPT = "import os, time\nwhile True:\n    print('tick', os.getpid(), flush=True)\n    time.sleep(1)\n"


def _read(path: Path | str) -> str:
    try:
        return Path(path).read_bytes().decode(errors="replace")
    except FileNotFoundError:
        return ""


def _listing(path: Path) -> list[str]:
    return os.listdir(path)


def _mode(path: Path) -> int:
    return path.stat().st_mode & 0o777


def _alive(pid: int | None) -> bool:
    return pid is not None and process_start_time(pid) is not None


async def test_a_shim_outlives_its_client_and_a_new_client_adopts_it_without_a_restart(tmp_path: Path):
    state_path = tmp_path / "shims" / "main-0-main.json"
    first = ContainerProcess("main-0/main", [sys.executable, "-c", SCRIPT], {"TOKEN": SECRET}, tmp_path,
                             tmp_path / "main.log", data={"@X@": SECRET.encode()}, state_path=state_path,
                             meta={"zone": "z"}, cluster_id="c" * 32)
    first.start()
    adopted = None
    try:
        await asyncio.wait_for(first.wait_started(), 30)
        assert first.state == "running" and _alive(first.pid) and first.shim_pid != os.getpid()
        shim, pid = first.shim_pid, first.pid
        # Nothing secret where other users or a later controller look.
        assert SECRET not in _read(f"/proc/{shim}/cmdline") and SECRET not in _read(f"/proc/{shim}/environ")
        assert SECRET not in _read(state_path)
        assert _mode(state_path) == 0o600
        record = json.loads(_read(state_path))
        assert record["meta"] == {"zone": "z"} and record["shim_pid"] == shim and record["pid"] == pid
        await until(lambda: "tick" in _read(tmp_path / "main.log"), what="the container's output in its log")

        # A second client takes over, as the next controller does after a SIGKILL: nothing restarts.
        adopted = ContainerProcess.adopt(record, state_path)
        assert ShimRecord(state_path, record).alive
        assert adopted.pid == pid and adopted.state == "running" and adopted.restarts == 0

        # A crash of the container is the shim's to repair, with the controller or without.
        os.killpg(pid, signal.SIGKILL)
        await until(lambda: adopted.pid not in (None, pid) and adopted.restarts == 1, timeout=30,
                    what="the shim to restart its container")
        new_pid = adopted.pid
    finally:
        await asyncio.wait_for((adopted or first).stop(), 30)
        await asyncio.wait_for(first._exited.wait(), 30)  # the first client reaps its child, the shim
    assert not _alive(shim) and not _alive(new_pid) and state_path.name not in _listing(state_path.parent)


async def test_a_dead_shims_record_is_not_taken_for_a_live_one(tmp_path: Path):
    # A pid that is running but not the process the record names (another start time).
    record = {"shim_pid": os.getpid(), "shim_start": (process_start_time(os.getpid()) or 0) + 1}
    assert not ShimRecord(tmp_path / "x.json", record).alive
    assert not ShimRecord(tmp_path / "x.json", {"shim_pid": 2**22 + 1, "shim_start": 1}).alive


# Ignores SIGTERM and closes its output: the shim must still see it exit, and kill it after the grace.
STUBBORN = ("import os, signal, time\nsignal.signal(signal.SIGTERM, signal.SIG_IGN)\nprint('up', flush=True)\n"
            "os.close(1)\nos.close(2)\nwhile True:\n    time.sleep(1)\n")


async def test_a_container_that_ignores_sigterm_and_closed_its_output_is_killed_after_its_grace(tmp_path: Path,
                                                                                                caplog):
    proc = ContainerProcess("main-0/main", [sys.executable, "-c", STUBBORN], {}, tmp_path, tmp_path / "main.log",
                            grace=0.5, state_path=tmp_path / "shims" / "s.json")
    proc.start()
    try:
        await asyncio.wait_for(proc.wait_started(), 30)
        await until(lambda: "up" in _read(tmp_path / "main.log"), what="the container's output in its log")
        pid = proc.pid
        assert proc.alive and _alive(pid)
    finally:
        await asyncio.wait_for(proc.stop(), 30)
    assert proc.state == "stopped" and not _alive(pid) and not _alive(proc.shim_pid)
    assert "did not stop in time" not in caplog.text  # the shim stopped it, not the controller's last resort


async def test_a_command_that_cannot_start_reads_crashed_with_the_reason(tmp_path: Path):
    proc = ContainerProcess("main-0/main", ["no-such-command-here"], {"PATH": "/usr/bin:/bin"}, tmp_path,
                            tmp_path / "main.log", state_path=tmp_path / "shims" / "s.json")
    proc.start()
    try:
        await asyncio.wait_for(proc.wait_started(), 30)  # the handshake comes, failure or not
        assert proc.state == "crashed" and proc.pid is None
        assert "cannot start 'no-such-command-here'" in proc.last_error
        assert "no-such-command-here" in _read(tmp_path / "main.log")
    finally:
        await asyncio.wait_for(proc.stop(), 30)
    assert not _alive(proc.shim_pid)
