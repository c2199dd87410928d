"""A proxy to another node of the cluster (upstream ``RemoteNode``, spec §1.1 and §3.4).

Messages go through the local node with ``node=<remote name>``; management calls (start/stop/list
workers and agents) are :class:`NodeRequest` RPCs to the remote node's ``node_controller`` worker.
Workers are shipped by value (cloudpickle), so a worker class defined in the caller's ``__main__``
runs on a remote node whose image is a bare ``Node.start()``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from autonomy.errors import RemoteNodeError
from autonomy.nodes.address import validate_address
from autonomy.nodes.controller import (  # NodeController: upstream apps import it from here
    CONTROLLER_ADDRESS,
    NodeController,
    NodeRequest,
    NodeResponse,
    decode_message,
    encode_message,
)

if TYPE_CHECKING:
    from autonomy.nodes.mailbox import NodeMailbox
    from autonomy.nodes.node import Node

__all__ = ["RemoteNode", "NodeController", "NodeRequest", "NodeResponse"]

# Controller calls are small and answered at once; a long default only matters for agents starting.
DEFAULT_TIMEOUT = 600.0


class RemoteNode:
    """Another node, as seen from ``local_node``. Cheap to create: no network traffic until used."""

    def __init__(self, local_node: Node, remote_name: str) -> None:
        self.local_node = local_node
        self.remote_name = remote_name

    @property
    def name(self) -> str:
        return self.remote_name

    # ---- messages ---------------------------------------------------------------------------------

    async def send_and_receive(self, address: str, message: str, node: str | None = None, policy: Any = None,
                               timeout: float | None = DEFAULT_TIMEOUT) -> str:
        """Send ``message`` to ``address`` on this remote node and return the first reply.

        ``node`` is accepted for upstream compatibility and ignored: the remote node is this one.
        Raises like ``Node.send_and_receive`` (WorkerNotFound, WorkerError, NodeNotFound, NodeLeft,
        DeliveryTimeout).
        """
        return await self.local_node.send_and_receive(address, message, node=self.remote_name, policy=policy,
                                                      timeout=timeout)

    async def send(self, address: str, message: str, policy: Any = None) -> NodeMailbox:
        """Send ``message`` to ``address`` on this remote node from a new local mailbox; ``receive()``
        each reply from it (replies arrive in order; NodeLeft if the node leaves)."""
        return await self.local_node.send(address, message, node=self.remote_name, policy=policy)

    # ---- the remote node controller -----------------------------------------------------------------

    async def send_request(self, request: NodeRequest, timeout: float | None = DEFAULT_TIMEOUT) -> NodeResponse:
        """Send ``request`` to the remote node's controller and return its response as is."""
        raw = await self.send_and_receive(CONTROLLER_ADDRESS, encode_message(request), timeout=timeout)
        response = decode_message(raw)
        if not isinstance(response, NodeResponse):
            raise RemoteNodeError(self.remote_name, request.method,
                                  f"expected a NodeResponse, got {type(response).__name__}")
        return response

    async def send_generic_request(self, method: str, *args: Any, **kwargs: Any) -> NodeResponse:
        """Call ``method`` on the remote controller; RemoteNodeError (a RuntimeError) if it failed."""
        response = await self.send_request(NodeRequest(method, args, kwargs))
        if not response.success:
            raise RemoteNodeError(self.remote_name, method, response.error)
        return response

    async def identifier(self) -> str:
        return (await self.send_generic_request("identifier")).result  # type: ignore[no-any-return]

    async def start_worker(self, name: str, worker: Any, policy: Any = None, exposed_as: str | None = None) -> None:
        """Ship ``worker`` (by value) to the remote node and start it at ``name`` (``[a-zA-Z0-9_-]+``).

        On the remote side ``worker.node`` is set to that node before it starts.
        """
        validate_address(name)
        await self.send_generic_request("start_worker", name, worker, policy=policy, exposed_as=exposed_as)

    async def stop_worker(self, name: str) -> None:
        await self.send_generic_request("stop_worker", name)

    async def list_workers(self) -> list[dict[str, Any]]:
        return (await self.send_generic_request("list_workers")).result  # type: ignore[no-any-return]

    async def list_agents(self) -> list[dict[str, Any]]:
        return (await self.send_generic_request("list_agents")).result  # type: ignore[no-any-return]

    async def list_nodes_priv(self) -> list[str]:
        return (await self.send_generic_request("list_nodes_priv")).result  # type: ignore[no-any-return]

    async def start_agent(self, *args: Any, **kwargs: Any) -> str:
        """Start an agent on the remote node (arguments as ``Agent.start`` takes them, without the node);
        returns the agent's name."""
        return (await self.send_generic_request("start_agent", *args, **kwargs)).result  # type: ignore[no-any-return]

    async def start_agents(self, *args: Any, **kwargs: Any) -> list[str]:
        """Start several agents on the remote node (as ``Agent.start_many``); returns their names."""
        return (await self.send_generic_request("start_agents", *args, **kwargs)).result  # type: ignore[no-any-return]

    def __eq__(self, other: object) -> bool:
        return isinstance(other, RemoteNode) and other.remote_name == self.remote_name \
            and other.local_node is self.local_node

    def __hash__(self) -> int:
        return hash(self.remote_name)

    def __repr__(self) -> str:
        return f"<RemoteNode {self.remote_name!r} via {self.local_node.name!r}>"
