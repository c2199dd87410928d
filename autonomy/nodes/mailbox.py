"""Mailboxes: a named address to send from and receive replies at (upstream ``RustMailbox``)."""

from __future__ import annotations

import weakref
from typing import TYPE_CHECKING, Any

from autonomy.errors import DeliveryTimeout
from autonomy.nodes.cells import MailboxCell

if TYPE_CHECKING:
    from autonomy.nodes.node import Node

__all__ = ["NodeMailbox"]


class NodeMailbox:
    """A mailbox bound to ``address`` on ``node``.

    Messages sent from it carry its address as their return address, so every reply to them
    (a worker may reply many times) arrives here, in order. The address is released when the
    mailbox is garbage-collected or :meth:`close` is called.
    """

    def __init__(self, node: Node, cell: MailboxCell) -> None:
        self._node = node
        self._cell = cell
        self._release = weakref.finalize(self, node._release_address, cell.address, cell)

    @property
    def address(self) -> str:
        return self._cell.address

    name = address

    async def send(self, address: str, message: str, node: str | None = None, policy: Any = None) -> None:
        """Send ``message`` to ``address`` (on remote ``node`` if given); replies come to this mailbox."""
        await self._node._send(address, message, node, self._cell)

    async def receive(self, policy: Any = None, timeout: float | None = None) -> str:
        """Wait for the next message (``timeout`` in seconds, float). Raises DeliveryTimeout, or the
        sender's error (WorkerError, WorkerStopped, NodeLeft, ...) if one came instead of a reply."""
        try:
            return await self._cell.receive(timeout)
        except TimeoutError as exc:
            if isinstance(exc, DeliveryTimeout):
                raise
            raise DeliveryTimeout(self.address, timeout or 0.0) from None

    def close(self) -> None:
        """Release the address now; later replies to it are dropped."""
        self._release()

    def __repr__(self) -> str:
        return f"<Mailbox {self.address!r} on {self._node.name!r}>"
