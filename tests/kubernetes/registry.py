"""A minimal Docker Registry v2 on 127.0.0.1 that answers manifest HEADs (for ``--no-build``)."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from autonomy.cluster.kubernetes.registry import MANIFEST_TYPES


@contextmanager
def fake_registry(manifests: dict[tuple[str, str], str], token: str | None = None) -> Iterator[tuple[str, list[str]]]:
    """Serve ``{(name, tag): digest}``; yields ``(host:port, accepts)`` (the Accept header of each HEAD).
    With ``token``: manifests need ``Authorization: Bearer <token>``, handed out anonymously at ``/token``
    (the Docker Hub flow)."""
    accepts: list[str] = []

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802
            body = json.dumps({"token": token}).encode()
            self.send_response(200 if self.path.startswith("/token?") and "service=fake" in self.path else 404)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def do_HEAD(self) -> None:  # noqa: N802 (http.server's naming)
            accepts.append(self.headers.get("Accept", ""))
            if token and self.headers.get("Authorization") != f"Bearer {token}":
                host = self.headers.get("Host")
                self.send_response(401)
                self.send_header("WWW-Authenticate", f'Bearer realm="http://{host}/token",service="fake",'
                                                     f'scope="repository:x:pull"')
                self.send_header("Content-Length", "0")
                self.end_headers()
                return
            parts = self.path.split("/manifests/")
            digest = manifests.get((parts[0].removeprefix("/v2/"), parts[-1])) if len(parts) == 2 else None
            self.send_response(200 if digest else 404)
            if digest:
                self.send_header("Docker-Content-Digest", digest)
                self.send_header("Content-Type", MANIFEST_TYPES.split(", ")[0])
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"127.0.0.1:{server.server_address[1]}", accepts
    finally:
        server.shutdown()
        server.server_close()
        thread.join(10)
