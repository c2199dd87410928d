"""The controller's durable state: ``AUTONOMY_HOME/state.db`` (SQLite in WAL mode).

Tables:
- ``zones``: one row per deployed zone: its spec as JSON (``ZoneSpec.model_dump()``; it holds secret
  NAMES only, never values), the source directory it was built from, the network mode, deploy time.
- ``restarts``: restart counters per container instance (``zone``, ``pod``, ``clone``, ``container``).
- ``settings``: key/value pairs for later parts (model gateway).

Only the controller process opens it; every call is short and synchronous (SQLite on local disk).
"""

from __future__ import annotations

import json
import sqlite3
import time
from pathlib import Path
from typing import Any

__all__ = ["ClusterState", "StoredZone"]

_SCHEMA = """
CREATE TABLE IF NOT EXISTS zones (
    name TEXT PRIMARY KEY,
    spec TEXT NOT NULL,
    source_dir TEXT NOT NULL,
    network TEXT NOT NULL,
    deployed_at REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS restarts (
    zone TEXT NOT NULL, pod TEXT NOT NULL, clone INTEGER NOT NULL, container TEXT NOT NULL,
    count INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (zone, pod, clone, container)
);
CREATE TABLE IF NOT EXISTS settings (key TEXT PRIMARY KEY, value TEXT NOT NULL);
"""


class StoredZone(dict[str, Any]):
    """A row of ``zones``: keys ``name``, ``spec`` (dict), ``source_dir``, ``network``, ``deployed_at``."""


class ClusterState:
    """Open (creating if needed) the state database at ``path``."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._db = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=NORMAL")
        self._db.executescript(_SCHEMA)

    def close(self) -> None:
        self._db.close()

    # --- zones -----------------------------------------------------------------------------------
    def put_zone(self, name: str, spec: dict[str, Any], source_dir: str, network: str) -> None:
        """Insert or replace zone ``name``; its restart counters start again from zero."""
        with self._db:
            self._db.execute("BEGIN")
            self._db.execute("INSERT OR REPLACE INTO zones VALUES (?, ?, ?, ?, ?)",
                             (name, json.dumps(spec), source_dir, network, time.time()))
            self._db.execute("DELETE FROM restarts WHERE zone = ?", (name,))

    def zones(self) -> list[StoredZone]:
        rows = self._db.execute("SELECT name, spec, source_dir, network, deployed_at FROM zones ORDER BY name")
        return [StoredZone(name=n, spec=json.loads(s), source_dir=d, network=m, deployed_at=t)
                for n, s, d, m, t in rows]

    def zone(self, name: str) -> StoredZone | None:
        return next((z for z in self.zones() if z["name"] == name), None)

    def delete_zone(self, name: str) -> bool:
        """Remove zone ``name`` and its counters; False when it was not there."""
        with self._db:
            self._db.execute("BEGIN")
            cursor = self._db.execute("DELETE FROM zones WHERE name = ?", (name,))
            self._db.execute("DELETE FROM restarts WHERE zone = ?", (name,))
        return cursor.rowcount > 0

    # --- restarts --------------------------------------------------------------------------------
    def count_restart(self, zone: str, pod: str, clone: int, container: str) -> int:
        """Add one restart; return the new count."""
        self._db.execute(
            "INSERT INTO restarts VALUES (?, ?, ?, ?, 1) ON CONFLICT (zone, pod, clone, container) "
            "DO UPDATE SET count = count + 1", (zone, pod, clone, container))
        row = self._db.execute("SELECT count FROM restarts WHERE zone=? AND pod=? AND clone=? AND container=?",
                               (zone, pod, clone, container)).fetchone()
        return int(row[0])

    def restarts(self, zone: str) -> dict[tuple[str, int, str], int]:
        rows = self._db.execute("SELECT pod, clone, container, count FROM restarts WHERE zone = ?", (zone,))
        return {(p, c, n): k for p, c, n, k in rows}

    # --- settings --------------------------------------------------------------------------------
    def get_setting(self, key: str, default: str | None = None) -> str | None:
        row = self._db.execute("SELECT value FROM settings WHERE key = ?", (key,)).fetchone()
        return row[0] if row else default

    def set_setting(self, key: str, value: str) -> None:
        self._db.execute("INSERT OR REPLACE INTO settings VALUES (?, ?)", (key, value))
