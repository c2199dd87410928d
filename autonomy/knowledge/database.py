"""``Database``: Knowledge storage in PostgreSQL (asyncpg, the ``[postgres]`` extra).

Two tables, created on first use: ``autonomy_knowledge_documents`` (knowledge, name, text) and
``autonomy_knowledge_pieces`` (knowledge, document, text, embedding). The embedding column is a
pgvector ``vector`` when the ``vector`` extension is available (it is created if missing and allowed),
and searches then use pgvector's cosine distance operator ``<=>`` through an HNSW index per embedding
size (approximate nearest neighbours, as pgvector's HNSW is: on small sets its answers equal the exact
ones, which tests/knowledge/test_database.py checks); otherwise it is ``float8[]`` and the
search computes the same cosine distance exactly in SQL. The choice is made when the pieces table is
created and read back from the table afterwards (``use_pgvector=False`` forces arrays for a new table).

Connection: ``Database(connection_url, user=None, password=None)``; ``Database.from_environment()``
reads ``OCKAM_DATABASE_CONNECTION_URL`` (or ``OCKAM_DATABASE_INSTANCE``, a ``host[:port]/db``) and
``OCKAM_DATABASE_USER`` / ``OCKAM_DATABASE_PASSWORD``, as upstream. Passwords never appear in errors.
"""

from __future__ import annotations

import asyncio
import importlib.util
import logging
import os
from collections.abc import Sequence
from typing import Any
from urllib.parse import urlsplit

from autonomy.errors import ConfigError, MissingExtra
from autonomy.knowledge.pieces import SearchHit, SearchResults, TextPiece

__all__ = ["Database"]

logger = logging.getLogger("autonomy.knowledge")

_DOCUMENTS = "autonomy_knowledge_documents"
_PIECES = "autonomy_knowledge_pieces"

_EXACT_SEARCH = f"""
SELECT document, text, embedding, distance FROM (
    SELECT id, document, text, embedding,
        (SELECT 1 - sum(x * y) / NULLIF(sqrt(sum(x * x)) * sqrt(sum(y * y)), 0)
         FROM unnest(embedding, $2::float8[]) AS t(x, y)) AS distance
    FROM {_PIECES} WHERE knowledge = $1 AND cardinality(embedding) = cardinality($2::float8[])
) AS scored WHERE distance <= $3 ORDER BY distance, id LIMIT $4
"""
# pgvector: the column is a ``vector`` of any size, so each embedding size gets its own HNSW index on the
# column cast to that size (partial: only pieces of that size). The query repeats the index's expression
# and orders by it alone (an index can serve only that order); ``hnsw.iterative_scan`` keeps scanning the
# index until the knowledge filter has found enough pieces, in exact distance order (pgvector >= 0.8).
_PGVECTOR_SEARCH = """
SELECT document, text, embedding::text AS embedding, distance FROM (
    SELECT id, document, text, embedding, embedding::vector({dims}) <=> ($2::text)::vector({dims}) AS distance
    FROM {pieces} WHERE vector_dims(embedding) = {dims} AND knowledge = $1
    ORDER BY embedding::vector({dims}) <=> ($2::text)::vector({dims}) LIMIT $4
) AS nearest WHERE distance <= $3 ORDER BY distance, id
"""
_HNSW_INDEX = """
CREATE INDEX IF NOT EXISTS {pieces}_hnsw_{dims} ON {pieces}
USING hnsw ((embedding::vector({dims})) vector_cosine_ops) WHERE vector_dims(embedding) = {dims}
"""
HNSW_MAX_DIMENSIONS = 2000  # pgvector's limit for an HNSW index on ``vector``
# Candidates the index search keeps (pgvector's default is 40). Measured on 5,000 random 384-dimension
# pieces (random vectors are the hardest case): recall@10 0.77 at 40, 1.00 at 200, still ~7x faster
# than the exact SQL scan (docs/knowledge.md).
HNSW_EF_SEARCH = 200


def _where(url: str) -> str:
    """``host:port/db`` of a connection URL, for messages (never the password)."""
    parts = urlsplit(url)
    return f"{parts.hostname or 'localhost'}:{parts.port or 5432}{parts.path or ''}"


def _vector_text(embedding: Sequence[float]) -> str:
    return "[" + ",".join(repr(float(x)) for x in embedding) + "]"


class Database:
    """PostgreSQL storage; one connection pool, opened at first use (``close()`` ends it)."""

    def __init__(self, connection_url: str, user: str | None = None, password: str | None = None,
                 use_pgvector: bool | None = None) -> None:
        if not isinstance(connection_url, str) or not connection_url.startswith(("postgres://", "postgresql://")):
            raise ConfigError("Database(connection_url=...): must be a postgresql://host[:port]/database URL")
        self.connection_url = connection_url
        self.user = user
        self._password = password
        self._want_pgvector = use_pgvector
        self.pgvector: bool | None = None  # known after the first use
        self._indexed: set[int] = set()  # embedding sizes whose HNSW index exists
        self._pool: Any = None
        self._opening = asyncio.Lock()

    def __repr__(self) -> str:
        return f"Database({_where(self.connection_url)!r})"

    @classmethod
    def from_environment(cls) -> Database:
        url = os.environ.get("OCKAM_DATABASE_CONNECTION_URL", "").strip()
        if not url:
            instance = os.environ.get("OCKAM_DATABASE_INSTANCE", "").strip()
            if not instance:
                raise ConfigError("Database.from_environment(): set OCKAM_DATABASE_CONNECTION_URL "
                                  "(postgresql://host:port/db) or OCKAM_DATABASE_INSTANCE (host:port/db)")
            url = instance if "://" in instance else f"postgresql://{instance}"
        user = os.environ.get("OCKAM_DATABASE_USER") or None
        return cls(url, user, os.environ.get("OCKAM_DATABASE_PASSWORD") or None)

    async def _connect(self) -> Any:
        if self._pool is not None:
            return self._pool
        async with self._opening:
            if self._pool is None:
                if importlib.util.find_spec("asyncpg") is None:
                    raise MissingExtra("Knowledge in PostgreSQL (Database)", "postgres")
                import asyncpg

                try:
                    pool = await asyncpg.create_pool(self.connection_url, user=self.user, password=self._password,
                                                     min_size=1, max_size=4)
                except (OSError, asyncpg.PostgresError) as exc:
                    raise ConfigError(f"Knowledge database at {_where(self.connection_url)} cannot be reached: "
                                      f"{type(exc).__name__}: {exc}") from exc
                try:
                    async with pool.acquire() as connection:
                        await self._prepare(connection)
                except BaseException:
                    await pool.close()
                    raise
                self._pool = pool
        return self._pool

    async def _prepare(self, connection: Any) -> None:
        column = await connection.fetchval(
            "SELECT udt_name FROM information_schema.columns WHERE table_name = $1 AND column_name = 'embedding' "
            "AND table_schema = current_schema()", _PIECES)
        if column is None:
            vector = self._want_pgvector is not False and await self._enable_pgvector(connection)
            if self._want_pgvector and not vector:
                raise ConfigError(f"Database(use_pgvector=True): the pgvector extension is not available in "
                                  f"{_where(self.connection_url)}, or this user may not create it: install it "
                                  "(package postgresql-NN-pgvector) and CREATE EXTENSION vector as a superuser, "
                                  "or leave use_pgvector unset for exact search")
            kind = "vector" if vector else "float8[]"
            await connection.execute(f"""
                CREATE TABLE IF NOT EXISTS {_DOCUMENTS} (
                    seq bigserial, knowledge text NOT NULL, name text NOT NULL, text text NOT NULL,
                    PRIMARY KEY (knowledge, name));
                CREATE TABLE IF NOT EXISTS {_PIECES} (
                    id bigserial PRIMARY KEY, knowledge text NOT NULL, document text NOT NULL, text text NOT NULL,
                    embedding {kind});
                CREATE INDEX IF NOT EXISTS {_PIECES}_knowledge ON {_PIECES} (knowledge, document);""")
            self.pgvector = vector
        else:
            self.pgvector = column == "vector"
        logger.info("knowledge database %s: %s search", _where(self.connection_url),
                    "pgvector" if self.pgvector else "exact SQL")

    async def _enable_pgvector(self, connection: Any) -> bool:
        import asyncpg

        if not await connection.fetchval("SELECT count(*) FROM pg_available_extensions WHERE name = 'vector'"):
            return False
        try:
            await connection.execute("CREATE EXTENSION IF NOT EXISTS vector")
        except asyncpg.PostgresError as exc:
            logger.warning("pgvector is available but cannot be enabled (%s): exact search in SQL instead", exc)
            return False
        return True

    async def close(self) -> None:
        pool, self._pool = self._pool, None
        if pool is not None:
            await pool.close()

    # --- Storage ------------------------------------------------------------------------------

    async def store_document(self, knowledge: str, document_name: str, text: str) -> None:
        pool = await self._connect()
        async with pool.acquire() as connection, connection.transaction():
            await connection.execute(f"DELETE FROM {_PIECES} WHERE knowledge = $1 AND document = $2",
                                     knowledge, document_name)
            await connection.execute(
                f"INSERT INTO {_DOCUMENTS} (knowledge, name, text) VALUES ($1, $2, $3) "
                "ON CONFLICT (knowledge, name) DO UPDATE SET text = EXCLUDED.text", knowledge, document_name, text)

    async def documents(self, knowledge: str) -> list[tuple[str, str]]:
        pool = await self._connect()
        rows = await pool.fetch(f"SELECT name, text FROM {_DOCUMENTS} WHERE knowledge = $1 ORDER BY seq", knowledge)
        return [(row["name"], row["text"]) for row in rows]

    async def store_text_piece(self, knowledge: str, document_name: str, piece: TextPiece) -> None:
        await self.store_text_pieces(knowledge, document_name, [piece])

    async def store_text_pieces(self, knowledge: str, document_name: str, pieces: Sequence[TextPiece]) -> None:
        """Many pieces in one round trip (what SearchableKnowledge uses when the storage has it)."""
        pool = await self._connect()
        if self.pgvector:
            sql = (f"INSERT INTO {_PIECES} (knowledge, document, text, embedding) "
                   "VALUES ($1, $2, $3, ($4::text)::vector)")
            rows: list[tuple[str, str, str, Any]] = [
                (knowledge, document_name, p.text, None if p.embedding is None else _vector_text(p.embedding))
                for p in pieces]
        else:
            sql = f"INSERT INTO {_PIECES} (knowledge, document, text, embedding) VALUES ($1, $2, $3, $4::float8[])"
            rows = [(knowledge, document_name, p.text, p.embedding) for p in pieces]
        await pool.executemany(sql, rows)
        if self.pgvector:
            for dims in {len(p.embedding) for p in pieces if p.embedding} - self._indexed:
                if dims <= HNSW_MAX_DIMENSIONS:  # larger ones are searched without an index
                    await pool.execute(_HNSW_INDEX.format(pieces=_PIECES, dims=int(dims)))
                self._indexed.add(dims)

    async def search_text(self, knowledge: str, embedding: Sequence[float], max_results: int,
                          max_distance: float) -> SearchResults:
        pool = await self._connect()
        if self.pgvector:
            query = _PGVECTOR_SEARCH.format(pieces=_PIECES, dims=len(embedding))
            async with pool.acquire() as connection, connection.transaction():
                await connection.execute("SET LOCAL hnsw.iterative_scan = strict_order; "
                                         f"SET LOCAL hnsw.ef_search = {HNSW_EF_SEARCH}")
                rows = await connection.fetch(query, knowledge, _vector_text(embedding), max_distance, max_results)
            found = [(r["document"], r["text"], [float(x) for x in r["embedding"].strip("[]").split(",")],
                      r["distance"]) for r in rows]
        else:
            rows = await pool.fetch(_EXACT_SEARCH, knowledge, list(embedding), max_distance, max_results)
            found = [(r["document"], r["text"], list(r["embedding"]), r["distance"]) for r in rows]
        if not found:
            await self._check_dimensions(pool, knowledge, len(embedding))
        return SearchResults([SearchHit(document, TextPiece(text, vector), float(distance))
                              for document, text, vector, distance in found])

    async def _check_dimensions(self, pool: Any, knowledge: str, dimensions: int) -> None:
        size = "vector_dims(embedding)" if self.pgvector else "cardinality(embedding)"
        other = await pool.fetchval(f"SELECT {size} FROM {_PIECES} WHERE knowledge = $1 AND embedding IS NOT NULL "
                                    f"AND {size} <> $2 LIMIT 1", knowledge, dimensions)
        if other is not None:
            raise ConfigError(f"knowledge {knowledge!r}: the query's embedding has {dimensions} dimensions, the "
                              f"stored pieces {other}: use the model the documents were added with")
