"""Bad input at a node's HTTP API never hurts other users: big bodies 413, lone surrogates, deep nesting
and too many messages 400/422 naming the field with nothing stored, admin routes closed on the public URL."""

from __future__ import annotations

import json

import httpx
import pytest
from fastapi import FastAPI

from autonomy import HttpServer, Node
from autonomy.agents import Agent


@pytest.fixture
async def agent_http(model, fake_llm, monkeypatch):
    monkeypatch.delenv("API_KEY", raising=False)
    async with Node.open("input-test", http_server=HttpServer("127.0.0.1:0")) as node:
        await Agent.start(node, "x", name="henry", model=model)
        host, port = node.http_server.address
        async with httpx.AsyncClient(base_url=f"http://{host}:{port}", timeout=30) as client:
            yield client


async def _still_serves(http: httpx.AsyncClient, conversation: str = "ok") -> None:
    response = await http.post("/agents/henry", json={"message": "hi", "scope": "s", "conversation": conversation})
    assert response.status_code == 200, response.text
    assert response.json()[-1]["content"]["text"] == "echo: hi"


async def test_a_body_over_the_limit_gets_413_and_the_node_serves_on(agent_http):
    big = b'{"message": "' + b"a" * 6_500_000 + b'"}'
    response = await agent_http.post("/agents/henry", content=big, headers={"content-type": "application/json"})
    assert response.status_code == 413 and "AUTONOMY_MAX_BODY_BYTES" in response.json()["detail"]

    async def chunks():
        for _ in range(40):
            yield b"x" * 100_000

    response = await agent_http.post("/agents/henry", content=chunks())  # no Content-Length: counted
    assert response.status_code == 413
    await _still_serves(agent_http)


async def test_the_body_limit_is_a_setting(model, monkeypatch):
    monkeypatch.setenv("AUTONOMY_MAX_BODY_BYTES", "100")
    async with Node.open("small", http_server=HttpServer("127.0.0.1:0")) as node:
        await Agent.start(node, "x", name="henry", model=model)
        host, port = node.http_server.address
        async with httpx.AsyncClient(base_url=f"http://{host}:{port}", timeout=30) as http:
            assert (await http.post("/agents/henry", json={"message": "a" * 200})).status_code == 413
            assert (await http.post("/agents/henry", json={"message": "hi"})).status_code == 200


@pytest.mark.parametrize("body, field", [
    ('{"message": "bad \\ud800 text", "scope": "s", "conversation": "c"}', "message"),
    ('{"message": "bad \\udfff"}', "message"),
    ('{"message": [{"role": "user", "content": "\\ud800"}], "scope": "s", "conversation": "c"}',
     "message[0].content"),
    ('{"message": "hi", "scope": "s", "conversation": "c\\ud800"}', "conversation"),
])
async def test_a_lone_surrogate_is_refused_naming_the_field_and_nothing_is_stored(agent_http, body, field):
    response = await agent_http.post("/agents/henry", content=body, headers={"content-type": "application/json"})
    assert response.status_code == 422 and response.json()["detail"].startswith(field), response.text
    await _still_serves(agent_http, "c")  # the same conversation goes on
    await _still_serves(agent_http, "")  # and the shared default one
    assert (await agent_http.get("/workers")).status_code == 200
    stored = (await agent_http.get("/agents/henry/conversations")).json()["conversations"]
    assert all("\ud800" not in json.dumps(m, ensure_ascii=False) for m in stored)
    assert [m["content"]["text"] for m in stored if m["role"] == "user"] == ["hi", "hi"]


async def test_deep_nesting_is_refused_not_a_500(agent_http):
    for depth in (40, 100_000):
        body = '{"message": ' + "[" * depth + "]" * depth + "}"
        response = await agent_http.post("/agents/henry", content=body, headers={"content-type": "application/json"})
        assert response.status_code == 422 and "AUTONOMY_MAX_JSON_DEPTH" in response.json()["detail"], response.text
    await _still_serves(agent_http)


async def test_too_many_messages_in_one_request_are_refused(agent_http):
    response = await agent_http.post("/agents/henry", json={"message": ["hi"] * 101, "scope": "s",
                                                            "conversation": "many"})
    assert response.status_code == 422 and "AUTONOMY_MAX_MESSAGES_PER_REQUEST" in response.json()["detail"]
    stored = (await agent_http.get("/agents/henry/scopes/s/conversations/many")).json()["conversations"]
    assert stored == []


PUBLIC = {"X-Forwarded-For": "203.0.113.9", "X-Forwarded-Host": "c-z.localhost"}
ADMIN = [("GET", "/workers"), ("GET", "/logs/levels"), ("POST", "/logs/levels"),
         ("GET", "/agents/henry/conversations"), ("GET", "/agents/henry/scopes/s/conversations"),
         ("GET", "/agents/henry/scopes/s/conversations/c")]


async def test_admin_routes_are_closed_on_the_public_url_without_an_api_key(agent_http):
    for method, path in ADMIN:
        body = {"level": "INFO"} if method == "POST" else None
        public = await agent_http.request(method, path, headers=PUBLIC, json=body)
        assert public.status_code == 403 and "API_KEY" in public.json()["detail"], (path, public.text)
        inside = await agent_http.request(method, path, json=body)  # from inside the zone
        assert inside.status_code == 200, (path, inside.text)
    answer = await agent_http.post("/agents/henry", headers=PUBLIC, json={"message": "hi"})
    assert answer.status_code == 200  # talking to the agent is not an admin route


async def test_with_an_api_key_admin_routes_open_to_whoever_gives_it(model, monkeypatch):
    monkeypatch.setenv("API_KEY", "k3y")
    app = FastAPI()

    @app.get("/mine")
    async def mine() -> dict:
        return {"app": "route"}

    async with Node.open("keyed", http_server=HttpServer("127.0.0.1:0", app=app)) as node:
        await Agent.start(node, "x", name="henry", model=model)
        host, port = node.http_server.address
        async with httpx.AsyncClient(base_url=f"http://{host}:{port}", timeout=30) as http:
            assert (await http.get("/workers", headers=PUBLIC)).status_code == 403
            assert (await http.get("/workers?api_key=wrong", headers=PUBLIC)).status_code == 403
            assert (await http.get("/workers?api_key=k3y", headers=PUBLIC)).status_code == 200
            bearer = {**PUBLIC, "Authorization": "Bearer k3y"}
            assert (await http.get("/agents/henry/conversations", headers=bearer)).status_code == 200
            assert (await http.get("/mine", headers=PUBLIC)).json() == {"app": "route"}  # the app's own route


async def test_lone_surrogates_from_inside_the_zone_poison_nothing(model, fake_llm, monkeypatch, tmp_path):
    """Not through HTTP (another node's AgentReference): a surrogate in an id is refused; one in a message
    or a tool's output is stored as U+FFFD, so the store and later turns keep working."""
    monkeypatch.setenv("AUTONOMY_DATA_DIR", str(tmp_path))
    async with Node.open("inside", http_server=HttpServer("127.0.0.1:0")) as node:
        agent = await Agent.start(node, "x", name="henry", model=model)
        with pytest.raises(Exception, match="lone surrogate"):
            await agent.send("hi", scope="s", conversation="c\ud800")
        await agent.send("bad \udc80 text", scope="s", conversation="c")
        await agent.send("fine", scope="s", conversation="c")
        stored = await agent.get_conversations(scope="s", conversation="c")
        assert [m["content"]["text"] for m in stored if m["role"] == "user"] == ["bad \ufffd text", "fine"]
        host, port = node.http_server.address
        async with httpx.AsyncClient(base_url=f"http://{host}:{port}", timeout=30) as http:
            assert (await http.get("/workers")).status_code == 200
