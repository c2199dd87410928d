"""Conversations in a SQLite file: the default store of a node in a zone (its pod instance's data dir).

The file is opened in WAL mode with ``synchronous=NORMAL``: a committed flush survives the process
being killed (SIGKILL, OOM); only a power loss may lose the last flushes. Several processes may share
the file (the node containers of one pod): rows carry the node's name (``tenant``). Calls run on the
event loop's thread: a flush is one small transaction (tens of microseconds), cheaper than a thread hop.
"""

from __future__ import annotations

import os
import sqlite3
from pathlib import Path
from typing import Any

from autonomy.memory.store import BatchingStore, Stored, Write, decode

__all__ = ["SqliteStore"]

_SCHEMA = """
CREATE TABLE IF NOT EXISTS conversation_message (
    tenant TEXT NOT NULL, scope TEXT NOT NULL, conversation TEXT NOT NULL, seq INTEGER NOT NULL,
    message TEXT NOT NULL, PRIMARY KEY (tenant, scope, conversation, seq)) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS conversation_state (
    tenant TEXT NOT NULL, scope TEXT NOT NULL, conversation TEXT NOT NULL, state TEXT NOT NULL,
    PRIMARY KEY (tenant, scope, conversation)) WITHOUT ROWID;
"""


class SqliteStore(BatchingStore):
    """Conversations of node ``tenant`` in the SQLite file ``path`` (created 0600, its folder 0700)."""

    def __init__(self, path: str | Path, tenant: str) -> None:
        super().__init__()
        self.path = Path(path)
        self.tenant = tenant
        self.description = f"SQLite conversation store {self.path}"
        self._db: sqlite3.Connection | None = None

    async def _open(self) -> None:
        self.path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        if not self.path.exists():
            os.close(os.open(self.path, os.O_CREAT | os.O_WRONLY, 0o600))
        db = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False, timeout=10)
        try:
            db.execute("PRAGMA journal_mode=WAL")
            db.execute("PRAGMA synchronous=NORMAL")
            db.executescript(_SCHEMA)
        except BaseException:
            db.close()
            raise
        self._db = db

    def _conn(self) -> sqlite3.Connection:
        if self._db is None:
            raise RuntimeError(f"{self.description} is closed")
        return self._db

    async def _write(self, batch: list[Write]) -> None:
        db, t = self._conn(), self.tenant
        db.execute("BEGIN IMMEDIATE")
        try:
            for w in batch:
                key = (t, w.scope, w.conversation)
                if w.kind == "append":
                    db.execute("INSERT OR REPLACE INTO conversation_message VALUES (?, ?, ?, ?, ?)",
                               (*key, w.seq, w.data))
                elif w.kind == "trim":
                    db.execute("DELETE FROM conversation_message WHERE tenant = ? AND scope = ? AND "
                               "conversation = ? AND seq < ?", (*key, w.seq))
                elif w.kind == "state":
                    if w.data is None:
                        db.execute("DELETE FROM conversation_state WHERE tenant = ? AND scope = ? AND "
                                   "conversation = ?", key)
                    else:
                        db.execute("INSERT OR REPLACE INTO conversation_state VALUES (?, ?, ?, ?)", (*key, w.data))
                elif w.kind == "delete":
                    for table in ("conversation_message", "conversation_state"):
                        db.execute(f"DELETE FROM {table} WHERE tenant = ? AND scope = ? AND conversation = ?", key)
            db.execute("COMMIT")
        except BaseException:
            db.execute("ROLLBACK")
            raise

    async def _load(self, scope: str, conversation: str) -> Stored | None:
        db, key = self._conn(), (self.tenant, scope, conversation)
        rows = db.execute("SELECT seq, message FROM conversation_message WHERE tenant = ? AND scope = ? AND "
                          "conversation = ? ORDER BY seq", key).fetchall()
        state = db.execute("SELECT state FROM conversation_state WHERE tenant = ? AND scope = ? AND "
                           "conversation = ?", key).fetchone()
        if not rows and state is None:
            return None
        return Stored([decode(m) for _, m in rows], rows[0][0] if rows else 0,
                      decode(state[0]) if state is not None else None)

    async def _conversations(self, scope_prefix: str, scope: str | None,
                             conversation: str | None) -> list[tuple[str, str, list[dict[str, Any]]]]:
        sql = ("SELECT scope, conversation, message FROM conversation_message WHERE tenant = ? "
               "AND substr(scope, 1, ?) = ?")
        args: list[Any] = [self.tenant, len(scope_prefix), scope_prefix]
        if scope is not None:
            sql += " AND scope = ?"
            args.append(scope_prefix + scope)
        if conversation is not None:
            sql += " AND conversation = ?"
            args.append(conversation)
        out: dict[tuple[str, str], list[dict[str, Any]]] = {}
        for s, c, m in self._conn().execute(sql + " ORDER BY scope, conversation, seq", args):
            out.setdefault((s, c), []).append(decode(m))
        return [(s, c, messages) for (s, c), messages in out.items()]

    async def _close(self) -> None:
        db, self._db = self._db, None
        if db is not None:
            db.close()
