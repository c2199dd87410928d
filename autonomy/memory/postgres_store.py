"""Conversations in PostgreSQL (extra ``postgres``: asyncpg), for nodes given a database.

Same tables as the SQLite store; rows carry the node's name (``tenant``), so the nodes of a cluster
may share one database. The connection is opened at the first use and re-opened after it broke (the
failed flush keeps its writes queued; the next one retries them).
"""

from __future__ import annotations

from typing import Any

from autonomy.errors import MissingExtra
from autonomy.memory.store import BatchingStore, Stored, Write, decode

__all__ = ["PostgresStore"]

_SCHEMA = """
CREATE TABLE IF NOT EXISTS conversation_message (
    tenant TEXT NOT NULL, scope TEXT NOT NULL, conversation TEXT NOT NULL, seq BIGINT NOT NULL,
    message TEXT NOT NULL, PRIMARY KEY (tenant, scope, conversation, seq));
CREATE TABLE IF NOT EXISTS conversation_state (
    tenant TEXT NOT NULL, scope TEXT NOT NULL, conversation TEXT NOT NULL, state TEXT NOT NULL,
    PRIMARY KEY (tenant, scope, conversation));
"""
_KEY = "tenant = $1 AND scope = $2 AND conversation = $3"


class PostgresStore(BatchingStore):
    """Conversations of node ``tenant`` in the PostgreSQL database at ``dsn``
    (``postgresql://user:password@host:port/dbname``). ``where`` names the database in errors and
    logs without its password."""

    def __init__(self, dsn: str, tenant: str, where: str) -> None:
        super().__init__()
        self._dsn = dsn
        self.tenant = tenant
        self.description = f"PostgreSQL conversation store {where}"
        self._conn: Any = None

    async def _connect(self) -> Any:
        if self._conn is not None and not self._conn.is_closed():
            return self._conn
        try:
            import asyncpg
        except ImportError as exc:
            raise MissingExtra("PostgreSQL conversation store", "postgres") from exc
        self._conn = await asyncpg.connect(self._dsn, timeout=10)
        return self._conn

    async def _open(self) -> None:
        conn = await self._connect()
        await conn.execute(_SCHEMA)

    def _drop(self) -> None:
        """Forget a connection that failed (the server went away): the next call connects again."""
        conn, self._conn = self._conn, None
        if conn is not None:
            conn.terminate()

    async def _write(self, batch: list[Write]) -> None:
        try:
            await self._write_batch(batch)
        except Exception:
            self._drop()
            raise

    async def _write_batch(self, batch: list[Write]) -> None:
        conn, t = await self._connect(), self.tenant
        async with conn.transaction():
            for w in batch:
                key = (t, w.scope, w.conversation)
                if w.kind == "append":
                    await conn.execute(
                        "INSERT INTO conversation_message VALUES ($1, $2, $3, $4, $5) ON CONFLICT "
                        "(tenant, scope, conversation, seq) DO UPDATE SET message = EXCLUDED.message", *key, w.seq,
                        w.data)
                elif w.kind == "trim":
                    await conn.execute(f"DELETE FROM conversation_message WHERE {_KEY} AND seq < $4", *key, w.seq)
                elif w.kind == "state":
                    if w.data is None:
                        await conn.execute(f"DELETE FROM conversation_state WHERE {_KEY}", *key)
                    else:
                        await conn.execute(
                            "INSERT INTO conversation_state VALUES ($1, $2, $3, $4) ON CONFLICT "
                            "(tenant, scope, conversation) DO UPDATE SET state = EXCLUDED.state", *key, w.data)
                elif w.kind == "delete":
                    await conn.execute(f"DELETE FROM conversation_message WHERE {_KEY}", *key)
                    await conn.execute(f"DELETE FROM conversation_state WHERE {_KEY}", *key)

    async def _load(self, scope: str, conversation: str) -> Stored | None:
        try:
            return await self._load_rows(scope, conversation)
        except Exception:
            self._drop()
            raise

    async def _load_rows(self, scope: str, conversation: str) -> Stored | None:
        conn, key = await self._connect(), (self.tenant, scope, conversation)
        rows = await conn.fetch(f"SELECT seq, message FROM conversation_message WHERE {_KEY} ORDER BY seq", *key)
        state = await conn.fetchval(f"SELECT state FROM conversation_state WHERE {_KEY}", *key)
        if not rows and state is None:
            return None
        return Stored([decode(r["message"]) for r in rows], rows[0]["seq"] if rows else 0,
                      decode(state) if state is not None else None)

    async def _conversations(self, scope_prefix: str, scope: str | None,
                             conversation: str | None) -> list[tuple[str, str, list[dict[str, Any]]]]:
        sql = "SELECT scope, conversation, message FROM conversation_message WHERE tenant = $1 AND left(scope, $2) = $3"
        args: list[Any] = [self.tenant, len(scope_prefix), scope_prefix]
        if scope is not None:
            args.append(scope_prefix + scope)
            sql += f" AND scope = ${len(args)}"
        if conversation is not None:
            args.append(conversation)
            sql += f" AND conversation = ${len(args)}"
        out: dict[tuple[str, str], list[dict[str, Any]]] = {}
        for row in await (await self._connect()).fetch(sql + " ORDER BY scope, conversation, seq", *args):
            out.setdefault((row["scope"], row["conversation"]), []).append(decode(row["message"]))
        return [(s, c, messages) for (s, c), messages in out.items()]

    async def _close(self) -> None:
        conn, self._conn = self._conn, None
        if conn is not None and not conn.is_closed():
            await conn.close()
