"""Which store a node's agents keep their conversations in, read from the environment.

In order (the first that applies wins):

| setting | store |
|---|---|
| ``AUTONOMY_USE_IN_MEMORY_DATABASE`` true (upstream's name) | none: memory only, lost at exit |
| ``AUTONOMY_DATABASE_URL=postgresql://user:pw@host:5432/db`` | PostgreSQL (extra ``postgres``) |
| ``AUTONOMY_DATABASE_URL=sqlite:///path/file.sqlite3`` | SQLite at that path |
| ``OCKAM_DATABASE_INSTANCE=host:port[/db]`` + ``OCKAM_DATABASE_USER`` / ``_PASSWORD`` (upstream's) | PostgreSQL |
| ``AUTONOMY_DATA_DIR=dir`` (set by the local cluster for each pod instance) | SQLite ``dir/conversations.sqlite3`` |
| nothing (a standalone ``python main.py``) | none: memory only, as upstream's default |

``AUTONOMY_MEMORY_CACHED_CONVERSATIONS`` (default 10000) bounds how many conversations an agent keeps
in RAM when it has a store; the least recently used idle ones leave and are reloaded at their next
message. Without a store nothing is evicted (it would be lost).
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Any
from urllib.parse import quote, urlsplit

from autonomy.errors import ConfigError
from autonomy.memory.store import BatchingStore

__all__ = ["DEFAULT_CACHED_CONVERSATIONS", "cached_conversations", "open_store", "store_for"]

DEFAULT_CACHED_CONVERSATIONS = 10000
_RESOURCE = "autonomy.memory.store"


def _true(value: str | None) -> bool:
    return (value or "").strip().lower() in ("1", "true", "yes", "on")


def cached_conversations(env: Mapping[str, str] = os.environ) -> int:
    raw = env.get("AUTONOMY_MEMORY_CACHED_CONVERSATIONS", "").strip()
    if not raw:
        return DEFAULT_CACHED_CONVERSATIONS
    try:
        value = int(raw)
    except ValueError:
        value = 0
    if value < 1:
        raise ConfigError(f"AUTONOMY_MEMORY_CACHED_CONVERSATIONS must be a positive integer, not {raw!r}")
    return value


def _postgres(dsn: str, tenant: str) -> BatchingStore:
    from autonomy.memory.postgres_store import PostgresStore

    parts = urlsplit(dsn)
    where = f"{parts.hostname or 'localhost'}:{parts.port or 5432}{parts.path or ''}"
    return PostgresStore(dsn, tenant, where)


def open_store(tenant: str, env: Mapping[str, str] = os.environ) -> BatchingStore | None:
    """The store named by ``env`` for the node ``tenant`` (not connected yet), or None (memory only).
    Raises ConfigError naming the variable when a setting is malformed."""
    if _true(env.get("AUTONOMY_USE_IN_MEMORY_DATABASE")):
        return None
    url = env.get("AUTONOMY_DATABASE_URL", "").strip()
    if url:
        scheme = url.split(":", 1)[0].lower()
        if scheme in ("postgres", "postgresql"):
            return _postgres(url, tenant)
        if scheme == "sqlite" and url.startswith("sqlite:///") and len(url) > len("sqlite:///"):
            from autonomy.memory.sqlite_store import SqliteStore

            return SqliteStore(url[len("sqlite://"):], tenant)
        raise ConfigError("AUTONOMY_DATABASE_URL must be postgresql://user:password@host:port/dbname or "
                          f"sqlite:///absolute/path, not one starting with {scheme!r}")
    instance = env.get("OCKAM_DATABASE_INSTANCE", "").strip()
    if instance:
        user = env.get("OCKAM_DATABASE_USER", "").strip()
        if not user:
            raise ConfigError("OCKAM_DATABASE_INSTANCE is set but OCKAM_DATABASE_USER is not: set both "
                              "(and OCKAM_DATABASE_PASSWORD), or AUTONOMY_DATABASE_URL")
        host, _, database = instance.partition("/")
        database = database or env.get("OCKAM_DATABASE_NAME", "").strip() or user
        password = env.get("OCKAM_DATABASE_PASSWORD", "")
        auth = quote(user, safe="") + (":" + quote(password, safe="") if password else "")
        return _postgres(f"postgresql://{auth}@{host}/{quote(database, safe='')}", tenant)
    data_dir = env.get("AUTONOMY_DATA_DIR", "").strip()
    if data_dir:
        from autonomy.memory.sqlite_store import SqliteStore

        return SqliteStore(os.path.join(data_dir, "conversations.sqlite3"), tenant)
    return None


def store_for(node: Any, *, long_term: bool = False) -> BatchingStore | None:
    """The conversation store of ``node``, shared by its agents: made from the environment at the first
    call and owned by the node (``node.resources``: flushed and closed when the node stops).

    ``long_term`` (an agent with upstream's ``enable_long_term_memory``): where the environment names
    no store, a SQLite file at :func:`default_long_term_path` rather than memory only."""
    resources = getattr(node, "resources", None)
    if resources is None:  # not a Node (a test double): memory only
        return None
    if _RESOURCE not in resources:
        resources[_RESOURCE] = open_store(getattr(node, "name", "node"))
    if resources[_RESOURCE] is None and long_term:
        resources[_RESOURCE] = long_term_store(getattr(node, "name", "node"))
    return resources[_RESOURCE]


def default_long_term_path(env: Mapping[str, str] = os.environ) -> str:
    """Where ``enable_long_term_memory`` keeps conversations when the node has no store configured:
    ``$AUTONOMY_MEMORY_DB``, else ``memory.sqlite3`` in ``$AUTONOMY_DATA_DIR`` or ``~/.local/share/autonomy``."""
    explicit = env.get("AUTONOMY_MEMORY_DB", "").strip()
    if explicit:
        return explicit
    base = env.get("AUTONOMY_DATA_DIR", "").strip() or os.path.join(os.path.expanduser("~"), ".local", "share",
                                                                       "autonomy")
    return os.path.join(base, "memory.sqlite3")


def long_term_store(tenant: str, path: str | None = None) -> BatchingStore:
    """A SQLite store of ``tenant``'s conversations at ``path`` (default: :func:`default_long_term_path`)."""
    from autonomy.memory.sqlite_store import SqliteStore

    return SqliteStore(path or default_long_term_path(), tenant)
