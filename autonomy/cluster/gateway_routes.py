"""Where the public gateway sends one request: a zone, the console, or nowhere (with the reason).

The gateway (:mod:`.public_gateway`) reads a connection's first request head and asks :func:`route_request`.
Three forms, all on the gateway's one loopback port:

- ``Host: {cluster}-{zone}.localhost[:port]``: the zone (its main pod's port 8000). The head is passed as it
  is: the connection then belongs to the zone (browsers keep one connection per origin).
- ``Host: 127.0.0.1 | localhost | [::1] | {cluster}.localhost`` (any port), path ``/z/{zone}/...``: the
  zone, with ``/z/{zone}`` cut from the path and given as ``X-Forwarded-Prefix``. This is the form that
  works from Python (httpx, urllib) and wget, which do not resolve ``*.localhost`` names.
- the same hosts, any other path: the cluster console (:mod:`autonomy.console`).

Requests of the last two forms get ``Connection: close`` on their way up: one loopback port serves the
console and every zone there, so a kept-alive connection would carry the next request to the wrong place.
A WebSocket upgrade keeps its ``Connection`` header (the connection is the tunnel then).

Any other ``Host`` gets a 404 naming the forms above: a name that merely resolves to 127.0.0.1 (DNS
rebinding) reaches neither a zone nor the console.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

__all__ = ["Route", "route_request", "host_name", "CONSOLE_HOSTS"]

CONSOLE_HOSTS = ("127.0.0.1", "localhost", "[::1]")
_PATH_ROUTE = re.compile(r"^/z/([a-z0-9]{1,10})(/.*|\?.*)?$", re.DOTALL)


@dataclass(frozen=True)
class Route:
    """``kind``: ``"zone"``, ``"console"`` or ``"none"``; ``head``: the request head to send upstream."""

    kind: str
    head: bytes
    zone: str | None = None
    host: str = ""         # the Host header as the client sent it (stripped)
    prefix: str = ""       # ``/z/{zone}`` for the path form
    root: bool = False     # a GET or HEAD of the zone's ``/`` (a 404 from the app then becomes the console)
    reason: str = ""       # why nothing serves it (kind "none")


def host_name(host_header: str) -> str:
    """``Host`` value without its port, lower case (``[::1]`` keeps its brackets)."""
    host = host_header.strip().lower()
    if host.startswith("["):
        return host.split("]", 1)[0] + "]"
    return host.rsplit(":", 1)[0] if ":" in host else host


def route_request(head: bytes, cluster_id: str, port: int) -> Route:
    """Route the request whose head (request line and headers, ending ``\\r\\n\\r\\n``) is ``head``."""
    lines = head.split(b"\r\n")
    host = next((line.split(b":", 1)[1].decode("latin-1").strip() for line in lines[1:]
                 if line[:5].lower() == b"host:"), "")
    name = host_name(host)
    request_line = lines[0].decode("latin-1").split(" ")
    method, target = (request_line + ["", ""])[:2]
    zone_prefix, suffix = f"{cluster_id}-", ".localhost"
    if name.startswith(zone_prefix) and name.endswith(suffix) and len(name) > len(zone_prefix) + len(suffix):
        zone = name[len(zone_prefix):-len(suffix)]
        return Route("zone", head, zone, host, root=_is_root(method, target))
    if name not in (*CONSOLE_HOSTS, f"{cluster_id}.localhost"):
        shown = host if host else "(no Host header)"
        return Route("none", head, host=host, reason=(
            f"No zone is served at host {shown!r}. Zones of this cluster: http://{cluster_id}-ZONE.localhost:{port}/ "
            f"or http://127.0.0.1:{port}/z/ZONE/ ; the console: http://127.0.0.1:{port}/"))
    match = _PATH_ROUTE.match(target)
    if match is None:  # the console trusts the gateway's X-Forwarded-For: a client's own is dropped
        return Route("console", _close_after(head, drop=(b"x-forwarded-",)), host=host)
    zone, rest = match.group(1), match.group(2) or "/"
    if rest.startswith("?"):
        rest = "/" + rest
    prefix = f"/z/{zone}"
    first = f"{method} {rest} {' '.join(request_line[2:])}".encode("latin-1")
    rewritten = b"\r\n".join([first, *lines[1:]])
    rewritten = _add_header(rewritten, f"X-Forwarded-Prefix: {prefix}")
    return Route("zone", _close_after(rewritten), zone, host, prefix, root=_is_root(method, rest))


def _is_root(method: str, target: str) -> bool:
    return method in ("GET", "HEAD") and target.split("?", 1)[0] == "/"


def _close_after(head: bytes, drop: tuple[bytes, ...] = ()) -> bytes:
    """``head`` asking the server to close after this response (unless it is an Upgrade request),
    without the headers whose lower-case names start with one of ``drop``."""
    lines = [line for line in head[:-4].split(b"\r\n") if not line.lower().startswith(drop or (b"\0",))]
    if any(line[:8].lower() == b"upgrade:" for line in lines[1:]):
        return b"\r\n".join(lines) + b"\r\n\r\n"
    kept = [lines[0], *(line for line in lines[1:] if line[:11].lower() not in (b"connection:", b"keep-alive:"))]
    return b"\r\n".join([*kept, b"Connection: close"]) + b"\r\n\r\n"


def _add_header(head: bytes, header: str) -> bytes:
    return head[:-2] + header.encode("latin-1") + b"\r\n\r\n"
