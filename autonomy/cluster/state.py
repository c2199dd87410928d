"""The controller's durable state: ``AUTONOMY_HOME/state.db`` (SQLite in WAL mode).

Tables:
- ``zones``: one row per deployed zone: its spec as JSON (``ZoneSpec.model_dump()``; it holds secret
  NAMES only, never values), the source directory it was built from, the network mode, deploy time.
- ``restarts``: restart counters per container instance (``zone``, ``pod``, ``clone``, ``container``).
- ``settings``: key/value pairs: ``gateway`` (the model gateway's ``GatewayConfig`` JSON, no keys) and
  ``zone_keys`` (SHA-256 digests of the zones' gateway keys, never a key).
- ``usage``: model gateway usage per zone and model (requests, failed, without usage, tokens); written in
  batches by :class:`~autonomy.cluster.model_gateway.ClusterModelGateway`.

Only the controller process opens it; every call is short and synchronous (SQLite on local disk).
"""

from __future__ import annotations

import json
import sqlite3
import time
from pathlib import Path
from typing import Any

__all__ = ["ClusterState", "StoredZone", "USAGE_FIELDS"]

#: The counters kept per (zone, model), as in :class:`autonomy.gateway.Usage`.
USAGE_FIELDS = ("requests", "failed_requests", "requests_without_usage", "prompt_tokens", "completion_tokens")

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
CREATE TABLE IF NOT EXISTS usage (
    zone TEXT NOT NULL, model TEXT NOT NULL,
    requests INTEGER NOT NULL DEFAULT 0, failed_requests INTEGER NOT NULL DEFAULT 0,
    requests_without_usage INTEGER NOT NULL DEFAULT 0,
    prompt_tokens INTEGER NOT NULL DEFAULT 0, completion_tokens INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (zone, model)
);
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
        """Remove zone ``name``, its counters and its model usage; False when it was not there."""
        with self._db:
            self._db.execute("BEGIN")
            cursor = self._db.execute("DELETE FROM zones WHERE name = ?", (name,))
            self._db.execute("DELETE FROM restarts WHERE zone = ?", (name,))
            self._db.execute("DELETE FROM usage WHERE zone = ?", (name,))
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

    # --- model usage -----------------------------------------------------------------------------
    def add_usage(self, deltas: dict[tuple[str, str], dict[str, int]]) -> None:
        """Add ``{(zone, model): {field: n}}`` (fields of :data:`USAGE_FIELDS`) in one transaction."""
        if not deltas:
            return
        sets = ", ".join(f"{f} = {f} + excluded.{f}" for f in USAGE_FIELDS)
        sql = (f"INSERT INTO usage (zone, model, {', '.join(USAGE_FIELDS)}) VALUES (?, ?{', ?' * len(USAGE_FIELDS)}) "
               f"ON CONFLICT (zone, model) DO UPDATE SET {sets}")
        with self._db:
            self._db.execute("BEGIN")
            self._db.executemany(sql, [(zone, model, *(int(d.get(f, 0)) for f in USAGE_FIELDS))
                                       for (zone, model), d in deltas.items()])

    def usage(self, zone: str | None = None) -> dict[str, dict[str, dict[str, int]]]:
        """``{zone: {model: {field: n}}}`` for every zone, or only ``zone``."""
        query = f"SELECT zone, model, {', '.join(USAGE_FIELDS)} FROM usage"
        rows = self._db.execute(query + (" WHERE zone = ?" if zone else "") + " ORDER BY zone, model",
                                (zone,) if zone else ())
        out: dict[str, dict[str, dict[str, int]]] = {}
        for z, model, *values in rows:
            out.setdefault(z, {})[model] = dict(zip(USAGE_FIELDS, values, strict=True))
        return out
