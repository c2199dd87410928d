"""The agents' HTTP API (spec §2) over real HTTP: shapes, streaming, statuses."""

from __future__ import annotations

import json

import httpx
import pytest

from autonomy import HttpServer, Node
from autonomy.agents import Agent
from tests.agents.conftest import AddTool
from tests.support.until import until


async def test_list_and_get_agents(node, http, model):
    await Agent.start(node, "x", name="henry", model=model, exposed_as="Answers questions")
    await http.post("/agents/henry", json={"message": "hi", "scope": "alice", "conversation": "c1"})
    listed = (await http.get("/agents")).json()
    assert listed == {"agents": [{"name": "henry", "is_remote": False, "description": "Answers questions",
                                  "workers": ["henry/alice/c1"]}]}
    assert (await http.get("/agents/henry")).json() == listed["agents"][0]
    assert (await http.get("/workers")).json() == {"workers": [{"name": "henry/alice/c1", "started_by_agent": "henry"}]}
    missing = await http.get("/agents/nobody")
    assert missing.status_code == 404 and "nobody" in missing.json()["detail"]


async def test_post_returns_the_response_messages_in_upstream_json(node, http, model, fake_llm):
    fake_llm.reply(tool_calls=[("add", {"a": 1, "b": 2})])
    fake_llm.reply("The sum is 3")
    await Agent.start(node, "x", name="calc", model=model, tools=[AddTool()])
    response = await http.post("/agents/calc", json={"message": "1+2?"})
    assert response.status_code == 200
    first, tool, answer = response.json()
    call_id = first["tool_calls"][0]["id"]
    assert first == {"content": {"text": "", "type": "text"}, "phase": "executing", "thinking": False,
                     "tool_calls": [{"id": call_id, "function": {"name": "add", "arguments": '{"a": 1, "b": 2}'},
                                     "type": "function"}], "role": "assistant"}
    assert tool == {"tool_call_id": call_id, "name": "add", "content": {"text": "3", "type": "text"},
                    "phase": "executing", "role": "tool"}
    assert answer == {"content": {"text": "The sum is 3", "type": "text"}, "phase": "executing",
                      "thinking": False, "tool_calls": [], "role": "assistant"}


async def test_body_without_message_key_is_the_message(node, http, model):
    await Agent.start(node, "x", name="henry", model=model)
    response = await http.post("/agents/henry", json=[{"role": "user", "content": "as a list"}])
    assert response.json()[-1]["content"]["text"] == "echo: as a list"
    response = await http.post("/agents/henry", json={"role": "user", "content": "as one message"})
    assert response.json()[-1]["content"]["text"] == "echo: as one message"


async def test_streaming_gives_one_conversation_snippet_per_line(node, http, model, fake_llm):
    fake_llm.reply(tool_calls=[("add", {"a": 2, "b": 3})])
    fake_llm.reply("It is five.")
    await Agent.start(node, "x", name="calc", model=model, tools=[AddTool()])
    async with http.stream("POST", "/agents/calc?stream=true",
                           json={"message": "2+3", "scope": "s", "conversation": "c"}) as response:
        assert response.status_code == 200
        assert response.headers["content-type"].startswith("application/json")
        lines = [json.loads(line) async for line in response.aiter_lines() if line]
    assert all(set(line) == {"scope", "conversation", "messages", "type"} for line in lines)
    assert all(line["type"] == "conversation_snippet" and line["scope"] == "s" for line in lines)
    messages = [m for line in lines for m in line["messages"]]
    assert messages[0]["tool_calls"][0]["function"]["name"] == "add"
    assert messages[1]["role"] == "tool" and messages[1]["content"]["text"] == "5"
    assert "".join(m["content"]["text"] for m in messages[2:]) == "It is five."
    assert lines[-1]["messages"] == []
    assert (await http.get("/agents/calc")).json()["workers"] == ["calc/s/c"]


async def test_hitl_over_http_stream_ends_with_waiting_for_input(node, http, model, fake_llm):
    fake_llm.reply(tool_calls=[("ask_user_for_input", {"question": "Which city?"})])
    fake_llm.reply("Paris it is")
    await Agent.start(node, "x", name="w", model=model, enable_ask_for_user_input=True)
    body = {"message": "weather", "scope": "s", "conversation": "c"}
    response = await http.post("/agents/w?stream=true", json=body)
    last = json.loads(response.text.strip().splitlines()[-1])
    assert last["messages"][0]["phase"] == "waiting_for_input"
    assert last["messages"][0]["content"]["text"] == "Which city?"
    response = await http.post("/agents/w", json={**body, "message": "Paris"})
    assert response.json()[-1]["content"]["text"] == "Paris it is"


async def test_conversation_routes(node, http, model):
    await Agent.start(node, "x", name="henry", model=model)
    for scope, conversation in (("a", "1"), ("a", "2"), ("b", "1")):
        await http.post("/agents/henry", json={"message": f"{scope}{conversation}", "scope": scope,
                                               "conversation": conversation})
    every = (await http.get("/agents/henry/conversations")).json()
    assert every["type"] == "get_conversations_response" and len(every["conversations"]) == 6
    assert all("timestamp" in m for m in every["conversations"])
    scope_a = (await http.get("/agents/henry/scopes/a/conversations")).json()["conversations"]
    assert [m["content"]["text"] for m in scope_a if m["role"] == "user"] == ["a1", "a2"]
    one = (await http.get("/agents/henry/scopes/b/conversations/1")).json()["conversations"]
    assert [m["content"]["text"] for m in one] == ["b1", "echo: b1"]
    assert (await http.get("/agents/nobody/conversations")).status_code == 404


@pytest.mark.parametrize("content,status", [
    (b"{not json", 400),
    (b"", 422),
    (b'{"message": 5}', 422),
    (b'{"message": "hi", "scope": 3}', 422),
    (b'{"message": [{"role": "wizard"}]}', 422),
    (b'{"message": [{"role": "user", "content": [{"type": "text", "text": 5}]}]}', 422),
])
async def test_malformed_bodies_are_refused(node, http, model, content, status):
    await Agent.start(node, "x", name="henry", model=model)
    response = await http.post("/agents/henry", content=content, headers={"content-type": "application/json"})
    assert response.status_code == status
    assert response.json()["detail"]


async def test_statuses_unknown_agent_timeout_and_agent_error(node, http, model, fake_llm):
    assert (await http.post("/agents/nobody", json={"message": "hi"})).status_code == 404
    assert (await http.post("/agents/nobody?stream=true", json={"message": "hi"})).status_code == 404
    await Agent.start(node, "x", name="slow", model=model)
    fake_llm.reply("late", delay=3)
    response = await http.post("/agents/slow?timeout=0.2", json={"message": "hi"})
    assert response.status_code == 504 and "0.2" in response.json()["detail"]
    # the timed-out turn goes on: it must have taken its scripted reply before the next one is queued
    await until(lambda: fake_llm.requests, what="the slow turn's model call")
    fake_llm.reset()
    fake_llm.reply("late", delay=3)
    response = await http.post("/agents/slow?timeout=0.2&stream=true", json={"message": "hi", "scope": "x",
                                                                            "conversation": "y"})
    assert response.status_code == 504, response.text
    await until(lambda: fake_llm.requests, what="the slow streamed turn's model call")
    await Agent.start(node, "x", name="broken", model=model)
    fake_llm.reset()
    fake_llm.fail(500)
    response = await http.post("/agents/broken", json={"message": "hi"})
    assert response.status_code == 500 and "Model completion failed" in response.json()["detail"]
    assert (await http.post("/agents/broken?timeout=-1", json={"message": "hi"})).status_code == 422
    assert (await http.post("/flows/none", json={"message": "hi"})).status_code == 404


async def test_tools_lists_agents_exposed_as_tools(node, http, model):
    await Agent.start(node, "x", name="helper", model=model, exposed_as="Helps")
    await Agent.start(node, "x", name="private", model=model)
    expected = {"name": "helper", "description": "Helps", "input_schema": {
        "type": "object", "properties": {"prompt": {"type": "string"}}, "required": ["prompt"]}}
    assert (await http.get("/tools")).json() == [expected]
    assert (await http.get("/tools/helper")).json() == expected
    assert (await http.get("/tools/private")).status_code == 404


async def test_api_key_protects_the_agent_routes(monkeypatch, model):
    monkeypatch.setenv("API_KEY", "s3cret")
    async with Node.open("keyed", http_server=HttpServer("127.0.0.1:0")) as node:
        await Agent.start(node, "x", name="henry", model=model)
        host, port = node.http_server.address
        async with httpx.AsyncClient(base_url=f"http://{host}:{port}") as http:
            assert (await http.post("/agents/henry", json={"message": "hi"})).status_code == 401
            assert (await http.get("/agents")).status_code == 401
            ok = await http.post("/agents/henry?api_key=s3cret", json={"message": "hi"})
            assert ok.status_code == 200


async def test_upstream_import_path_of_http_server():
    from autonomy.agents.http import HttpServer as Upstream

    assert Upstream is HttpServer
