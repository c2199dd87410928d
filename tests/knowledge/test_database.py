"""Knowledge in a real PostgreSQL (a throwaway cluster from Debian's packages, on a loopback port).

Both search paths run: exact search in SQL (``use_pgvector=False``) and pgvector's ``<=>`` through its HNSW
index, where the extension is installed (Debian 12 does not package it: scripts/system-deps.d/pgvector.sh
builds it from Debian's source package; without it that test skips with the reason).
"""

from __future__ import annotations

import random
from collections.abc import AsyncIterator, Iterator

import pytest

from autonomy import Database, Knowledge, TextPiece
from autonomy.errors import ConfigError
from autonomy.knowledge.database import _PGVECTOR_SEARCH
from tests.knowledge.conftest import DOCUMENTS
from tests.support.postgres import PostgresServer, postgres_server, why_no_postgres

pytestmark = [pytest.mark.slow, pytest.mark.skipif(why_no_postgres() is not None, reason=str(why_no_postgres()))]
asyncpg = pytest.importorskip("asyncpg")


@pytest.fixture(scope="module")
def server() -> Iterator[PostgresServer]:
    with postgres_server() as running:
        yield running


@pytest.fixture
async def database(server: PostgresServer) -> AsyncIterator[Database]:
    db = Database(f"postgresql://{server.host}:{server.port}/{server.database}", user=server.user,
                  password=server.password, use_pgvector=False)
    try:
        yield db
    finally:
        pool = await db._connect()
        await pool.execute("DROP TABLE IF EXISTS autonomy_knowledge_documents, autonomy_knowledge_pieces")
        await db.close()


async def test_storage_keeps_documents_and_finds_nearest_pieces_exactly(database: Database):
    await database.store_document("k", "a", "text a")
    await database.store_document("k", "b", "text b")
    await database.store_document("other", "a", "other a")
    await database.store_text_piece("k", "a", TextPiece("east", [1.0, 0.0, 0.0]))
    await database.store_text_piece("k", "a", TextPiece("north-east", [1.0, 1.0, 0.0]))
    await database.store_text_piece("k", "b", TextPiece("north", [0.0, 1.0, 0.0]))
    await database.store_text_piece("other", "a", TextPiece("east elsewhere", [1.0, 0.0, 0.0]))
    assert database.pgvector is False

    results = await database.search_text("k", [2.0, 0.1, 0.0], max_results=2, max_distance=1.0)
    assert [(h.document_name, h.text_piece.text) for h in results] == [("a", "east"), ("a", "north-east")]
    assert results.hits[0].distance == pytest.approx(1 - 2 / (2.0 ** 2 + 0.01) ** 0.5, abs=1e-9)
    assert results.hits[0].text_piece.embedding == [1.0, 0.0, 0.0]
    assert [h.text_piece.text for h in await database.search_text("k", [1.0, 0.0, 0.0], 10, 0.2)] == ["east"]
    assert await database.documents("k") == [("a", "text a"), ("b", "text b")]

    await database.store_document("k", "a", "text a, new")  # replaces the document and drops its pieces
    assert [h.document_name for h in await database.search_text("k", [1.0, 0.0, 0.0], 10, 2.0)] == ["b"]
    assert await database.documents("k") == [("a", "text a, new"), ("b", "text b")]

    with pytest.raises(ConfigError, match="4 dimensions, the stored pieces 3"):
        await database.search_text("k", [1.0, 0.0, 0.0, 0.0], 10, 2.0)


async def test_searchable_knowledge_in_postgres_survives_a_new_connection(gateway, server, database):
    knowledge = Knowledge("pg-facts", searchable=True, storage=database, max_distance=0.8, max_results=2)
    for name, text in DOCUMENTS.items():
        await knowledge.add_text(name, text)
    await database.close()

    again = Database(f"postgresql://{server.host}:{server.port}/{server.database}", user=server.user,
                     password=server.password)
    try:
        reopened = Knowledge("pg-facts", searchable=True, storage=again, max_distance=0.8, max_results=2)
        answer = await reopened.search_knowledge(None, None, "steering a boat against the wind")
        assert answer.startswith("Document name: sailing\n- A sailboat moves with the wind.")
        whole = Knowledge("pg-facts", storage=again, document_name="python")
        assert await whole.search_knowledge(None, None, "x") == f"Document name: python\n{DOCUMENTS['python']}"
    finally:
        await again.close()


async def test_connection_problems_and_missing_pgvector_are_clear(server, monkeypatch):
    wrong = Database(f"postgresql://{server.host}:{server.port}/{server.database}", user=server.user,
                     password="not-the-password")
    with pytest.raises(ConfigError) as refused:
        await wrong.documents("k")
    assert "cannot be reached" in str(refused.value) and "not-the-password" not in str(refused.value)

    # pgvector is not a trusted extension: a user who may not create it gets the same clear refusal as
    # a server without it.
    admin = await asyncpg.connect(server.url, user=server.user, password=server.password)
    try:
        await admin.execute("DROP DATABASE IF EXISTS plain")
        await admin.execute("DROP ROLE IF EXISTS plain")
        await admin.execute("CREATE ROLE plain LOGIN PASSWORD 'plain-pw'")
        await admin.execute("CREATE DATABASE plain OWNER plain")
        forced = Database(f"postgresql://{server.host}:{server.port}/plain", user="plain", password="plain-pw",
                          use_pgvector=True)
        with pytest.raises(ConfigError, match="pgvector extension is not available .* or this user may not"):
            await forced.documents("k")
        await forced.close()
    finally:
        await admin.execute("DROP DATABASE IF EXISTS plain")
        await admin.execute("DROP ROLE IF EXISTS plain")
        await admin.close()

    with pytest.raises(ConfigError, match="connection_url"):
        Database("mysql://x/y")
    for name in ("OCKAM_DATABASE_CONNECTION_URL", "OCKAM_DATABASE_INSTANCE"):
        monkeypatch.delenv(name, raising=False)
    with pytest.raises(ConfigError, match="OCKAM_DATABASE_CONNECTION_URL"):
        Database.from_environment()
    monkeypatch.setenv("OCKAM_DATABASE_INSTANCE", f"{server.host}:{server.port}/{server.database}")
    monkeypatch.setenv("OCKAM_DATABASE_USER", server.user)
    monkeypatch.setenv("OCKAM_DATABASE_PASSWORD", server.password)
    from_env = Database.from_environment()
    try:
        assert await from_env.documents("nothing") == []
        assert server.password not in repr(from_env)
    finally:
        pool = await from_env._connect()
        await pool.execute("DROP TABLE IF EXISTS autonomy_knowledge_documents, autonomy_knowledge_pieces")
        await from_env.close()


async def test_pgvector_search_uses_its_index_and_orders_as_the_exact_search(server):
    admin = await asyncpg.connect(server.url, user=server.user, password=server.password)
    if not await admin.fetchval("SELECT count(*) FROM pg_available_extensions WHERE name = 'vector'"):
        await admin.close()
        pytest.skip("this PostgreSQL has no pgvector extension (scripts/system-deps.d/pgvector.sh builds it)")
    await admin.execute("DROP DATABASE IF EXISTS vec")
    await admin.execute("CREATE DATABASE vec")
    # Every session of this database prefers an index to a table scan, so the small table below is
    # searched through the HNSW index, not scanned.
    await admin.execute("ALTER DATABASE vec SET enable_seqscan = off")
    base = f"postgresql://{server.host}:{server.port}"
    vector = Database(f"{base}/vec", user=server.user, password=server.password, use_pgvector=True)
    exact = Database(f"{base}/{server.database}", user=server.user, password=server.password, use_pgvector=False)
    rng = random.Random(7)
    try:
        for knowledge in ("k", "other"):
            for document in ("a", "b", "c"):
                pieces = [TextPiece(f"{knowledge}-{document}-{i}", [rng.uniform(-1, 1) for _ in range(16)])
                          for i in range(40)]
                for storage in (vector, exact):
                    await storage.store_document(knowledge, document, f"text {document}")
                    await storage.store_text_pieces(knowledge, document, pieces)
        assert vector.pgvector is True and exact.pgvector is False
        for _ in range(5):
            query = [rng.uniform(-1, 1) for _ in range(16)]
            by_index = await vector.search_text("k", query, max_results=8, max_distance=1.0)
            by_sql = await exact.search_text("k", query, max_results=8, max_distance=1.0)
            assert [(h.document_name, h.text_piece.text) for h in by_index] == [
                (h.document_name, h.text_piece.text) for h in by_sql]
            assert [h.distance for h in by_index] == pytest.approx([h.distance for h in by_sql], abs=1e-5)
            assert all(h.text_piece.text.startswith("k-") for h in by_index)
        pool = await vector._connect()
        async with pool.acquire() as connection:
            plan = "\n".join(r[0] for r in await connection.fetch(
                "EXPLAIN " + _PGVECTOR_SEARCH.format(pieces="autonomy_knowledge_pieces", dims=16),
                "k", "[" + ",".join(["0.5"] * 16) + "]", 1.0, 8))
        assert "autonomy_knowledge_pieces_hnsw_16" in plan, plan
        with pytest.raises(ConfigError, match="4 dimensions"):
            await vector.search_text("k", [1.0, 0.0, 0.0, 0.0], 10, 2.0)
    finally:
        for storage in (vector, exact):
            pool = await storage._connect()
            await pool.execute("DROP TABLE IF EXISTS autonomy_knowledge_documents, autonomy_knowledge_pieces")
            await storage.close()
        await admin.execute("DROP DATABASE IF EXISTS vec")
        await admin.close()
