"""One small HTTP GET over a Unix socket, for health probes of the cluster's daemons.

Decision: a raw socket (HTTP/1.0, the connection closed by the server) rather than httpx, whose Unix
transport leaks its socket when the peer refuses or drops the connection (a daemon starting or dying is
exactly when probes run, and tests run with warnings as errors).
"""

from __future__ import annotations

import json
import socket
from pathlib import Path
from typing import Any

__all__ = ["get_json"]


def get_json(path: Path, url_path: str, timeout: float = 5.0) -> tuple[int, Any] | None:
    """``(status, JSON body or None)`` of ``GET url_path`` on the Unix socket ``path``; None when nothing
    answers there (no socket, refused, closed, timed out)."""
    try:
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
            sock.settimeout(timeout)
            sock.connect(str(path))
            sock.sendall(f"GET {url_path} HTTP/1.0\r\nHost: localhost\r\n\r\n".encode())
            chunks = []
            while chunk := sock.recv(65536):
                chunks.append(chunk)
    except OSError:
        return None
    head, _, body = b"".join(chunks).partition(b"\r\n\r\n")
    try:
        status = int(head.split(b" ", 2)[1])
    except (IndexError, ValueError):
        return None
    try:
        return status, json.loads(body) if body else None
    except ValueError:
        return status, None
