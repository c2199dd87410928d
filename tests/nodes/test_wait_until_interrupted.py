"""AUTONOMY_WAIT_UNTIL_INTERRUPTED decides whether a script's node waits after main (a real process)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = """
from autonomy import Node

async def main(node):
    print("main ran", flush=True)

Node.start(main)
"""


def run(value: str | None) -> subprocess.Popen[str]:
    env = {k: v for k, v in os.environ.items() if k not in ("NODE", "CLUSTER", "ZONE", "AUTONOMY_FABRIC_URL")}
    env.update(DEFAULT_HOST_HTTP="127.0.0.1", DEFAULT_PORT_HTTP="0", PYTHONPATH=str(ROOT))
    env.pop("AUTONOMY_WAIT_UNTIL_INTERRUPTED", None)
    if value is not None:
        env["AUTONOMY_WAIT_UNTIL_INTERRUPTED"] = value
    return subprocess.Popen([sys.executable, "-c", SCRIPT], env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)


@pytest.mark.parametrize("value", ["0", "false"])
def test_zero_makes_the_script_exit_after_main(value):
    process = run(value)
    out, err = process.communicate(timeout=60)
    assert process.returncode == 0, err
    assert out == "main ran\n"


def test_by_default_the_node_waits_until_interrupted():
    process = run(None)
    try:
        assert process.stdout.readline() == "main ran\n"
        with pytest.raises(subprocess.TimeoutExpired):
            process.wait(timeout=1)  # still serving after main: waits for a signal
        process.terminate()
        assert process.wait(timeout=60) == 0
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
        process.stdout.close()
        process.stderr.close()
