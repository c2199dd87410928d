"""The console over plain HTTP, through the public gateway, as Python clients and wget reach it."""

from __future__ import annotations

import json

import httpx
import pytest

from tests.console.conftest import ConsoleCluster

pytestmark = pytest.mark.slow  # one cluster and a deployed zone for the package

ACTION = {"X-Autonomy-Console": "1"}


def test_cluster_page_lists_the_zone_with_both_url_forms(console_cluster: ConsoleCluster) -> None:
    c = console_cluster
    page = httpx.get(c.console + "/")
    assert page.status_code == 200 and "htmx.min.js" in page.text
    zones = httpx.get(c.console + "/fragments/zones").text
    assert f'href="/zones/{c.zone}"' in zones and "running" in zones
    assert f"http://{c.cluster_id}-{c.zone}.localhost:{c.port}/" in zones
    assert f"http://127.0.0.1:{c.port}/z/{c.zone}/" in zones
    # The console is also served on the cluster's own *.localhost name.
    named = httpx.get(c.console + "/", headers={"Host": f"{c.cluster_id}.localhost:{c.port}"})
    assert named.status_code == 200 and c.cluster_id[:8] in named.text
    assert httpx.get(c.console + "/static/htmx.min.js").headers["content-type"].startswith("text/javascript")


def test_path_form_reaches_the_zone_and_a_bare_root_points_to_its_console_page(console_cluster: ConsoleCluster) -> None:
    c = console_cluster
    agents = httpx.get(f"{c.console}/z/{c.zone}/agents")  # no Host trick: works from any HTTP client
    assert agents.status_code == 200 and [a["name"] for a in agents.json()["agents"]] == ["calc"]
    root = httpx.get(f"{c.console}/z/{c.zone}/")
    assert root.status_code == 307 and root.headers["location"] == f"/zones/{c.zone}"
    named = httpx.get(f"{c.console}/", headers={"Host": f"{c.cluster_id}-{c.zone}.localhost:{c.port}"})
    assert named.status_code == 307
    assert named.headers["location"] == f"http://{c.cluster_id}.localhost:{c.port}/zones/{c.zone}"
    followed = httpx.get(f"{c.console}/z/{c.zone}/", follow_redirects=True)
    assert followed.status_code == 200 and "Chat" in followed.text and "calc on main-pod/0" in followed.text
    # One keep-alive client alternating between the console and two zone paths gets each right.
    with httpx.Client(base_url=c.console) as client:
        for _ in range(3):
            assert client.get(f"/z/{c.zone}/agents").json()["agents"][0]["name"] == "calc"
            assert "cluster" in client.get("/").text
            assert client.get("/z/nozone/agents").status_code == 404


def test_an_unknown_host_gets_a_404_quoting_it_exactly(console_cluster: ConsoleCluster) -> None:
    c = console_cluster
    refused = httpx.get(c.console + "/", headers={"Host": "rebound.example.com"})
    assert refused.status_code == 404
    assert "host 'rebound.example.com'." in refused.text and f"http://127.0.0.1:{c.port}/z/ZONE/" in refused.text


def test_zone_fragments_show_pods_nodes_and_a_missing_zone_says_so(console_cluster: ConsoleCluster) -> None:
    c = console_cluster
    pods = httpx.get(f"{c.console}/fragments/zones/{c.zone}/pods").text
    assert "main-pod" in pods and "running" in pods
    nodes = httpx.get(f"{c.console}/fragments/zones/{c.zone}/nodes").text
    assert "calc" in nodes and f"-{c.zone}-main-pod" in nodes
    missing = httpx.get(f"{c.console}/zones/nozone")
    assert missing.status_code == 404 and "<html" in missing.text
    assert "no zone &#x27;nozone&#x27;" in missing.text and "autonomy zone list" in missing.text


def test_chat_streams_the_answer_with_its_tool_call(console_cluster: ConsoleCluster) -> None:
    c = console_cluster
    c.llm.reset()
    c.llm.reply(tool_calls=[("add", {"a": 2, "b": 3})])
    c.llm.reply("The sum is 5.")
    body = {"target": ["main-pod/0", "calc"], "message": "What is 2 + 3?", "conversation": "http"}
    with httpx.stream("POST", f"{c.console}/zones/{c.zone}/chat", json=body, headers=ACTION, timeout=90) as answer:
        assert answer.status_code == 200
        events = [json.loads(line) for line in answer.iter_lines() if line]
    assert {"tool": "add", "arguments": '{"a": 2, "b": 3}'} in events
    assert any(e.get("tool_result") == "5" for e in events)
    assert "".join(e.get("text", "") for e in events) == "The sum is 5."
    assert events[-1] == {"done": True}
    conversations = httpx.get(f"{c.console}/fragments/zones/{c.zone}/conversations").text
    assert "What is 2 + 3?" in conversations and "The sum is 5." in conversations and "calls tool" in conversations
    usage = httpx.get(f"{c.console}/fragments/usage?zone={c.zone}").text
    assert "claude-sonnet-4-v1" in usage and "fake" in usage


@pytest.mark.parametrize(("body", "headers", "status", "says"), [
    ({"target": ["main-pod/0", "calc"], "message": "hi"}, {}, 403, "X-Autonomy-Console"),
    ({"target": ["main-pod/0", "calc"], "message": "hi"}, {**ACTION, "Origin": "http://evil.localhost:1"}, 403,
     "another origin"),
    ({"target": "calc", "message": "hi"}, ACTION, 400, "target:"),
    ({"target": ["main-pod/0", "calc"], "message": "  "}, ACTION, 400, "message:"),
    ({"target": ["main-pod/0", "nobody"], "message": "hi"}, ACTION, 404, "calc on main-pod/0"),
    ("not json", ACTION, 400, "JSON"),
])
def test_chat_refuses_bad_input_naming_the_field(console_cluster: ConsoleCluster, body: object,
                                                 headers: dict[str, str], status: int, says: str) -> None:
    c = console_cluster
    content = body if isinstance(body, str) else json.dumps(body)
    refused = httpx.post(f"{c.console}/zones/{c.zone}/chat", content=content, headers=headers)
    assert refused.status_code == status and says in refused.text, refused.text
    assert "Traceback" not in refused.text


def test_logs_stream_as_they_are_written(console_cluster: ConsoleCluster) -> None:
    c = console_cluster
    with httpx.stream("GET", f"{c.console}/zones/{c.zone}/logs", params={"tail": "50"}, timeout=30) as logs:
        assert logs.status_code == 200
        first = next(logs.iter_lines())
    assert first  # the node's start-up lines
    refused = httpx.get(f"{c.console}/zones/{c.zone}/logs", params={"pod": "nopod"})
    assert refused.status_code == 404 and "main-pod" in refused.text


def test_each_agent_turn_shows_as_a_trace_from_the_clusters_collector(console_cluster: ConsoleCluster) -> None:
    from tests.support.until import until_sync as wait_until

    c = console_cluster
    c.llm.reset()
    c.llm.reply(tool_calls=[("add", {"a": 1, "b": 1})])
    c.llm.reply("Two.")
    body = {"target": ["main-pod/0", "calc"], "message": "1 + 1?", "conversation": "traced"}
    with httpx.stream("POST", f"{c.console}/zones/{c.zone}/chat", json=body, headers=ACTION, timeout=90) as answer:
        assert [json.loads(line) for line in answer.iter_lines() if line][-1] == {"done": True}

    def traced() -> str | None:
        text = httpx.get(f"{c.console}/fragments/zones/{c.zone}/traces").text
        return text if "calc · console/traced" in text else None
    # The node exports its spans in batches (OTEL_BSP_SCHEDULE_DELAY=1000 from the deploy): allow for a busy machine.
    text = wait_until(traced, timeout=60, what="the turn's trace on the zone's console page")
    trace = text.split("calc · console/traced", 1)[1].split("</details>", 1)[0]
    assert "2 model call(s)" in trace and "1 tool call(s)" in trace
    assert trace.count("model.call") == 2 and "tool.call" in trace and "via gateway" in trace


def test_a_fan_out_request_is_one_trace_from_the_public_gateway_to_each_runner(
        console_cluster: ConsoleCluster) -> None:
    from pathlib import Path

    from tests.cluster.conftest import deploy
    from tests.support.until import until_sync

    c = console_cluster
    deploy(c.client, Path(__file__).resolve().parents[2] / "examples" / "fanout")
    try:
        squares = httpx.get(f"{c.console}/z/fanout/squares", params={"upto": 6}, timeout=60)  # the public URL, once
        assert squares.status_code == 200, squares.text
        runners = squares.json()["runners"]
        assert len(runners) == 3

        def complete() -> list[dict] | None:  # the nodes export within about a second
            traces = httpx.get(f"{c.console}/zones/fanout/traces").json()
            spans = [s for t in traces for s in t["spans"]]
            handled = {s["attributes"].get("autonomy.node") for s in spans if s["name"] == "worker.handle"}
            return traces if handled >= set(runners) and any(s["name"] == "HTTP GET /squares" for s in spans) else None
        traces = until_sync(complete, timeout=60, what="the fan-out's spans from the main node and every runner",
                            describe=lambda: httpx.get(f"{c.console}/zones/fanout/traces").text[:3000])
        [trace] = traces  # one request, one trace
        root, spans = trace["root"], trace["spans"]
        assert root["service"] == "public-gateway" and root["name"] == "gateway GET /z/fanout/squares"
        attributes = root["attributes"]
        assert attributes["http.response.status_code"] == 200 and attributes["autonomy.zone"] == "fanout"
        assert root["parent_span_id"] == "" and spans[0]["span_id"] == root["span_id"]
        by_id = {s["span_id"]: s for s in spans}

        def ancestors(span: dict) -> list[str]:
            names = []
            while span["parent_span_id"] in by_id:
                span = by_id[span["parent_span_id"]]
                names.append(span["name"])
            return names
        [main] = [s for s in spans if s["name"] == "HTTP GET /squares"]
        assert main["parent_span_id"] == root["span_id"] and main["attributes"]["autonomy.node"] not in runners
        squarers = [s for s in spans if s["name"] == "worker.handle"
                    and s["attributes"]["autonomy.worker"] == "squarer"]
        assert {s["attributes"]["autonomy.node"] for s in squarers} == set(runners)  # every runner clone
        for s in squarers:
            assert s["service"] in runners and ancestors(s)[-2:] == ["HTTP GET /squares", root["name"]]
        # The console shows the gateway span as the trace's root, with the four nodes under it.
        text = httpx.get(f"{c.console}/fragments/zones/fanout/traces").text
        summary = text.split("<summary>", 1)[1].split("</summary>", 1)[0]
        assert "gateway GET /z/fanout/squares public gateway · HTTP 200 · 4 nodes" in summary
        for runner in runners:
            assert f"squarer on {runner}" in text
    finally:
        c.client.delete_zone("fanout")


def test_every_refusal_reaches_the_client(console_cluster: ConsoleCluster) -> None:
    """The console answers a refused chat from its head and closes without reading the body: through the
    gateway that answer must arrive every time (a failed write of the body lost it, 1 in 5, as a 503)."""
    c = console_cluster
    body = json.dumps({"target": ["main-pod/0", "calc"], "message": "hi"})
    with httpx.Client() as http:
        statuses = [http.post(f"{c.console}/zones/{c.zone}/chat", content=body).status_code for _ in range(300)]
    assert statuses == [403] * 300
