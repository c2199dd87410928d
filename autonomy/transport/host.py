"""What a transport needs from the node it serves, as protocols (the transport sits below the nodes).

A transport hands inbound messages to its :class:`Host` (the node) and replies to the host's mailboxes;
it never imports ``autonomy.nodes``: ``Node`` and ``MailboxCell`` satisfy these shapes structurally.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable
from typing import Any, Protocol

__all__ = ["Host", "ReplyTo", "ReplyMailbox"]


class ReplyTo(Protocol):
    """Where the replies to one message go: a waiting caller, a mailbox, or another node."""

    async def reply(self, message: str) -> None:
        """Deliver one reply. Replies after the receiver is gone are dropped."""
        ...

    async def fail(self, error: Exception) -> None:
        """Tell the receiver that no (more) replies will come, and why."""
        ...


class ReplyMailbox(ReplyTo, Protocol):
    """A mailbox of the host that sent to another node: the replies come back to ``address``."""

    address: str

    def fail_nowait(self, error: Exception) -> None:
        """Like :meth:`fail`, from synchronous code (e.g. when the other node leaves)."""
        ...


class Host(Protocol):
    """The node a transport serves."""

    name: str
    cluster: str | None
    zone: str | None

    def deliver(self, address: str, message: str, reply_to: ReplyTo | None) -> None:
        """Hand an inbound message to the local cell at ``address``; raises WorkerNotFound, WorkerStopped."""
        ...

    def endpoint(self, address: str) -> Any:
        """The local cell at ``address`` (worker or mailbox), or None."""
        ...

    def spawn(self, coro: Awaitable[Any], name: str | None = None) -> asyncio.Task[Any]:
        """Run ``coro`` in the background, owned by the node."""
        ...

    async def send_and_receive(self, address: str, message: str, *, timeout: float | None = None) -> str:
        """Send to a local address and return the first reply."""
        ...
