"""The node controller: remote start/stop/list of workers and agents (upstream ``NodeController``).

Requests and responses travel as ``base64(cloudpickle.dumps(obj))`` text, so worker objects ship by
value, classes defined in the sender's ``__main__`` included. Unpickling runs code: the fabric's
per-zone permissions ensure that only nodes of this node's own zone can reach this worker (its address
is in ``node.zone_only``: the transport refuses it to other zones even when the node opted in).
"""

from __future__ import annotations

import base64
import functools
import logging
import pickle
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import cloudpickle

from autonomy.nodes.extensions import EXTENSIONS

if TYPE_CHECKING:
    from autonomy.nodes.node import Node

__all__ = ["NodeController", "NodeRequest", "NodeResponse", "encode_message", "decode_message", "CONTROLLER_ADDRESS"]

CONTROLLER_ADDRESS = "node_controller"
logger = logging.getLogger("autonomy.nodes")


@dataclass
class NodeRequest:
    method: str
    args: tuple[Any, ...] = ()
    kwargs: dict[str, Any] = field(default_factory=dict)


@dataclass
class NodeResponse:
    success: bool
    result: Any = None
    error: str | None = None


def encode_message(obj: Any) -> str:
    """Encode a request or response for the wire (base64 of a cloudpickle)."""
    return base64.b64encode(cloudpickle.dumps(obj)).decode("ascii")


def decode_message(text: str) -> Any:
    """Decode what :func:`encode_message` made."""
    return pickle.loads(base64.b64decode(text))


class NodeController:
    """Internal worker at ``node_controller`` serving :class:`NodeRequest`s from other nodes."""

    def __init__(self, node: Node) -> None:
        self.node = node

    async def start(self) -> None:
        self.node.zone_only.add(CONTROLLER_ADDRESS)  # unpickling runs code: never from another zone
        await self.node.start_internal_worker(CONTROLLER_ADDRESS, self)

    async def handle_message(self, context: Any, message: str) -> None:
        try:
            request = decode_message(message)
            if not isinstance(request, NodeRequest):
                raise TypeError(f"expected a NodeRequest, got {type(request).__name__}")
        except Exception as exc:
            await context.reply(encode_message(NodeResponse(False, error=f"Bad request: {exc}")))
            return
        handler = self._handler(request.method)
        if handler is None:
            response = NodeResponse(False, error=f"Unknown method: {request.method}")
        else:
            try:
                response = NodeResponse(True, result=await handler(*request.args, **request.kwargs))
            except Exception as exc:
                logger.warning("node controller: %s failed: %s", request.method, exc)
                response = NodeResponse(False, error=f"{type(exc).__name__}: {exc}")
        try:
            encoded = encode_message(response)
        except Exception as exc:  # a result that cannot be pickled
            encoded = encode_message(NodeResponse(False, error=f"Cannot return the result: {exc}"))
        await context.reply(encoded)

    def _handler(self, method: str) -> Callable[..., Awaitable[Any]] | None:
        own: Callable[..., Awaitable[Any]] | None = getattr(self, f"_handle_{method}", None)
        if own is not None:
            return own
        extension = EXTENSIONS.controller_methods.get(method)  # start_agent(s): from the agents layer
        return functools.partial(extension, self.node) if extension is not None else None

    async def _handle_identifier(self) -> str:
        return await self.node.identifier()

    async def _handle_start_worker(self, name: str, worker: Any, policy: Any = None,
                                   exposed_as: str | None = None) -> None:
        worker.node = self.node
        await self.node.start_worker(name, worker, policy=policy, exposed_as=exposed_as)

    async def _handle_stop_worker(self, name: str) -> None:
        await self.node.stop_worker(name)

    async def _handle_list_workers(self) -> list[dict[str, Any]]:
        return await self.node.list_workers()

    async def _handle_list_agents(self) -> list[dict[str, Any]]:
        return await self.node.list_agents()

    async def _handle_list_nodes_priv(self) -> list[str]:
        return await self.node.list_nodes_priv()
