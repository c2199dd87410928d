"""Fault: SIGKILL of a node process. Its agents' conversations are in the pod's data dir (SQLite):
the restarted node goes on with every answered message, and a turn paused for input resumes."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[2]
APP = Path(__file__).with_name("agent_app.py")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class NodeProcess:
    def __init__(self, env: dict[str, str], port: int, log: Path) -> None:
        self.env, self.port, self.log, self.process = env, port, log, None

    def start(self) -> None:
        with open(self.log, "w") as out:  # a file, not a pipe nobody reads (a full pipe blocks the node)
            self.process = subprocess.Popen([sys.executable, str(APP)], env=self.env, cwd=ROOT, stdout=out,
                                            stderr=subprocess.STDOUT)
        deadline = time.monotonic() + 60
        while True:
            assert self.process.poll() is None, self.log.read_text()[-3000:]
            try:
                if httpx.get(f"http://127.0.0.1:{self.port}/agents/henry", timeout=5).status_code == 200:
                    return
            except httpx.TransportError:
                pass
            assert time.monotonic() < deadline, "the node's agent did not start: " + self.log.read_text()[-3000:]
            time.sleep(0.05)

    def kill(self) -> None:
        if self.process is not None and self.process.poll() is None:
            os.kill(self.process.pid, signal.SIGKILL)
        if self.process is not None:
            self.process.wait(timeout=30)

    def ask(self, text: str, conversation: str = "c1") -> list[dict]:
        response = httpx.post(f"http://127.0.0.1:{self.port}/agents/henry",
                              json={"message": text, "scope": "alice", "conversation": conversation}, timeout=60)
        assert response.status_code == 200, response.text
        return response.json()


@pytest.fixture
def node_process(fake_llm, tmp_path):
    port = _free_port()
    env = {k: v for k, v in os.environ.items() if k not in ("CLUSTER", "ZONE", "NODE", "AUTONOMY_FABRIC_URL",
                                                            "AUTONOMY_DATABASE_URL", "OCKAM_DATABASE_INSTANCE")}
    env.update(OPENAI_BASE_URL=fake_llm.base_url, OPENAI_API_KEY=fake_llm.api_key, NODE="faulty-node",
               DEFAULT_PORT_HTTP=str(port), DEFAULT_HOST_HTTP="127.0.0.1", AUTONOMY_DATA_DIR=str(tmp_path / "data"),
               PYTHONPATH=str(ROOT))
    node = NodeProcess(env, port, tmp_path / "node.log")
    yield node
    node.kill()


def test_a_killed_node_restarts_with_every_conversation(node_process, fake_llm):
    node_process.start()
    node_process.ask("one")
    node_process.ask("two")
    node_process.kill()
    node_process.start()
    node_process.ask("three")
    seen = [m["content"] for m in fake_llm.completion_requests()[-1].json["messages"] if m["role"] == "user"]
    assert seen == ["one", "two", "three"]


def test_a_turn_paused_for_input_resumes_after_a_kill(node_process, fake_llm):
    fake_llm.reply(tool_calls=[("ask_user_for_input", {"question": "Which city?"})])
    node_process.start()
    assert node_process.ask("weather?", "w")[-1]["content"]["text"] == "Which city?"
    node_process.kill()
    fake_llm.reply("Sunny in Paris")
    node_process.start()
    assert node_process.ask("Paris", "w")[-1]["content"]["text"] == "Sunny in Paris"
    seen = fake_llm.completion_requests()[-1].json["messages"]
    assert [m["role"] for m in seen] == ["system", "user", "assistant", "tool"] and seen[-1]["content"] == "Paris"
