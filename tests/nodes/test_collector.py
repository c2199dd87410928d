"""A node process's garbage collector is set for many turns in flight (autonomy.nodes.collector); a
node used as a library leaves the process's collector alone."""

from __future__ import annotations

import gc
import os
import subprocess
import sys
from pathlib import Path

import pytest

from autonomy import Node
from autonomy.errors import ConfigError
from autonomy.nodes.collector import ENV, thresholds_from_env

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = """
import gc
from autonomy import Node

async def main(node):
    print(gc.get_threshold(), gc.get_freeze_count() > 0, flush=True)

Node.start(main, wait_until_interrupted=False)
"""


def run_node(value: str | None) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k not in ("NODE", "CLUSTER", "ZONE", "AUTONOMY_FABRIC_URL", ENV)}
    env.update(DEFAULT_HOST_HTTP="127.0.0.1", DEFAULT_PORT_HTTP="0", PYTHONPATH=str(ROOT))
    if value is not None:
        env[ENV] = value
    return subprocess.run([sys.executable, "-c", SCRIPT], env=env, capture_output=True, text=True, timeout=120)


@pytest.mark.parametrize(("value", "expected"), [
    (None, "(100000, 20, 20) True"),
    ("1000,10,10", "(1000, 10, 10) True"),
    ("default", "(700, 10, 10) False"),
])
def test_a_node_process_sets_its_collector_as_asked(value, expected):
    done = run_node(value)
    assert done.returncode == 0, done.stderr
    assert done.stdout == expected + "\n"


def test_a_bad_setting_stops_the_node_naming_the_variable():
    done = run_node("lots")
    assert done.returncode != 0
    assert f"{ENV}='lots': give three positive integers" in done.stderr


@pytest.mark.parametrize("value", ["1,2", "0,10,10", "a,b,c", "-5,1,1"])
def test_thresholds_must_be_three_positive_integers(monkeypatch, value):
    monkeypatch.setenv(ENV, value)
    with pytest.raises(ConfigError, match=ENV):
        thresholds_from_env()


async def test_a_node_opened_as_a_library_leaves_the_collector_alone():
    before = gc.get_threshold(), gc.get_freeze_count()
    async with Node.open("library"):
        assert (gc.get_threshold(), gc.get_freeze_count()) == before
