"""``McpServer(listen_address)``: a node's agents, started with ``exposed_as``, offered as MCP tools.

Each such agent is a tool named after the agent, described by its ``exposed_as`` text, taking
``{"prompt": string}``. A call sends the agent a ``conversation_snippet`` with the prompt as the user's
message (scope and conversation empty, so each call goes to the agent's default conversation worker)
and returns the text of the agent's reply; an agent error or timeout comes back as an ``isError``
result. The list is read from ``node.list_tools()`` on every request, so agents started later appear.

Transports, both on one port: SSE (``GET /sse`` + ``POST /message``, upstream's paths) and
streamable HTTP (``/mcp``). ``start(node)`` returns once listening; ``url`` is then the base URL.
"""

from __future__ import annotations

import contextlib
import json
import logging
from collections.abc import AsyncIterator
from typing import Any

import mcp.types as types
from mcp.server.lowlevel import Server
from mcp.server.sse import SseServerTransport
from mcp.server.streamable_http_manager import StreamableHTTPSessionManager
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from autonomy.nodes.address import parse_socket_address
from autonomy.serving import ServedApp, bind_tcp

__all__ = ["McpServer"]

log = logging.getLogger("autonomy.mcp")


class _Asgi:
    """Marks an ASGI callable so Starlette's Route passes it the raw scope (not a Request)."""

    def __init__(self, app: Any) -> None:
        self.app = app

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        await self.app(scope, receive, send)


def reply_text(reply: str) -> str:
    """The text of an agent's reply: its assistant messages' text, or the reply itself if not JSON.

    Raises RuntimeError with the agent's message for an ``error`` reply.
    """
    try:
        data = json.loads(reply)
    except (json.JSONDecodeError, TypeError):
        return reply
    if not isinstance(data, dict):
        return reply
    if data.get("type") == "error":
        raise RuntimeError(str(data.get("message") or data.get("error") or reply))
    messages = data.get("messages")
    if not isinstance(messages, list):
        return reply
    texts = []
    for message in messages:
        if isinstance(message, dict) and message.get("role") == "assistant":
            content = message.get("content")
            texts.append(str(content.get("text", "")) if isinstance(content, dict) else str(content or ""))
    return "\n".join(t for t in texts if t) if texts else reply


class McpServer:
    """Serve the node's exposed agents over MCP on ``listen_address`` (``"host:port"``; port 0 = any).

    ``timeout``: seconds to wait for an agent's reply (None: no limit).
    """

    def __init__(self, listen_address: str = "127.0.0.1:8001", timeout: float | None = 600.0) -> None:
        self.listen_address = listen_address
        self.timeout = timeout
        self.address: tuple[str, int] | None = None
        self._served: ServedApp | None = None

    @property
    def url(self) -> str:
        """``http://host:port`` once started."""
        if self.address is None:
            raise RuntimeError("McpServer is not started: call await server.start(node) first")
        host, port = self.address
        return f"http://{'127.0.0.1' if host in ('0.0.0.0', '') else host}:{port}"

    def _mcp(self, node: Any) -> Server:
        server: Server = Server("autonomy")

        @server.list_tools()
        async def list_tools() -> list[types.Tool]:
            return [types.Tool(name=t["name"], description=t.get("description") or "",
                               inputSchema=t["input_schema"]) for t in await node.list_tools()]

        @server.call_tool()
        async def call_tool(name: str, arguments: dict[str, Any]) -> list[types.TextContent]:
            if name not in {t["name"] for t in await node.list_tools()}:
                raise ValueError(f"No agent exposed as tool {name!r} on node {node.name!r}")
            prompt = arguments.get("prompt")
            if not isinstance(prompt, str):
                raise ValueError(f"Tool {name!r} takes {{'prompt': string}}, got {arguments!r}")
            message = json.dumps({"type": "conversation_snippet", "scope": "", "conversation": "",
                                  "messages": [{"role": "user", "content": prompt}]})
            reply = await node.send_and_receive(name, message, timeout=self.timeout)
            return [types.TextContent(type="text", text=reply_text(reply))]

        return server

    def _app(self, node: Any) -> Starlette:
        server = self._mcp(node)
        sse = SseServerTransport("/message")
        sessions = StreamableHTTPSessionManager(app=server)

        async def handle_sse(request: Request) -> Response:
            async with sse.connect_sse(request.scope, request.receive, request._send) as (read, write):
                await server.run(read, write, server.create_initialization_options())
            return Response()

        @contextlib.asynccontextmanager
        async def lifespan(_app: Starlette) -> AsyncIterator[None]:
            async with sessions.run():
                yield

        return Starlette(routes=[
            Route("/sse", handle_sse, methods=["GET"]),
            Route("/message", _Asgi(sse.handle_post_message), methods=["POST"]),
            Route("/mcp", _Asgi(sessions.handle_request), methods=["GET", "POST", "DELETE"]),
        ], lifespan=lifespan)

    async def start(self, node: Any) -> None:
        """Bind, serve in the background, and return once listening."""
        host, port = parse_socket_address(self.listen_address, default_host="127.0.0.1")
        sock = bind_tcp(host, port, "MCP", "pass McpServer(listen_address=...) with a free port", backlog=128)
        self._served = await ServedApp.start(self._app(node), sock, ws="none", graceful_seconds=1)
        self.address = self._served.address
        log.info("node %s serves MCP on %s/sse and %s/mcp", node.name, self.url, self.url)

    async def stop(self) -> None:
        """Stop serving; returns when the server has closed (open sessions are cut after 1 s)."""
        served, self._served = self._served, None
        if served is not None:
            await served.stop()
