"""Long-term memory: conversations kept in a SQLite file across restarts (``enable_long_term_memory``).

Upstream keeps them in PostgreSQL (table ``conversation(tenant_id, scope, conversation, message)``,
``OCKAM_DATABASE_*``). Our decision: a SQLite file, ``$AUTONOMY_MEMORY_DB`` when set, else
``memory.sqlite`` in ``$AUTONOMY_DATA_DIR`` (a pod instance's data directory), else in
``~/.local/share/autonomy``; the directory is created 0700 and the file is 0600. The tenant is the
agent's name, so two agents of one node never see each other's conversations.

Writes are one small ``INSERT`` per message in autocommit mode (WAL journal): cheap enough to run
on the event loop's thread, and a message is on disk before the turn goes on.
"""

from __future__ import annotations

import json
import os
import sqlite3
import threading
from pathlib import Path
from typing import Any

__all__ = ["ConversationStore", "default_path"]

_SCHEMA = """
CREATE TABLE IF NOT EXISTS conversation (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    tenant_id TEXT NOT NULL, scope TEXT NOT NULL, conversation TEXT NOT NULL, message TEXT NOT NULL);
CREATE INDEX IF NOT EXISTS conversation_key ON conversation (tenant_id, scope, conversation, id);
"""


def default_path() -> Path:
    explicit = os.environ.get("AUTONOMY_MEMORY_DB", "").strip()
    if explicit:
        return Path(explicit)
    base = os.environ.get("AUTONOMY_DATA_DIR", "").strip()
    directory = Path(base) if base else Path.home() / ".local" / "share" / "autonomy"
    return directory / "memory.sqlite"


class ConversationStore:
    """The messages of one tenant's conversations in a SQLite file (see the module docstring)."""

    def __init__(self, tenant: str, path: str | os.PathLike[str] | None = None) -> None:
        self.tenant = tenant
        self.path = Path(path) if path is not None else default_path()
        self.path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        fd = os.open(self.path, os.O_CREAT | os.O_RDWR, 0o600)
        os.close(fd)
        self._lock = threading.Lock()
        self._db = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA busy_timeout=5000")
        self._db.executescript(_SCHEMA)

    def append(self, scope: str, conversation: str, message: dict[str, Any]) -> None:
        with self._lock:
            self._db.execute("INSERT INTO conversation (tenant_id, scope, conversation, message) VALUES (?, ?, ?, ?)",
                             (self.tenant, scope, conversation, json.dumps(message)))

    def load(self, limit: int | None) -> dict[tuple[str, str], list[dict[str, Any]]]:
        """The last ``limit`` messages (all when None) of every conversation of the tenant, oldest first."""
        out: dict[tuple[str, str], list[dict[str, Any]]] = {}
        with self._lock:
            rows = self._db.execute("SELECT scope, conversation, message FROM conversation WHERE tenant_id = ? "
                                    "ORDER BY id", (self.tenant,)).fetchall()
        for scope, conversation, message in rows:
            out.setdefault((scope, conversation), []).append(json.loads(message))
        if limit:
            out = {key: messages[-limit:] for key, messages in out.items()}
        return out

    def delete(self, scope: str | None = None, conversation: str | None = None) -> None:
        query, args = "DELETE FROM conversation WHERE tenant_id = ?", [self.tenant]
        if scope is not None:
            query, args = query + " AND scope = ?", [*args, scope]
        if conversation is not None:
            query, args = query + " AND conversation = ?", [*args, conversation]
        with self._lock:
            self._db.execute(query, args)

    def close(self) -> None:
        with self._lock:
            self._db.close()
