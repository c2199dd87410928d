"""Knowledge in a real PostgreSQL (a throwaway cluster from Debian's packages, on a loopback port).

Debian 12 has no pgvector package, so these run the exact-search-in-SQL path; a server with pgvector
takes the ``<=>`` path (docs/knowledge.md).
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator

import pytest

from autonomy import Database, Knowledge, TextPiece
from autonomy.errors import ConfigError
from tests.knowledge.conftest import DOCUMENTS
from tests.support.postgres import PostgresServer, postgres_server, why_no_postgres

pytestmark = [pytest.mark.slow, pytest.mark.skipif(why_no_postgres() is not None, reason=str(why_no_postgres()))]


@pytest.fixture(scope="module")
def server() -> Iterator[PostgresServer]:
    with postgres_server() as running:
        yield running


@pytest.fixture
async def database(server: PostgresServer) -> AsyncIterator[Database]:
    db = Database(f"postgresql://{server.host}:{server.port}/{server.database}", user=server.user,
                  password=server.password)
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

    forced = Database(f"postgresql://{server.host}:{server.port}/{server.database}", user=server.user,
                      password=server.password, use_pgvector=True)
    with pytest.raises(ConfigError, match="pgvector extension is not available"):
        await forced.documents("k")

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


async def test_pgvector_search_where_the_extension_exists(server):
    """Runs where PostgreSQL has pgvector (e.g. Debian 13's postgresql-17-pgvector); Debian 12 has none."""
    database = Database(server.url, use_pgvector=None)
    try:
        pool = await database._connect()
        if not database.pgvector:
            available = await pool.fetchval("SELECT count(*) FROM pg_available_extensions WHERE name = 'vector'")
            assert not available  # only a server without the extension may take the exact path
            pytest.skip("this PostgreSQL has no pgvector extension (Debian 12 does not package it)")
        await database.store_document("k", "a", "text a")
        await database.store_text_piece("k", "a", TextPiece("east", [1.0, 0.0, 0.0]))
        await database.store_text_piece("k", "a", TextPiece("north", [0.0, 1.0, 0.0]))
        results = await database.search_text("k", [2.0, 0.1, 0.0], 10, 0.5)
        assert [(h.text_piece.text, h.text_piece.embedding) for h in results] == [("east", [1.0, 0.0, 0.0])]
        with pytest.raises(ConfigError, match="4 dimensions"):
            await database.search_text("k", [1.0, 0.0, 0.0, 0.0], 10, 2.0)
    finally:
        pool = await database._connect()
        await pool.execute("DROP TABLE IF EXISTS autonomy_knowledge_documents, autonomy_knowledge_pieces")
        await database.close()
