"""Durable conversations: a restarted node's agents go on with the whole history, a paused turn resumes,
idle conversations leave RAM and come back (SQLite in the data dir, and PostgreSQL)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from autonomy import HttpServer, Node
from autonomy.agents import Agent
from autonomy.nodes.message import Phase
from tests.support.postgres import PostgresServer, postgres_server, why_no_postgres


@pytest.fixture(scope="module")
def pg() -> Iterator[PostgresServer]:
    reason = why_no_postgres()
    if reason:
        pytest.skip(reason)
    with postgres_server() as server:
        yield server


@pytest.fixture(params=["sqlite", "postgres"])
def store_env(request: pytest.FixtureRequest, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    for name in ("AUTONOMY_DATABASE_URL", "OCKAM_DATABASE_INSTANCE", "AUTONOMY_USE_IN_MEMORY_DATABASE",
                 "AUTONOMY_MEMORY_CACHED_CONVERSATIONS"):
        monkeypatch.delenv(name, raising=False)
    if request.param == "postgres":
        server = request.getfixturevalue("pg")
        host, _, database = f"{server.host}:{server.port}/{server.database}".partition("/")
        monkeypatch.setenv("OCKAM_DATABASE_INSTANCE", f"{host}/{database}")
        monkeypatch.setenv("OCKAM_DATABASE_USER", server.user)
        monkeypatch.setenv("OCKAM_DATABASE_PASSWORD", server.password)
    else:
        monkeypatch.setenv("AUTONOMY_DATA_DIR", str(tmp_path / "data"))
    return request.param


def user_texts(request) -> list[str]:
    return [m["content"] for m in request.json["messages"] if m["role"] == "user"]


async def test_after_a_restart_a_conversation_goes_on_with_its_whole_history(store_env, model, fake_llm, tmp_path):
    name = f"durable-{tmp_path.name[-12:]}"  # a node name of its own: PostgreSQL rows are per node
    async with Node.open(name) as node:
        agent = await Agent.start(node, "x", name="henry", model=model)
        for text in ("one", "two"):
            await agent.send(text, scope="alice", conversation="c1")
        await agent.send("other", scope="bob", conversation="c1")
    async with Node.open(name, http_server=HttpServer("127.0.0.1:0")) as node:  # the same node, restarted
        agent = await Agent.start(node, "x", name="henry", model=model)
        await agent.send("three", scope="alice", conversation="c1")
        assert user_texts(fake_llm.completion_requests()[-1]) == ["one", "two", "three"]
        listed = await agent.get_conversations(scope="alice")
        assert [m["content"]["text"] for m in listed if m["role"] == "user"] == ["one", "two", "three"]


async def test_a_conversation_paused_for_input_resumes_after_a_restart(store_env, model, fake_llm, tmp_path):
    name = f"paused-{tmp_path.name[-12:]}"
    fake_llm.reply(tool_calls=[("ask_user_for_input", {"question": "Which city?"})])
    async with Node.open(name) as node:
        agent = await Agent.start(node, "x", name="w", model=model, enable_ask_for_user_input=True)
        first = await agent.send("weather?", scope="s", conversation="c")
        assert first[-1].phase is Phase.WAITING_FOR_INPUT
    fake_llm.reply("Weather in Paris: sunny")
    async with Node.open(name) as node:
        agent = await Agent.start(node, "x", name="w", model=model, enable_ask_for_user_input=True)
        assert await agent.is_paused("s", "c")
        second = await agent.send("Paris", scope="s", conversation="c")
        assert second[-1].content.text == "Weather in Paris: sunny"
        seen = fake_llm.completion_requests()[-1].json["messages"]
        assert [m["role"] for m in seen] == ["system", "user", "assistant", "tool"]
        assert seen[-1]["content"] == "Paris"
        assert not await agent.is_paused("s", "c")


async def test_idle_conversations_leave_ram_and_reload_on_their_next_message(store_env, model, fake_llm, tmp_path,
                                                                             monkeypatch):
    monkeypatch.setenv("AUTONOMY_MEMORY_CACHED_CONVERSATIONS", "5")
    async with Node.open(f"lru-{tmp_path.name[-12:]}") as node:
        agent = await Agent.start(node, "x", name="many", model=model)
        for i in range(20):
            await agent.send(f"hello {i}", scope="u", conversation=f"c{i}")
        assert len((await node.list_agents())[0]["workers"]) <= 5
        assert len(node._agents["many"].factory.__self__.memory._histories) <= 5
        await agent.send("again", scope="u", conversation="c0")
        assert user_texts(fake_llm.completion_requests()[-1]) == ["hello 0", "again"]


async def test_a_standalone_node_keeps_conversations_in_memory_only(model, fake_llm, monkeypatch, tmp_path):
    for name in ("AUTONOMY_DATA_DIR", "AUTONOMY_DATABASE_URL", "OCKAM_DATABASE_INSTANCE"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.chdir(tmp_path)
    async with Node.open("standalone") as node:
        agent = await Agent.start(node, "x", name="a", model=model)
        await agent.send("hi", scope="s", conversation="c")
        assert node.resources.get("autonomy.memory.store") is None
    assert list(tmp_path.iterdir()) == []  # nothing written anywhere
