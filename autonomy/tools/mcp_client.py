"""``McpClient(name, address)``: a node's connection to one MCP server, over the official ``mcp`` SDK.

Transport by URL path: a path ending in ``/mcp`` uses streamable HTTP; anything else (normally
``.../sse``) uses SSE, as upstream's addresses do.

The session lives in a background task the client owns (the SDK's transports are context managers
whose task groups must be entered and left by one task); requests from any task of the same loop
use it. ``connect()`` (called by ``Node.create(mcp_clients=[...])``) retries with backoff for up to
``connect_timeout`` seconds (the server may still be starting), then raises :class:`McpError` naming
the URL. If the connection breaks (server restarted), the next request reconnects; a request that
was in flight when it broke fails with McpError (it is not repeated: a tool call may not be safe to
run twice). Requests that fail because the session was already gone are retried once, after
reconnecting. The tool list is fetched again for every spec/list request, as upstream does.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections.abc import Awaitable, Callable
from contextlib import AsyncExitStack
from datetime import timedelta
from typing import Any, TypeVar
from urllib.parse import urlparse

from mcp import ClientSession
from mcp.client.sse import sse_client
from mcp.client.streamable_http import streamable_http_client
from mcp.shared._httpx_utils import create_mcp_http_client

import autonomy.tracing as tracing
from autonomy.errors import McpError

__all__ = ["McpClient"]

T = TypeVar("T")
log = logging.getLogger("autonomy.mcp")


class McpClient:
    """A client of the MCP server at ``address``, known to the node as ``name``.

    ``connect_timeout``: how long ``connect()`` keeps retrying; ``request_timeout``: the longest wait
    for one answer (seconds). ``headers`` are sent with every HTTP request (e.g. Authorization).
    """

    def __init__(self, name: str, address: str, *, connect_timeout: float = 30.0, request_timeout: float = 120.0,
                 headers: dict[str, str] | None = None) -> None:
        parsed = urlparse(address)
        if parsed.scheme not in ("http", "https") or not parsed.netloc:
            raise McpError(f"McpClient {name!r}: address {address!r} is not an http(s) URL; use e.g. "
                           "'http://localhost:8001/sse' (SSE) or 'http://localhost:8001/mcp' (streamable HTTP)",
                           server=name, url=address)
        self.name = name
        self.address = address
        self.transport = "streamable-http" if parsed.path.rstrip("/").endswith("/mcp") else "sse"
        self.connect_timeout = connect_timeout
        self.request_timeout = request_timeout
        self.headers = dict(headers or {})
        self._session: ClientSession | None = None
        self._runner: asyncio.Task[None] | None = None
        self._closing: asyncio.Event | None = None
        self._lock: asyncio.Lock | None = None
        self._closed = False

    def __repr__(self) -> str:
        return f"McpClient({self.name!r}, {self.address!r})"

    # --- connection --------------------------------------------------------------------------

    async def connect(self) -> None:
        """Open the session, retrying (0.1 s doubling to 2 s) for up to ``connect_timeout`` seconds."""
        self._closed = False
        await self._ensure_session(self.connect_timeout)

    async def close(self) -> None:
        """Close the session and wait for its task to end. Idempotent."""
        self._closed = True
        runner, self._runner, self._session = self._runner, None, None
        if runner is not None and self._closing is not None:
            self._closing.set()
            try:
                await asyncio.wait_for(asyncio.shield(runner), 5)
            except (TimeoutError, Exception):
                runner.cancel()
                with contextlib.suppress(BaseException):
                    await runner

    def _alive(self) -> bool:
        return self._session is not None and self._runner is not None and not self._runner.done()

    async def _ensure_session(self, timeout: float) -> ClientSession:
        if self._closed:
            raise McpError(f"McpClient {self.name!r} ({self.address}) is closed", server=self.name, url=self.address)
        if self._lock is None:
            self._lock = asyncio.Lock()
        async with self._lock:
            if self._alive():
                assert self._session is not None
                return self._session
            await self._drop_runner()
            loop = asyncio.get_running_loop()
            deadline = loop.time() + timeout
            delay = 0.1
            while True:
                try:
                    self._session = await self._open()
                    return self._session
                except Exception as exc:
                    if loop.time() + delay > deadline:
                        raise McpError(
                            f"Cannot connect to MCP server {self.name!r} at {self.address} ({self.transport}) "
                            f"within {timeout:g} s: {_describe(exc)}. Start the server, or fix the address",
                            server=self.name, url=self.address) from exc
                    await asyncio.sleep(delay)
                    delay = min(delay * 2, 2.0)

    async def _drop_runner(self) -> None:
        runner, self._runner, self._session = self._runner, None, None
        if runner is not None:
            runner.cancel()
            with contextlib.suppress(BaseException):
                await runner
            if not runner.cancelled() and runner.exception() is not None:
                log.info("MCP session %s to %s ended: %s", self.name, self.address, _describe(runner.exception()))

    async def _open(self) -> ClientSession:
        """Start the session task; return its session once ``initialize`` has succeeded."""
        ready: asyncio.Future[ClientSession] = asyncio.get_running_loop().create_future()
        self._closing = closing = asyncio.Event()
        runner = asyncio.create_task(self._run(ready, closing), name=f"mcp-client-{self.name}")
        try:
            session = await asyncio.wait_for(asyncio.shield(ready), self.request_timeout)
        except BaseException:
            runner.cancel()
            with contextlib.suppress(BaseException):
                await runner
            raise
        self._runner = runner
        return session

    async def _run(self, ready: asyncio.Future[ClientSession], closing: asyncio.Event) -> None:
        """Own the transport and the session until ``closing`` is set or the connection breaks."""
        broken = asyncio.Event()

        async def on_message(message: Any) -> None:
            if isinstance(message, Exception):  # the transport lost the server (e.g. it restarted)
                log.info("MCP session %s to %s broke: %s", self.name, self.address, _describe(message))
                broken.set()

        try:
            async with AsyncExitStack() as stack:
                if self.transport == "sse":
                    read, write = await stack.enter_async_context(
                        sse_client(self.address, headers=self.headers, timeout=self.request_timeout))
                else:
                    http = await stack.enter_async_context(create_mcp_http_client(
                        headers=self.headers or None))
                    read, write, _ = await stack.enter_async_context(
                        streamable_http_client(self.address, http_client=http))
                session = await stack.enter_async_context(ClientSession(
                    read, write, read_timeout_seconds=timedelta(seconds=self.request_timeout),
                    message_handler=on_message))
                await session.initialize()
                ready.set_result(session)
                waits = [asyncio.ensure_future(closing.wait()), asyncio.ensure_future(broken.wait())]
                try:
                    await asyncio.wait(waits, return_when=asyncio.FIRST_COMPLETED)
                finally:
                    for wait in waits:
                        wait.cancel()
                if broken.is_set() and not closing.is_set():
                    raise McpError(f"the connection to {self.address} broke", server=self.name, url=self.address)
        except BaseException as exc:
            if not ready.done():
                ready.set_exception(exc if isinstance(exc, Exception) else McpError(f"session ended: {exc!r}"))
                return
            raise

    async def _request(self, what: str, call: Callable[[ClientSession], Awaitable[T]]) -> T:
        """Run ``call(session)``; McpError naming the server if it fails or the session breaks meanwhile.

        A request refused because the server no longer knows the session (it restarted) is sent
        again once on a new session: the server did not run it.
        """
        for attempt in (1, 2):
            session = await self._ensure_session(self.connect_timeout)
            runner = self._runner
            assert runner is not None
            task = asyncio.ensure_future(call(session))
            try:
                done, _ = await asyncio.wait({task, runner}, return_when=asyncio.FIRST_COMPLETED)
            except BaseException:  # cancelled (a caller's timeout): the request must not go on alone
                task.cancel()
                with contextlib.suppress(BaseException):
                    await task
                raise
            if task in done:
                try:
                    return task.result()
                except Exception as exc:
                    lost = _connection_lost(exc)
                    if lost:
                        await self._drop_runner()  # the next request reconnects
                    if lost == "unknown-session" and attempt == 1:
                        continue
                    raise McpError(f"MCP server {self.name!r} at {self.address}: {what} failed: {_describe(exc)}"
                                   + ("; the next request reconnects" if lost else ""),
                                   server=self.name, url=self.address) from exc
            task.cancel()
            with contextlib.suppress(BaseException):
                await task
            await self._drop_runner()
            raise McpError(f"MCP server {self.name!r} at {self.address}: the connection broke during {what}; "
                           "the next request reconnects", server=self.name, url=self.address)
        raise AssertionError("unreachable")

    # --- the interface Node uses ---------------------------------------------------------------

    async def list_tools(self) -> list[Any]:
        """The server's tools (``mcp.types.Tool``), all pages."""
        async def fetch(session: ClientSession) -> list[Any]:
            tools: list[Any] = []
            cursor: str | None = None
            while True:
                page = await session.list_tools(cursor)
                tools.extend(page.tools)
                cursor = page.nextCursor
                if not cursor:
                    return tools

        return await self._request("tools/list", fetch)

    async def list_tools_json(self) -> str:
        """JSON list of the server's tools: ``[{"name", "description", "inputSchema", ...}]``."""
        return json.dumps([_tool_dict(tool) for tool in await self.list_tools()])

    async def tool_spec_json(self, tool: str) -> str:
        """The tool's spec as JSON, or the JSON string ``"Error: Tool not found <server>/<tool>"``."""
        for candidate in await self.list_tools():
            if candidate.name == tool:
                return json.dumps(_tool_dict(candidate))
        return json.dumps(f"Error: Tool not found {self.name}/{tool}")

    async def call_tool_json(self, tool: str, args_json: str) -> str:
        """Call ``tool`` with JSON arguments; the ``CallToolResult`` as JSON (``content``, ``isError``).

        Arguments that are not a JSON object give an ``isError`` result without calling the server.
        """
        try:
            arguments = json.loads(args_json) if args_json and args_json.strip() else {}
        except json.JSONDecodeError as exc:
            return _error_result(f"arguments are not valid JSON ({exc.msg}): send a JSON object")
        if not isinstance(arguments, dict):
            return _error_result(f"arguments must be a JSON object, got {type(arguments).__name__}")
        with tracing.span("mcp.call", {"mcp.server": self.name, "gen_ai.tool.name": tool}) as span:
            result = await self._request(f"tools/call {tool}", lambda session: session.call_tool(tool, arguments))
            span.set_attribute("mcp.is_error", bool(getattr(result, "isError", False)))
        return result.model_dump_json(by_alias=True, exclude_none=True)


def _tool_dict(tool: Any) -> dict[str, Any]:
    data = tool.model_dump(by_alias=True, exclude_none=True)
    data.setdefault("description", "")
    return data


def _error_result(text: str) -> str:
    return json.dumps({"content": [{"type": "text", "text": text}], "isError": True})


def _connection_lost(exc: BaseException) -> str | None:
    """``"unknown-session"`` if the server refused the session (it restarted), ``"closed"`` if the
    connection closed under the request, else None (the server answered with an error)."""
    text = str(exc).lower()
    if "session terminated" in text or "session not found" in text:
        return "unknown-session"
    if "connection closed" in text:
        return "closed"
    return None


def _describe(exc: BaseException | None) -> str:
    """A one-line description, looking inside exception groups (anyio task groups raise them)."""
    while isinstance(exc, BaseExceptionGroup) and exc.exceptions:
        exc = exc.exceptions[0]
    return f"{type(exc).__name__}: {exc}" if exc is not None else "unknown error"
