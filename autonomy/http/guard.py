"""What a node's HTTP server refuses before any route runs: bodies over the limit, and admin routes
asked for through the zone's public URL.

- **Body limit.** A body over ``AUTONOMY_MAX_BODY_BYTES`` (default 1 MiB) gets ``413`` (by its
  ``Content-Length`` before it is read, or once a streamed body crosses the limit).
- **Admin routes** read every user's conversations or change the node's settings:
  ``GET /workers``, ``GET|POST /logs/levels``, ``GET /agents/{name}/conversations`` and
  ``/agents/{name}/scopes/...``. A request that came through the public gateway (it carries the
  ``X-Forwarded-For`` the gateway adds, which a client cannot remove) gets ``403`` for them unless
  the zone sets ``API_KEY`` and the request gives it (``?api_key=`` or ``Authorization: Bearer``).
  Requests from inside the zone (other pods, the node's own containers) are not affected, nor are
  the app's own routes.
"""

from __future__ import annotations

import hmac
import json
import os
import re
from typing import Any
from urllib.parse import parse_qs

from autonomy.errors import ConfigError

__all__ = ["InputGuard", "is_admin_route", "max_body_bytes"]

DEFAULT_MAX_BODY = 1024 * 1024
_ADMIN = re.compile(r"/workers/?|/logs/levels/?|/agents/[^/]+/(conversations|scopes/.*)")


def max_body_bytes() -> int:
    raw = os.environ.get("AUTONOMY_MAX_BODY_BYTES", "").strip()
    if not raw:
        return DEFAULT_MAX_BODY
    try:
        value = int(raw)
    except ValueError:
        value = 0
    if value < 1:
        raise ConfigError(f"AUTONOMY_MAX_BODY_BYTES must be a positive number of bytes, not {raw!r}")
    return value


def is_admin_route(path: str) -> bool:
    return _ADMIN.fullmatch(path) is not None


class _TooLarge(Exception):  # control flow inside InputGuard: never an error of the tree (handlers must not catch it)
    pass


DRAIN_BUDGET = 64 * 1024 * 1024


async def _drain(receive: Any, budget: int = DRAIN_BUDGET) -> None:
    """Read and drop the rest of a refused body (up to ``budget`` bytes, never kept), so a client still
    sending it reads the 413 instead of a reset connection."""
    while budget > 0:
        message = await receive()
        if message["type"] != "http.request":
            return
        budget -= len(message.get("body", b""))
        if not message.get("more_body", False):
            return


async def _answer(send: Any, status: int, detail: str) -> None:
    body = json.dumps({"detail": detail}).encode()
    await send({"type": "http.response.start", "status": status,
                "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode()),
                            (b"connection", b"close")]})
    await send({"type": "http.response.body", "body": body})


def _given_key(scope: dict[str, Any], headers: dict[bytes, bytes]) -> str | None:
    auth = headers.get(b"authorization", b"").decode("latin-1")
    if auth.lower().startswith("bearer "):
        return auth[7:].strip()
    keys = parse_qs(scope.get("query_string", b"").decode("latin-1")).get("api_key")
    return keys[0] if keys else None


class InputGuard:
    """ASGI middleware applying the module's rules; limits are read once, when the app is built."""

    def __init__(self, app: Any) -> None:
        self.app = app
        self.max_body = max_body_bytes()

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = dict(scope.get("headers") or [])
        if b"x-forwarded-for" in headers and is_admin_route(scope.get("path", "")):
            expected = os.environ.get("API_KEY")
            given = _given_key(scope, headers)
            if not expected or given is None or not hmac.compare_digest(given.encode(), expected.encode()):
                await _answer(send, 403, "This admin route is closed on the zone's public URL: set API_KEY in the "
                                         "zone and pass it (?api_key= or Authorization: Bearer), or call it from "
                                         "inside the zone")
                return
        length = headers.get(b"content-length")
        limit = self.max_body
        too_large = (f"The request body is larger than {limit} bytes: send less, or raise AUTONOMY_MAX_BODY_BYTES "
                     "on the node")
        if length is not None and length.isdigit() and int(length) > limit:
            await _drain(receive)
            await _answer(send, 413, too_large)
            return
        received = 0
        started = False

        async def counted_receive() -> Any:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > limit:
                    raise _TooLarge
            return message

        async def watched_send(message: Any) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, counted_receive, watched_send)
        except _TooLarge:
            if not started:
                await _drain(receive)
                await _answer(send, 413, too_large)
