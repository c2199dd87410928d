"""Zone directories for the cluster tests: small stdlib HTTP servers standing in for nodes."""

from __future__ import annotations

import textwrap
from pathlib import Path

DOCKERFILE = 'FROM ghcr.io/build-trust/autonomy-python\nCOPY . .\nENTRYPOINT ["python", "main.py"]\n'

# A "node": answers on DEFAULT_PORT_HTTP with its platform env; /peer?port=N fetches localhost:N (pods
# share localhost); /stream sends one chunk, then waits for /release before the last one.
WEB = textwrap.dedent('''
    import json, os, threading, urllib.request
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

    released = threading.Event()

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, *args):
            print("request", self.path, flush=True)

        def send(self, body, code=200):
            data = json.dumps(body).encode()
            self.send_response(code)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def do_GET(self):
            if self.path.startswith("/peer"):
                query = dict(p.split("=", 1) for p in self.path.split("?", 1)[1].split("&"))
                url = f"http://127.0.0.1:{query['port']}{query.get('path', '/')}"
                with urllib.request.urlopen(url, timeout=5) as r:
                    return self.send({"peer": r.read().decode()})
            if self.path == "/release":
                released.set()
                return self.send({"released": True})
            if self.path == "/stream":
                self.send_response(200)
                self.send_header("Transfer-Encoding", "chunked")
                self.end_headers()
                for part in (b"first\\n", None, b"last\\n"):
                    if part is None:
                        released.wait(30)
                        continue
                    self.wfile.write(b"%x\\r\\n%s\\r\\n" % (len(part), part))
                    self.wfile.flush()
                self.wfile.write(b"0\\r\\n\\r\\n")
                return
            keys = ["CLUSTER", "ZONE", "NODE", "AUTONOMY_FABRIC_URL", "AUTONOMY_FABRIC_CREDENTIALS",
                    "DEFAULT_PORT_HTTP", "GREETING", "API_KEY", "AUTONOMY_DATA_DIR"]
            self.send({"env": {k: os.environ.get(k) for k in keys}, "pid": os.getpid(),
                       "headers": dict(self.headers)})

        def do_POST(self):
            length = int(self.headers.get("Content-Length", 0))
            self.send({"received": len(self.rfile.read(length))})

    host = os.environ.get("DEFAULT_HOST_HTTP", "0.0.0.0")
    port = int(os.environ.get("DEFAULT_PORT_HTTP", "8000"))
    print("web listening on", port, flush=True)
    ThreadingHTTPServer((host, port), Handler).serve_forever()
''')

SIDE = textwrap.dedent('''
    import os
    from http.server import BaseHTTPRequestHandler, HTTPServer

    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args):
            pass

        def do_GET(self):
            body = b"side of " + os.environ["NODE"].encode()
            self.send_response(200)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

    HTTPServer(("127.0.0.1", int(os.environ.get("SIDE_PORT", "7000"))), Handler).serve_forever()
''')


def write_zone(directory: Path, yaml_text: str, images: dict[str, str] | None = None,
               secrets: str | None = None) -> Path:
    """Write ``autonomy.yaml`` and ``images/NAME/{Dockerfile,main.py}`` under ``directory``."""
    directory.mkdir(parents=True, exist_ok=True)
    (directory / "autonomy.yaml").write_text(textwrap.dedent(yaml_text))
    for name, source in (images or {"web": WEB, "side": SIDE}).items():
        image = directory / "images" / name
        image.mkdir(parents=True, exist_ok=True)
        (image / "Dockerfile").write_text(DOCKERFILE)
        (image / "main.py").write_text(source)
    if secrets is not None:
        (directory / "secrets.yaml").write_text(secrets)
    return directory
