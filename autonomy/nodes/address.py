"""Names and addresses of workers, agents, mailboxes and nodes."""

from __future__ import annotations

import itertools
import os
import re
import secrets

from autonomy.errors import InvalidName

__all__ = ["validate_address", "random_name", "random_tagged", "parse_socket_address"]

_NAME = re.compile(r"[a-zA-Z0-9_-]+")
_counter = itertools.count()
_prefix = secrets.token_hex(4)


def validate_address(name: object, kind: str = "worker") -> str:
    """Return ``name`` if it is a valid address (``[a-zA-Z0-9_-]+``), else raise :class:`InvalidName`."""
    if not isinstance(name, str) or not _NAME.fullmatch(name):
        raise InvalidName(kind, name)
    return name


def random_name() -> str:
    """A random name of 24 hex characters (upstream's default node and agent names)."""
    return secrets.token_hex(12)


def random_tagged(tag: str) -> str:
    """A unique address starting with ``tag``, cheap enough for the hot path (a counter, not entropy)."""
    return f"{tag}_{_prefix}{os.getpid():x}_{next(_counter):x}"


def parse_socket_address(address: str | int, default_host: str = "127.0.0.1") -> tuple[str, int]:
    """Parse ``"host:port"``, ``":port"``, ``"port"``, an int, or ``"[v6]:port"`` into ``(host, port)``."""
    if isinstance(address, int):
        return default_host, address
    text = address.strip()
    if text.startswith("["):
        host, _, port = text[1:].partition("]:")
        return host, int(port)
    if ":" not in text:
        return default_host, int(text)
    host, _, port = text.rpartition(":")
    try:
        return (host or default_host), int(port)
    except ValueError:
        raise ValueError(f"Invalid socket address {address!r}: expected 'host:port'") from None
