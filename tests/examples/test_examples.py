"""The examples, deployed as a user does: `autonomy zone deploy --dir examples/NAME` on a local cluster.

The cluster's model gateway uses the fake OpenAI-compatible endpoint (in this test process, on
127.0.0.1) as its default provider: one `autonomy cluster model add` command, as for a real provider.
Agents in the pods reach the model only through the gateway. `examples/fanout` runs in
tests/cluster/test_fabric_zone.py. `examples/knowledge` adds the gateway's embedded MiniLM for its
embeddings; `examples/voice` adds a fake realtime endpoint (tests/support/fake_realtime.py).
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.support.fake_llm import FakeLLM, Reply

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
AUTONOMY = str(Path(sys.executable).parent / "autonomy")


class Cluster:
    def __init__(self, home: Path) -> None:
        self.home = home
        self.env = {k: v for k, v in os.environ.items() if k not in ("CLUSTER", "ZONE", "NODE")}
        self.env.update(AUTONOMY_HOME=str(home), AUTONOMY_PUBLIC_PORT="0")

    def run(self, *args: str, timeout: float = 180) -> str:
        done = subprocess.run([AUTONOMY, *args], env=self.env, capture_output=True, text=True, timeout=timeout)
        assert done.returncode == 0, f"autonomy {' '.join(args)} failed:\n{done.stdout}\n{done.stderr}"
        return done.stdout

    def json(self, *args: str) -> dict:
        return json.loads(self.run(*args, "-o", "json"))

    def deploy(self, example: str) -> str:
        """Deploy examples/NAME; returns the zone's public URL."""
        return self.json("zone", "deploy", "--dir", str(EXAMPLES / example))["url"]


@pytest.fixture(scope="module")
def llm() -> Iterator[FakeLLM]:
    with FakeLLM() as fake:
        yield fake


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory, llm: FakeLLM) -> Iterator[Cluster]:
    cluster = Cluster(tmp_path_factory.mktemp("home"))
    cluster.run("cluster", "enroll", "--no-input")
    try:
        cluster.run("cluster", "model", "add", "fake", "--url", llm.base_url, "--default")
        yield cluster
    finally:
        subprocess.run([AUTONOMY, "cluster", "stop"], env=cluster.env, capture_output=True, timeout=60)


@pytest.fixture(autouse=True)
def fresh_llm(llm: FakeLLM) -> None:
    llm.reset()


def public(url: str) -> httpx.Client:
    """A client for a zone's public URL. `*.localhost` resolves to loopback in browsers and curl, not in
    Python's resolver: connect to 127.0.0.1 and send the zone's Host, as the gateway routes by Host."""
    parsed = httpx.URL(url)
    return httpx.Client(base_url=f"http://127.0.0.1:{parsed.port}", headers={"Host": parsed.netloc.decode()},
                        timeout=60)


def post(url: str, path: str, body: dict, **params: str) -> httpx.Response:
    with public(url) as client:
        return client.post(path, json=body, params=params)


def test_hello_answers_through_its_public_url_using_its_python_tool(cluster, llm):
    url = cluster.deploy("hello")
    llm.reply(tool_calls=[("count_words", {"text": "the quick brown fox"})])
    llm.reply("There are 4 words.")
    response = post(url, "/agents/henry", {"message": "How many words are in 'the quick brown fox'?"})
    assert response.status_code == 200, response.text
    messages = response.json()
    tool_results = [m for m in messages if m["role"] == "tool"]
    assert [(m["name"], m["content"]["text"]) for m in tool_results] == [("count_words", "4")]
    assert messages[-1]["role"] == "assistant"
    assert messages[-1]["content"]["text"] == "There are 4 words."
    first = llm.completion_requests()[0]
    assert {t["function"]["name"] for t in first.json["tools"]} == {
        "count_words", "get_current_time_utc", "get_current_time"}
    assert first.json["model"] == "claude-sonnet-4-v1"
    cluster.run("zone", "delete", "hello")


def test_tools_agent_calls_the_time_server_beside_it_in_the_pod(cluster, llm):
    url = cluster.deploy("tools")
    llm.reply(tool_calls=[("time_get_current_time", {"timezone": "Europe/Warsaw"})])
    llm.reply("It is late in Warsaw.")
    response = post(url, "/agents/clock", {"message": "What time is it in Warsaw?"})
    assert response.status_code == 200, response.text
    tool_result = next(m for m in response.json() if m["role"] == "tool")
    result = json.loads(tool_result["content"]["text"])  # the MCP CallToolResult of mcp-server-time
    assert result["isError"] is False
    assert json.loads(result["content"][0]["text"])["timezone"] == "Europe/Warsaw"
    cluster.run("zone", "delete", "tools")


def test_chat_serves_its_page_and_streams_the_answer(cluster, llm):
    url = cluster.deploy("chat")
    client = public(url)
    page = client.get("/")
    assert page.status_code == 200
    assert "/agents/henry?stream=true" in page.text
    llm.reply("Hello there, I am Henry.")
    with client.stream("POST", "/agents/henry", params={"stream": "true"},
                       json={"message": "hi", "scope": "web", "conversation": "c1"}) as response:
        assert response.status_code == 200
        lines = [json.loads(line) for line in response.iter_lines() if line.strip()]
    text = "".join(m["content"]["text"] for line in lines for m in line["messages"] if m["role"] == "assistant")
    assert text == "Hello there, I am Henry."
    assert len(lines) > 1  # streamed in parts, not one blob
    assert all(line["scope"] == "web" and line["conversation"] == "c1" for line in lines)
    client.close()
    cluster.run("zone", "delete", "chat")


@pytest.mark.slow
def test_review_delegates_to_subagents_on_the_runner_clones_and_keeps_notes(cluster, llm):
    """An upstream-style app: FilesystemTools and subagents spread over the zone's runner nodes."""
    url = cluster.deploy("review")
    runner_id = cluster.json("cluster", "show")["id"]

    def respond(request):
        messages = request["messages"]
        last = messages[-1]
        if messages[0]["content"].startswith("You check one file"):
            if last["role"] == "tool":
                return f"{messages[1]['content']} checked on {last['content']}"
            return Reply(tool_calls=[("which_node", {})])
        called = [c["function"]["name"] for m in messages if m["role"] == "assistant"
                  for c in m.get("tool_calls") or []]
        if last["role"] != "tool":
            return Reply(tool_calls=[("delegate_to_subagents_parallel",
                                      {"role": "checker", "tasks": ["a.py", "b.py"], "timeout": 60})])
        if "write_file" in called:
            return "Reviewed."
        return Reply(tool_calls=[("write_file", {"path": "/review.md", "content": last["content"]})])

    llm.respond_with(respond)
    deadline = time.monotonic() + 60
    while True:  # the runners join the zone's fabric shortly after the main pod answers
        response = post(url, "/agents/reviewer", {"message": "Review a.py and b.py", "scope": "s",
                                                  "conversation": f"c{int(time.monotonic())}"})
        assert response.status_code == 200, response.text
        first_result = next(m for m in response.json() if m["role"] == "tool")["content"]["text"]
        results = json.loads(first_result) if first_result.startswith("[") else first_result
        if not isinstance(results, list) and time.monotonic() < deadline:
            time.sleep(0.5)
            continue
        break
    assert [r["success"] for r in results] == [True, True], results
    assert [r["result"] for r in results] == [f"a.py checked on {runner_id}-review-runner-pod-0",
                                              f"b.py checked on {runner_id}-review-runner-pod-1"]
    assert [m["content"]["text"] for m in response.json() if m["role"] == "tool"][1].startswith(
        "Wrote ") and response.json()[-1]["content"]["text"] == "Reviewed."
    cluster.run("zone", "delete", "review")


@pytest.mark.slow
def test_knowledge_agent_searches_local_documents_embedded_by_the_gateway(cluster, llm):
    """An upstream-style knowledge app: local Markdown and HTML, embeddings from the gateway's MiniLM."""
    cluster.run("cluster", "model", "add", "minilm", "--kind", "embedded", "--model", "embed-english")
    try:
        url = cluster.deploy("knowledge")
        llm.reply(tool_calls=[("search_handbook", {"query": "how long do I have to send something back"})])
        llm.reply("You have 30 days.")
        deadline = time.monotonic() + 90
        with public(url) as client:  # main() embeds the documents before it starts the agent
            while client.get("/agents/librarian").status_code == 404 and time.monotonic() < deadline:
                time.sleep(0.5)
        response = post(url, "/agents/librarian", {"message": "Can I still return my shoes after three weeks?"})
        assert response.status_code == 200, response.text + cluster.run("zone", "logs", "knowledge")
        found = next(m for m in response.json() if m["role"] == "tool")["content"]["text"]
        assert found.startswith("Document name: returns\n- # Returns\n\nUnworn items may be returned within 30 days")
        assert response.json()[-1]["content"]["text"] == "You have 30 days."
        cluster.run("zone", "delete", "knowledge")
    finally:
        cluster.run("cluster", "model", "remove", "minilm")


@pytest.mark.slow
def test_voice_agent_talks_through_the_public_url_and_the_gateways_realtime_relay(cluster, llm):
    """An upstream-style voice app against a fake realtime endpoint, over real WebSockets end to end."""
    from websockets.sync.client import connect

    from tests.support.fake_realtime import ThreadedFakeRealtime

    with ThreadedFakeRealtime(heard="Will it rain tomorrow?") as realtime:
        env = dict(cluster.env, VOICE_EXAMPLE_KEY=realtime.api_key)
        subprocess.run([AUTONOMY, "cluster", "model", "add", "voice", "--url", realtime.base_url, "--api-key-env",
                        "VOICE_EXAMPLE_KEY", "--model", "gpt-4o-realtime-preview"], env=env, check=True,
                       capture_output=True, timeout=60)
        try:
            url = httpx.URL(cluster.deploy("voice"))
            llm.reply("No rain tomorrow, just sun.")
            sock = socket.create_connection(("127.0.0.1", url.port), timeout=30)
            with connect(f"ws://{url.host}:{url.port}/agents/vera/voice", sock=sock, proxy=None,
                         open_timeout=30) as ws:
                events = []
                while not events or events[-1]["type"] != "session.updated":
                    events.append(json.loads(ws.recv(timeout=60)))
                ws.send(b"\x00\x01" * 400)
                ws.send(json.dumps({"type": "input_audio_buffer.commit"}))
                while events[-1]["type"] != "response.audio_transcript.done":
                    events.append(json.loads(ws.recv(timeout=60)))
            assert events[-1]["transcript"] == "Here is what I found: No rain tomorrow, just sun."
            assert realtime.audio == b"\x00\x01" * 400
            assert realtime.headers[-1]["authorization"] == f"Bearer {realtime.api_key}"
            assert llm.completion_requests()[-1].json["messages"][-1]["content"] == "Will it rain tomorrow?"
            cluster.run("zone", "delete", "voice")
        finally:
            cluster.run("cluster", "model", "remove", "voice")
