"""``Repl``: talk to an agent over a plain TCP connection (``nc 127.0.0.1 7000``), as upstream (spec §1.11).

``repl = await Repl.start(agent_reference, listen_address="127.0.0.1:7000", functions=None,
timeout=None, stream=True)`` returns once the server listens (``repl.address`` is the bound
``(host, port)``; port 0 picks one). The default address comes from ``DEFAULT_HOST_REPL`` and
``DEFAULT_PORT_REPL``; it is loopback, as narrow as possible: a zone reaches it through a portal.

The protocol, as upstream: the client sends lines; a line ``\"\"\"`` starts a multi-line block that
ends at the next ``\"\"\"`` line. The server frames everything it writes as ``<byte length>\\n<bytes>``;
the end of an agent's answer is the frame ``0\\n``. Commands: ``:help``/``:h``, ``:scope``/``:s X``,
``:conversation``/``:c X``, ``:functions``, ``:run NAME`` (awaits ``functions[NAME]()``),
``:quit``/``:q``. A connection starts in a random scope (32 hex) and conversation (24 hex), and is
closed after 300 s without input.

Our decisions: each connection has its own scope and conversation (upstream shares the last
connection's between all of them); answers are written as they stream, without upstream's 30 ms
pause per word; tool calls and results are not printed, only the agent's text.
"""

from __future__ import annotations

import asyncio
import logging
import os
import secrets
from collections.abc import Awaitable, Callable
from typing import Any

from autonomy.agents.protocol import AssistantMessage, content_text
from autonomy.nodes.address import parse_socket_address

__all__ = ["Repl", "IDLE_TIMEOUT"]

logger = logging.getLogger("autonomy.repl")

IDLE_TIMEOUT = 300.0
_BLOCK = b'"""\n'
HELP = ("Type ':help' or ':h' to see this message again.\n"
        "Type ':scope' or ':s' to set the scope for future interactions.\n"
        "Type ':conversation' or ':c' to set the conversation for future interactions.\n"
        "Type ':functions' to see the list of available functions.\n"
        "Type ':run' to run a predefined function.\n"
        "Type ':quit' or ':q' to disconnect.")
SHORT_HELP = "Type ':help' or ':h' to see this message again.\nType ':quit' or ':q' to disconnect."


def _default_address() -> str:
    return f"{os.environ.get('DEFAULT_HOST_REPL', '127.0.0.1')}:{os.environ.get('DEFAULT_PORT_REPL', '7000')}"


class _Session:
    __slots__ = ("writer", "scope", "conversation")

    def __init__(self, writer: asyncio.StreamWriter) -> None:
        self.writer = writer
        self.scope = secrets.token_hex(16)
        self.conversation = secrets.token_hex(12)

    async def frame(self, text: str) -> None:
        data = text.encode()
        if data:
            self.writer.write(f"{len(data)}\n".encode() + data)
            await self.writer.drain()

    async def message(self, text: str) -> None:
        """A REPL message (not an answer): two newlines leave room for the client's prompt."""
        await self.frame(text + "\n\n")

    async def end(self) -> None:
        self.writer.write(b"0\n")
        await self.writer.drain()


class Repl:
    """A TCP REPL in front of an agent (see the module docstring)."""

    def __init__(self, agent_reference: Any, listen_address: str | int | None = None,
                 functions: dict[str, Callable[[], Awaitable[Any]]] | None = None, timeout: float | None = 120,
                 stream: bool = True) -> None:
        try:
            self.host, self.port = parse_socket_address(listen_address if listen_address is not None
                                                        else _default_address())
        except ValueError:
            raise ValueError(f"Invalid listen_address: {listen_address!r}: expected 'host:port'") from None
        if functions is not None and not all(callable(f) for f in functions.values()):
            raise ValueError("Repl: functions must map names to async functions without arguments")
        self.agent_reference = agent_reference
        self.functions = dict(functions or {})
        self.timeout = timeout
        self.stream = stream
        self.server: asyncio.Server | None = None
        self._sessions: set[asyncio.Task[Any]] = set()

    @staticmethod
    async def start(agent_reference: Any, listen_address: str | int | None = None,
                    functions: dict[str, Callable[[], Awaitable[Any]]] | None = None, timeout: float | None = None,
                    stream: bool = True) -> Repl:
        """Start a REPL server; returns it once it listens."""
        repl = Repl(agent_reference, listen_address, functions, timeout, stream)
        await repl.listen()
        return repl

    async def listen(self) -> None:
        self.server = await asyncio.start_server(self._client, self.host, self.port)
        logger.info("REPL for agent %r listening on %s:%s", getattr(self.agent_reference, "name", "?"),
                    *self.address)

    @property
    def address(self) -> tuple[str, int]:
        if self.server is None or not self.server.sockets:
            return self.host, self.port
        host, port = self.server.sockets[0].getsockname()[:2]
        return host, port

    async def stop(self) -> None:
        """Stop listening and close every connection."""
        if self.server is not None:
            self.server.close()
        for task in list(self._sessions):
            task.cancel()
        await asyncio.gather(*self._sessions, return_exceptions=True)
        if self.server is not None:
            await self.server.wait_closed()
            self.server = None

    async def _client(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        if task is not None:
            self._sessions.add(task)
        session = _Session(writer)
        try:
            node = getattr(self.agent_reference, "node_name", None) or "node"
            await session.message(f"\nWelcome to Autonomy 👋\n\nYou are connected to your agent - {node}/"
                                  f"{self.agent_reference.name}\nAsk it a question or give it a task.\n\n"
                                  + SHORT_HELP)
            while True:
                try:
                    data = await asyncio.wait_for(reader.readline(), IDLE_TIMEOUT)
                    if data == _BLOCK:
                        data = (await asyncio.wait_for(reader.readuntil(_BLOCK), IDLE_TIMEOUT))[:-len(_BLOCK)]
                except (TimeoutError, asyncio.IncompleteReadError, ConnectionError):
                    break
                if not data:
                    break
                try:
                    text = data.decode().strip()
                except UnicodeDecodeError:
                    await session.message("Error: Invalid message encoding. Please use UTF-8.")
                    continue
                if not text:
                    continue
                if text.lower() in (":quit", ":q"):
                    break
                if text.startswith(":"):
                    await self._command(session, text)
                else:
                    await self._ask(session, text)
        except ConnectionError:
            pass
        finally:
            if task is not None:
                self._sessions.discard(task)
            writer.close()
            try:
                await writer.wait_closed()
            except (ConnectionError, asyncio.CancelledError):
                pass

    async def _command(self, session: _Session, text: str) -> None:
        word, _, argument = text.partition(" ")
        word, argument = word.lower(), argument.strip()
        if word in (":help", ":h"):
            await session.message(HELP)
        elif word in (":scope", ":s"):
            if not argument:
                await session.message("Invalid scope format. Use ':scope <scope>'.")
            else:
                session.scope = argument
                await session.message(f"Scope set to {argument}")
        elif word in (":conversation", ":c"):
            if not argument:
                await session.message("Invalid conversation format. Use ':conversation <conversation>'.")
            else:
                session.conversation = argument
                await session.message(f"Conversation set to {argument}")
        elif word == ":functions":
            await session.message("\n".join(self.functions))
        elif word == ":run":
            function = self.functions.get(argument)
            if not argument or " " in argument:
                await session.message("Usage: :run <function_name>")
            elif function is None:
                await session.message("Function not found.")
            else:
                try:
                    await session.message(str(await function()))
                except Exception as exc:
                    await session.message(f"Function execution error: {exc}")
        else:
            await session.message(f"Unknown command: {text}")

    async def _ask(self, session: _Session, text: str) -> None:
        try:
            if self.stream:
                async for part in self.agent_reference.send_stream(text, scope=session.scope,
                                                                   conversation=session.conversation,
                                                                   timeout=self.timeout):
                    for message in part.snippet.messages:
                        if isinstance(message, AssistantMessage):
                            await session.frame(content_text(message.content))
                    if part.finished:
                        break
            else:
                messages = await self.agent_reference.send(text, scope=session.scope,
                                                           conversation=session.conversation, timeout=self.timeout)
                answer = next((m for m in reversed(messages) if isinstance(m, AssistantMessage)), None)
                await session.frame(content_text(answer.content) if answer is not None else "")
            await session.end()
        except ConnectionError:
            raise
        except Exception as exc:
            await session.message(f"Agent communication error: {exc}")
