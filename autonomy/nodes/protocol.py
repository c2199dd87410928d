"""The shapes that workers, contexts and mailboxes take (upstream ``nodes/protocol.py``)."""

from __future__ import annotations

from typing import Any, Protocol, runtime_checkable

# Defined by the transport (which sits below the nodes and hands replies over); the same shape here.
from autonomy.transport.host import ReplyTo

__all__ = ["Worker", "Context", "Mailbox", "ReplyTo"]


@runtime_checkable
class Context(Protocol):
    """What a worker gets with each message."""

    async def reply(self, message: str) -> None:
        """Send ``message`` back to the sender. May be called 0..n times per message, in order."""
        ...


@runtime_checkable
class Worker(Protocol):
    """A stateful actor. Each worker handles one message at a time, in arrival order."""

    async def handle_message(self, context: Context, message: str) -> None: ...


@runtime_checkable
class Mailbox(Protocol):
    """A named address that can send messages and receive their replies."""

    async def send(self, address: str, message: str, node: str | None = None, policy: Any = None) -> None: ...

    async def receive(self, policy: Any = None, timeout: float | None = None) -> str: ...
