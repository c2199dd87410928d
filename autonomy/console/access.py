"""Who may use the console: this machine (loopback), or whoever holds the cluster's console token.

The console is served on a Unix socket in ``AUTONOMY_HOME`` (mode 0600) and reached through the public
gateway, which listens on 127.0.0.1 and passes the client's address as ``X-Forwarded-For``. Rules:

- a client on loopback (``127.0.0.0/8``, ``::1``) may read and act: the console has the same reach as the
  CLI of the user who runs the cluster on this machine;
- any other client needs the token (``AUTONOMY_HOME/console.token``, 0600) as ``Authorization: Bearer``
  or in the ``autonomy_console`` cookie; without it: 403 saying so (the gateway binds loopback only,
  so this matters only when it is exposed some other way, e.g. an SSH tunnel or a proxy in front);
- a request that changes something (POST) must carry ``X-Autonomy-Console: 1`` or htmx's ``HX-Request``
  header, and an ``Origin``, when sent, must be the console's own host: a page of another origin (a zone's
  app on ``{cluster}-{zone}.localhost``, any web site) can make a browser send a form, never those headers.
"""

from __future__ import annotations

import hmac
import ipaddress
import os
import secrets
from pathlib import Path
from urllib.parse import urlsplit

from starlette.requests import Request

__all__ = ["load_or_create_token", "refusal", "TOKEN_COOKIE"]

TOKEN_COOKIE = "autonomy_console"


def load_or_create_token(path: Path) -> str:
    """The token in ``path``, created (0600) when absent."""
    try:
        token = path.read_text().strip()
        if token:
            path.chmod(0o600)
            return token
    except FileNotFoundError:
        pass
    token = secrets.token_urlsafe(32)
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    with open(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600), "w") as out:
        out.write(token + "\n")
    return token


def _is_loopback(address: str) -> bool:
    try:
        return ipaddress.ip_address(address.strip().strip("[]")).is_loopback
    except ValueError:
        return False


def _client(request: Request) -> str | None:
    """The client's address: the gateway's ``X-Forwarded-For`` (None when not proxied: a direct
    connection to the 0600 Unix socket comes from the cluster's own user)."""
    forwarded = request.headers.get("x-forwarded-for")
    if forwarded is not None:
        return forwarded.split(",")[-1].strip()
    if request.client is not None and request.client.host:
        return request.client.host
    return None


def _has_token(request: Request, token: str) -> bool:
    offered = request.cookies.get(TOKEN_COOKIE, "")
    auth = request.headers.get("authorization", "")
    if auth.lower().startswith("bearer "):
        offered = auth[7:].strip()
    return bool(offered) and hmac.compare_digest(offered.encode(), token.encode())


def refusal(request: Request, token: str) -> tuple[int, str] | None:
    """``(status, why)`` when ``request`` may not be served; None when it may."""
    client = _client(request)
    if client is not None and not _is_loopback(client) and not _has_token(request, token):
        return 403, ("The console answers this machine only (loopback), or a client with the cluster's console "
                     "token (AUTONOMY_HOME/console.token) as 'Authorization: Bearer TOKEN'.")
    if request.method not in ("GET", "HEAD"):
        if request.headers.get("x-autonomy-console") != "1" and request.headers.get("hx-request") != "true":
            return 403, "A console action needs the header 'X-Autonomy-Console: 1' (sent by the console's page)."
        origin = request.headers.get("origin")
        if origin and origin != "null" and urlsplit(origin).netloc.lower() != request.headers.get("host", "").lower():
            return 403, f"A console action from another origin ({origin}) is refused."
    return None
