"""Real MCP servers for tests, on 127.0.0.1 random ports.

* :class:`TimeServer`: ``mcp-server-time`` (stdio) behind ``mcp-proxy``, a subprocess; serves
  ``/sse``, ``/mcp`` and ``/status``. ``start()`` returns once ``GET /status`` answers. ``stop()`` and
  ``start()`` again reuse the port, to test reconnection after a restart.
* :class:`SdkServer`: a server built with the SDK's ``FastMCP`` (tools ``add``, ``shout``, ``wait``, ``fail``),
  run by uvicorn in a thread; serves ``/sse`` and ``/mcp``.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import httpx
import uvicorn
from mcp.server.fastmcp import FastMCP
from starlette.applications import Starlette
from starlette.routing import Mount

__all__ = ["TimeServer", "SdkServer", "free_port"]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _bin(name: str) -> str:
    candidate = Path(sys.executable).parent / name
    return str(candidate) if candidate.exists() else (shutil.which(name) or name)


class TimeServer:
    """``mcp-proxy -- mcp-server-time --local-timezone UTC`` as a subprocess."""

    def __init__(self) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.process: subprocess.Popen[bytes] | None = None
        self._log: Any = None

    def start(self, timeout: float = 30.0) -> TimeServer:
        # stderr goes to a file: mcp-proxy logs every request, and an unread pipe would fill and stall it.
        self._log = tempfile.TemporaryFile()
        self.process = subprocess.Popen(
            [_bin("mcp-proxy"), "--host", "127.0.0.1", "--port", str(self.port), "--pass-environment", "--",
             _bin("mcp-server-time"), "--local-timezone", "UTC"],
            stdout=subprocess.DEVNULL, stderr=self._log, env={**os.environ, "PYTHONWARNINGS": "ignore"},
        )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                self._log.seek(0)
                err = self._log.read().decode(errors="replace")
                raise RuntimeError(f"mcp-proxy exited with {self.process.returncode}: {err[-2000:]}")
            try:
                if httpx.get(self.url + "/status", timeout=1).status_code == 200:
                    return self
            except httpx.HTTPError:
                pass
            time.sleep(0.05)
        self.stop()
        raise RuntimeError(f"mcp-proxy did not answer {self.url}/status within {timeout:g} s")

    def stop(self) -> None:
        if self.process is not None:
            self.process.terminate()
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(10)
            self._log.close()
            self.process = None

    def __enter__(self) -> TimeServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


def _fastmcp() -> FastMCP:
    server = FastMCP("sdk-test-server")

    @server.tool()
    def add(a: int, b: int) -> int:
        """Add two integers."""
        return a + b

    @server.tool()
    async def shout(text: str) -> str:
        """Upper-case the text."""
        return text.upper()

    @server.tool()
    async def wait(seconds: float) -> str:
        """Answer after some seconds."""
        await asyncio.sleep(seconds)
        return "waited"

    @server.tool()
    def fail(reason: str) -> str:
        """Always fails."""
        raise RuntimeError(reason)

    return server


class SdkServer:
    """A FastMCP server in a thread, with SSE at ``/sse`` and streamable HTTP at ``/mcp``."""

    def __init__(self) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self._server: uvicorn.Server | None = None
        self._thread: threading.Thread | None = None

    def start(self) -> SdkServer:
        mcp = _fastmcp()
        mcp.settings.streamable_http_path = "/mcp"
        http_app = mcp.streamable_http_app()
        sse_app = mcp.sse_app()
        app = Starlette(routes=[Mount("/", routes=[*sse_app.routes, *http_app.routes])],
                        lifespan=lambda _app: mcp.session_manager.run())
        config = uvicorn.Config(app, host="127.0.0.1", port=self.port, log_level="warning", ws="none",
                                http="h11", lifespan="on", timeout_graceful_shutdown=1)
        self._server = uvicorn.Server(config)
        self._thread = threading.Thread(target=self._server.run, name="mcp-sdk-server", daemon=True)
        self._thread.start()
        deadline = time.monotonic() + 15
        while not self._server.started:
            if not self._thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError("the SDK MCP server did not start")
            time.sleep(0.01)
        return self

    def stop(self) -> None:
        if self._server is not None and self._thread is not None:
            self._server.should_exit = True
            self._thread.join(10)
            self._server = None

    def __enter__(self) -> SdkServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
