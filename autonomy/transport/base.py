"""How a node's messages leave the process: the Transport contract and the in-process transport."""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Protocol

from autonomy.transport.host import Host, ReplyMailbox

__all__ = ["Transport", "LocalTransport", "FabricConfig"]


@dataclass(frozen=True)
class FabricConfig:
    """Where a node's cluster fabric (NATS) is and how to log in to it.

    ``urls``: NATS server URLs. ``credentials``: path to the node's credentials file (see
    ``autonomy.transport.credentials``). Read from ``AUTONOMY_FABRIC_URL`` (comma separated) and
    ``AUTONOMY_FABRIC_CREDENTIALS``.
    """

    urls: tuple[str, ...]
    credentials: str | None = None

    @classmethod
    def from_env(cls) -> FabricConfig | None:
        """The fabric named by the environment, or None for a standalone node."""
        raw = os.environ.get("AUTONOMY_FABRIC_URL", "").strip()
        if not raw:
            return None
        urls = tuple(u.strip() for u in raw.split(",") if u.strip())
        return cls(urls=urls, credentials=os.environ.get("AUTONOMY_FABRIC_CREDENTIALS") or None)


class Transport(Protocol):
    """What a node needs from the fabric. Messages inside one node never reach the transport.

    Inbound messages are handed to ``node.deliver(address, message, reply_to)``; replies to a
    mailbox of this node go to ``node.endpoint(address)`` (``reply``/``fail``).
    """

    is_remote: bool

    async def start(self, node: Host) -> None:
        """Join the fabric; return when the node can send and be reached."""
        ...

    async def stop(self) -> None:
        """Leave the fabric; requests pending on other nodes fail."""
        ...

    async def send(self, node_name: str, address: str, message: str, reply_to: ReplyMailbox | None) -> None:
        """Send to ``address`` on ``node_name``; replies go to the local mailbox ``reply_to``."""
        ...

    async def request(self, node_name: str, address: str, message: str, timeout: float | None) -> str:
        """Send and wait for the first reply (request/response)."""
        ...

    async def list_nodes(self) -> list[str]:
        """Names of the nodes in this node's cluster, this node included."""
        ...


class LocalTransport:
    """A standalone node's transport: there are no other nodes.

    As upstream does for a node that is not enrolled, a ``node=`` argument is then ignored and the
    message is delivered locally (handy in local development).
    """

    is_remote = False

    def __init__(self) -> None:
        self._node: Host | None = None

    async def start(self, node: Host) -> None:
        self._node = node

    async def stop(self) -> None:
        self._node = None

    async def send(self, node_name: str, address: str, message: str, reply_to: ReplyMailbox | None) -> None:
        assert self._node is not None
        self._node.deliver(address, message, reply_to)

    async def request(self, node_name: str, address: str, message: str, timeout: float | None) -> str:
        assert self._node is not None
        return await self._node.send_and_receive(address, message, timeout=timeout)

    async def list_nodes(self) -> list[str]:
        return []
