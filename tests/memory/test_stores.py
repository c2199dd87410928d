"""Conversation stores (SQLite, PostgreSQL): one conformance suite, and Memory writing through them."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest

from autonomy.errors import ConfigError
from autonomy.memory import Memory
from autonomy.memory.config import cached_conversations, open_store
from autonomy.memory.postgres_store import PostgresStore
from autonomy.memory.sqlite_store import SqliteStore
from autonomy.memory.store import BatchingStore, MemoryStoreError
from tests.support.postgres import PostgresServer, postgres_server, why_no_postgres


def user(text: str) -> dict:
    return {"role": "user", "content": {"text": text, "type": "text"}}


def texts(messages: list[dict]) -> list[str]:
    return [m["content"]["text"] for m in messages]


@pytest.fixture(scope="module")
def pg() -> Iterator[PostgresServer]:
    reason = why_no_postgres()
    if reason:
        pytest.skip(reason)
    with postgres_server() as server:
        yield server


@pytest.fixture(params=["sqlite", "postgres"])
async def make_store(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator:
    """``make_store(tenant)``: a store of the parametrized kind; the same kind and place on each call
    (as a restarted node would reopen it)."""
    made: list[BatchingStore] = []
    server = request.getfixturevalue("pg") if request.param == "postgres" else None

    def make(tenant: str = "node-a") -> BatchingStore:
        if server is not None:
            store: BatchingStore = PostgresStore(server.url, tenant, "test")
        else:
            store = SqliteStore(tmp_path / "data" / "conversations.sqlite3", tenant)
        made.append(store)
        return store

    yield make
    for store in made:
        await store.aclose()
    if server is not None:  # the next test starts from empty tables
        cleaner = PostgresStore(server.url, "x", "test")
        await cleaner.open()
        await cleaner._conn.execute("TRUNCATE conversation_message, conversation_state")
        await cleaner.aclose()


async def test_a_reopened_store_has_every_message_and_the_paused_state(make_store):
    store = make_store()
    memory = Memory(store=store)
    await memory.hold("agent/s", "c1")
    for i in range(5):
        memory.add_message_nowait("agent/s", "c1", user(f"m{i}"))
    memory.set_state_nowait("agent/s", "c1", {"state": "waiting_for_input", "paused_call_id": "x"})
    memory.release("agent/s", "c1")
    await memory.flush()
    await store.aclose()

    again = Memory(store=make_store())  # a new process: nothing in RAM
    assert await again.get_message_count("agent/s", "c1") == 5
    assert texts(await again.get_messages_only("agent/s", "c1")) == [f"m{i}" for i in range(5)]
    assert again.state_nowait("agent/s", "c1") == {"state": "waiting_for_input", "paused_call_id": "x"}


async def test_trimming_and_deleting_reach_the_store(make_store):
    memory = Memory(max_messages_in_short_term_memory=3, store=make_store())
    for i in range(7):
        await memory.add_message("agent/s", "c", user(f"m{i}"))
    await memory.add_message("agent/s", "gone", user("bye"))
    await memory.delete_conversation("agent/s", "gone")
    fresh = Memory(max_messages_in_short_term_memory=3, store=make_store())
    assert texts(await fresh.get_messages_only("agent/s", "c")) == ["m4", "m5", "m6"]
    await fresh.add_message("agent/s", "c", user("m7"))  # numbering goes on after a reload
    assert texts(await Memory(store=make_store()).get_messages_only("agent/s", "c")) == ["m5", "m6", "m7"]
    assert await fresh.get_message_count("agent/s", "gone") == 0


async def test_tenants_and_scopes_are_kept_apart_and_listed(make_store):
    a, b = Memory(store=make_store("node-a")), Memory(store=make_store("node-b"))
    await a.add_message("one/s", "c", user("a1"))
    await a.add_message("two/s", "c", user("a2"))
    await b.add_message("one/s", "c", user("b1"))
    listed = await a.list_conversations(scope_prefix="one/")
    assert [(s, c, texts(m)) for s, c, m in listed] == [("one/s", "c", ["a1"])]
    assert [texts(m) for _, _, m in await b.list_conversations(scope="s", scope_prefix="one/")] == [["b1"]]


async def test_idle_conversations_leave_ram_and_come_back(make_store):
    memory = Memory(store=make_store(), max_cached_conversations=10)
    for i in range(50):
        await memory.add_message("agent/s", f"c{i}", user(f"hello {i}"))
    assert (await memory.get_metrics())["conversations"] <= 10
    assert texts(await memory.get_messages_only("agent/s", "c3")) == ["hello 3"]


async def test_a_held_conversation_is_never_evicted(make_store):
    memory = Memory(store=make_store(), max_cached_conversations=2)
    await memory.hold("agent/s", "busy")
    memory.add_message_nowait("agent/s", "busy", user("first"))
    for i in range(5):
        await memory.add_message("agent/s", f"other{i}", user("x"))
    memory.add_message_nowait("agent/s", "busy", user("second"))  # still numbered after "first"
    memory.release("agent/s", "busy")
    await memory.flush()
    assert texts(await Memory(store=make_store()).get_messages_only("agent/s", "busy")) == ["first", "second"]


async def test_a_failed_write_keeps_its_changes_and_names_the_store(pg):
    store = PostgresStore(pg.url, "node-a", "127.0.0.1:test")
    memory = Memory(store=store)
    await memory.add_message("agent/s", "c", user("before"))
    pg.kill()
    try:
        memory.add_message_nowait("agent/s", "c", user("while down"))
        with pytest.raises(MemoryStoreError, match="PostgreSQL conversation store 127.0.0.1:test"):
            await memory.flush()
        assert store.pending == 1
    finally:
        pg.start()
    await memory.flush()  # the queued change is written once the database is back
    await store.aclose()
    reader = PostgresStore(pg.url, "node-a", "t")
    assert texts(await Memory(store=reader).get_messages_only("agent/s", "c")) == ["before", "while down"]
    await reader.aclose()


def test_the_environment_chooses_the_store(tmp_path: Path):
    assert open_store("n", {}) is None  # standalone: memory only
    sqlite = open_store("n", {"AUTONOMY_DATA_DIR": str(tmp_path)})
    assert isinstance(sqlite, SqliteStore) and sqlite.path == tmp_path / "conversations.sqlite3"
    assert open_store("n", {"AUTONOMY_DATA_DIR": str(tmp_path), "AUTONOMY_USE_IN_MEMORY_DATABASE": "1"}) is None
    pg = open_store("n", {"OCKAM_DATABASE_INSTANCE": "db:5433", "OCKAM_DATABASE_USER": "u",
                          "OCKAM_DATABASE_PASSWORD": "p@ss", "AUTONOMY_DATA_DIR": str(tmp_path)})
    assert isinstance(pg, PostgresStore) and pg._dsn == "postgresql://u:p%40ss@db:5433/u"
    assert "p@ss" not in pg.description and "p%40ss" not in pg.description
    url = open_store("n", {"AUTONOMY_DATABASE_URL": "postgresql://u:secret@h:1/d"})
    assert isinstance(url, PostgresStore) and "secret" not in url.description
    with pytest.raises(ConfigError, match="AUTONOMY_DATABASE_URL must be"):
        open_store("n", {"AUTONOMY_DATABASE_URL": "mysql://x"})
    with pytest.raises(ConfigError, match="OCKAM_DATABASE_USER"):
        open_store("n", {"OCKAM_DATABASE_INSTANCE": "db:5432"})
    with pytest.raises(ConfigError, match="AUTONOMY_MEMORY_CACHED_CONVERSATIONS"):
        cached_conversations({"AUTONOMY_MEMORY_CACHED_CONVERSATIONS": "lots"})
