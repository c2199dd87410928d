"""The node: an actor runtime in one process (upstream ``Node``)."""

from __future__ import annotations

import asyncio
import contextlib
import functools
import inspect
import logging
import os
import secrets
import signal
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from typing import Any

from autonomy.errors import AddressInUse, DeliveryTimeout, InvalidName, WorkerNotFound
from autonomy.nodes import collector
from autonomy.nodes.access import allows_cluster
from autonomy.nodes.address import random_name, validate_address
from autonomy.nodes.cells import FutureReply, MailboxCell, WorkerCell
from autonomy.nodes.extensions import EXTENSIONS
from autonomy.nodes.linger import Linger
from autonomy.nodes.mailbox import NodeMailbox
from autonomy.nodes.protocol import ReplyTo, Worker
from autonomy.nodes.spawner import AgentFactory, KeyExtractor, Spawner, SpawnerCell
from autonomy.transport.base import FabricConfig, LocalTransport, Transport
from autonomy.transport.timers import expire

__all__ = ["Node"]

logger = logging.getLogger("autonomy.nodes")

Main = Callable[["Node"], Awaitable[Any]]
STOP_TIMEOUT = 10.0  # seconds Node.stop waits for its cancelled background tasks to end


def _env_flag(name: str) -> bool:
    return os.environ.get(name, "").strip().lower() in ("1", "true", "yes", "on")


def _open_transport(fabric: FabricConfig | None) -> Transport:
    if fabric is None:
        return LocalTransport()
    from autonomy.transport.nats_import import import_nats

    import_nats()  # first, so nats comes without aiohttp (see there)
    from autonomy.transport.nats_transport import NatsTransport  # only nodes of a fabric need nats

    return NatsTransport(fabric)


class Node:
    """An actor runtime: hosts workers and agents, sends and receives messages, serves HTTP.

    Start one with :meth:`Node.start` (blocking, owns the process's event loop) in an app, or with
    ``await Node.create(...)`` / ``async with Node.open(...)`` inside a running loop (tests, embedding).
    """

    def __init__(self, name: str, *, cluster: str | None = None, zone: str | None = None,
                 transport: Transport | None = None) -> None:
        self.name = name
        self.cluster = cluster
        self.zone = zone
        # allow= evaluated (autonomy.nodes.access): True when nodes of other zones may reach this node
        self.cluster_access = False
        # addresses that answer only the node's own zone, even when it opted in to cluster access
        self.zone_only: set[str] = set()
        self.transport: Transport = transport or LocalTransport()
        self.http_server: Any = None
        self.mcp_clients: dict[str, Any] = {}
        self.mcp_server: Any = None
        self._routes: dict[str, Any] = {}
        self._agents: dict[str, Spawner] = {}
        self._identifier = "I" + secrets.token_hex(32)
        self._stopped = asyncio.Event()
        self._stopping = False
        self._background: set[asyncio.Task[Any]] = set()
        # Objects the upper layers attach to this node (e.g. the agents' conversation store), closed
        # (``await resource.aclose()``) after the workers stopped; the node knows nothing else of them.
        self.resources: dict[str, Any] = {}
        self._linger = Linger()  # whether idle-going drain tasks wait one turn (autonomy/nodes/linger.py)

    # ---- life cycle -------------------------------------------------------------------------

    @staticmethod
    def start(main: Main | None = None, name: str | None = None, ticket: str | None = None, allow: Any = None,
              http_server: Any = None, wait_until_interrupted: bool = True, cache_secure_channels: bool = False,
              use_local_db: bool = False, **kwargs: Any) -> None:
        """Start a node and run ``main(node)``; blocks until the node stops.

        Owns the process's event loop (uvloop when installed): call it at module top level. The node's
        name is ``NODE`` from the environment, else ``name``, else random. ``http_server`` defaults to
        ``HttpServer()`` on ``DEFAULT_HOST_HTTP:DEFAULT_PORT_HTTP`` (0.0.0.0:8000). After ``main``
        returns the node waits for Ctrl-C or SIGTERM unless ``wait_until_interrupted`` is False
        (``AUTONOMY_WAIT_UNTIL_INTERRUPTED`` overrides it when set: ``1``/``true`` waits, ``0``/``false``
        exits after ``main``; with no ``main`` it always waits).
        ``kwargs`` accepts ``mcp_clients=[McpClient(...)]`` and ``mcp_server=McpServer(...)``.
        ``allow``: who may reach the node over the fabric: its zone (None, the default) or, with
        ``"cluster"``, every zone of its cluster (see :mod:`autonomy.nodes.access`). ``ticket``,
        ``cache_secure_channels`` and ``use_local_db`` are accepted for compatibility.
        """
        from autonomy.logs import configure_from_env

        configure_from_env()
        forced = os.environ.get("AUTONOMY_WAIT_UNTIL_INTERRUPTED", "").strip()  # set: it decides, as upstream
        wait = (_env_flag("AUTONOMY_WAIT_UNTIL_INTERRUPTED") if forced else wait_until_interrupted) or main is None
        coro = Node._run_main(main, name, http_server, wait, {**kwargs, "allow": allow})
        try:
            import uvloop
        except ImportError:
            asyncio.run(coro)
        else:
            with asyncio.Runner(loop_factory=uvloop.new_event_loop) as runner:
                runner.run(coro)

    @staticmethod
    async def _run_main(main: Main | None, name: str | None, http_server: Any, wait: bool,
                        kwargs: dict[str, Any]) -> None:
        if http_server is None and EXTENSIONS.default_http_server is not None:
            http_server = EXTENSIONS.default_http_server()  # HttpServer(), set by the autonomy package
        node = await Node.create(name=name, http_server=http_server, **kwargs)
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            with contextlib.suppress(NotImplementedError, RuntimeError):
                loop.add_signal_handler(sig, node._request_stop)
        try:
            collector.tune()  # this process is the node's: a collector set for many turns in flight
            if main is not None:
                main_task = asyncio.ensure_future(main(node))
                stopped = asyncio.ensure_future(node._stopped.wait())
                await asyncio.wait({main_task, stopped}, return_when=asyncio.FIRST_COMPLETED)
                if not main_task.done():
                    main_task.cancel()
                    await asyncio.gather(main_task, return_exceptions=True)
                else:
                    stopped.cancel()
                    main_task.result()  # a failing main fails the process
            if wait and not node._stopped.is_set():
                await node._stopped.wait()
        finally:
            await node.stop()
            # e.g. model SDK clients are cached per event loop: they are closed before this loop ends.
            for close in list(EXTENSIONS.loop_closers.values()):
                await close()

    @classmethod
    async def create(cls, name: str | None = None, *, cluster: str | None = None, zone: str | None = None,
                     fabric: FabricConfig | None = None, http_server: Any = None,
                     mcp_clients: list[Any] | None = None, mcp_server: Any = None, allow: Any = None) -> Node:
        """Create and start a node in the running event loop; returns when it is ready.

        Defaults come from the environment (``NODE``, ``CLUSTER``, ``ZONE``, ``AUTONOMY_FABRIC_URL``,
        ``AUTONOMY_FABRIC_CREDENTIALS``). Unlike :meth:`start`, no HTTP server runs unless one is given.
        """
        node_name = os.environ.get("NODE") or name or random_name()
        if not node_name or any(c.isspace() or c in "./*>" for c in node_name):
            raise InvalidName("node", node_name)
        node = cls(node_name, cluster=cluster or os.environ.get("CLUSTER") or None,
                   zone=zone or os.environ.get("ZONE") or None,
                   transport=_open_transport(fabric if fabric is not None else FabricConfig.from_env()))
        node.cluster_access = allows_cluster(allow, node.cluster, node.zone)
        try:
            from autonomy.nodes.controller import NodeController

            await NodeController(node).start()
            await node.transport.start(node)
            for client in mcp_clients or []:
                await client.connect()
                node.mcp_clients[client.name] = client
            if mcp_server is not None:
                await mcp_server.start(node)
                node.mcp_server = mcp_server
            if http_server is not None:
                await http_server.start(node)
                node.http_server = http_server
        except BaseException:
            await node.stop()
            raise
        return node

    @classmethod
    @contextlib.asynccontextmanager
    async def open(cls, name: str | None = None, **kwargs: Any) -> AsyncIterator[Node]:
        """``async with Node.open() as node:`` a node that stops when the block ends."""
        node = await cls.create(name, **kwargs)
        try:
            yield node
        finally:
            await node.stop()

    def _request_stop(self) -> None:
        self._stopped.set()

    async def stop(self) -> None:
        """Stop the node: its HTTP and MCP servers, its MCP clients, its agents and workers (failing their
        queued requests), its fabric link, then its background tasks (cancelled, then awaited).

        A part that fails to stop is logged with its traceback and the others are still stopped; a
        background task that ignores its cancellation for ``STOP_TIMEOUT`` seconds is logged, not waited
        for forever. A second call returns at once."""
        if self._stopping:
            return
        self._stopping = True
        self._stopped.set()
        steps: list[tuple[str, Callable[[], Awaitable[Any]]]] = []
        if self.http_server is not None:
            steps.append(("its HTTP server", self.http_server.stop))
        if self.mcp_server is not None:
            steps.append(("its MCP server", self.mcp_server.stop))
        steps += [(f"MCP client {name!r}", client.close) for name, client in self.mcp_clients.items()]
        steps += [(f"worker {name!r}", functools.partial(self.stop_worker, name))
                  for name in [*self._agents, *(name for name, _ in self._worker_cells())]]
        steps += [(f"its resource {key!r}", resource.aclose) for key, resource in list(self.resources.items())
                  if resource is not None and hasattr(resource, "aclose")]  # e.g. the conversation store
        steps.append(("its fabric link", self.transport.stop))
        for what, step in steps:
            try:
                await step()
            except Exception:
                logger.exception("node %s: stopping %s failed", self.name, what)
        await self._cancel_background()

    async def _cancel_background(self) -> None:
        current = asyncio.current_task()
        tasks = [t for t in self._background if t is not current]
        for task in tasks:
            task.cancel()
        if not tasks:
            return
        # Failures are logged by spawn's done callback; here we only make sure each task has ended.
        _, pending = await asyncio.wait(tasks, timeout=STOP_TIMEOUT)
        for task in pending:
            logger.error("node %s: background task %s still runs %g s after being cancelled", self.name,
                         task.get_name(), STOP_TIMEOUT)

    async def interrupted(self) -> None:
        """Wait until the node is interrupted (Ctrl-C, SIGTERM) or stopped, then stop it."""
        await self._stopped.wait()
        await self.stop()

    def spawn(self, coro: Awaitable[Any], name: str | None = None) -> asyncio.Task[Any]:
        """Run ``coro`` in the background, owned by the node: failures are logged, stop cancels it."""
        task = asyncio.ensure_future(coro)
        if name is not None and isinstance(task, asyncio.Task):
            task.set_name(name)
        self._background.add(task)

        def _done(t: asyncio.Task[Any]) -> None:
            self._background.discard(t)
            if not t.cancelled() and t.exception() is not None:
                logger.error("background task %s failed", name or t, exc_info=t.exception())

        task.add_done_callback(_done)
        return task

    # ---- identity -----------------------------------------------------------------------------

    async def identifier(self) -> str:
        """This node's identity identifier (``I`` + 64 hex)."""
        return self._identifier

    # ---- workers ------------------------------------------------------------------------------

    async def start_worker(self, name: str, worker: Worker, policy: Any = None, exposed_as: str | None = None) -> None:
        """Start ``worker`` at address ``name`` (``[a-zA-Z0-9_-]+``, else ValueError)."""
        self._add_worker(validate_address(name), worker, internal=False, exposed_as=exposed_as)

    async def start_internal_worker(self, name: str, worker: Worker, policy: Any = None,
                                    exposed_as: str | None = None) -> None:
        """Like :meth:`start_worker`, hidden from :meth:`list_workers`."""
        self._add_worker(validate_address(name), worker, internal=True, exposed_as=exposed_as)

    def _add_worker(self, name: str, worker: Worker, internal: bool, exposed_as: str | None) -> WorkerCell:
        if not callable(getattr(worker, "handle_message", None)):
            raise TypeError(f"worker {name!r} has no handle_message(context, message) method")
        if not inspect.iscoroutinefunction(worker.handle_message):
            raise TypeError(f"worker {name!r}: handle_message must be 'async def'")
        if name in self._routes:
            raise AddressInUse(name, self.name)
        cell = WorkerCell(self, name, worker, internal=internal, exposed_as=exposed_as)
        self._routes[name] = cell
        return cell

    def _worker_cells(self) -> Iterator[tuple[str, WorkerCell]]:
        # Workers are found in the routes, not kept in a dict of their own: a second dict entry per
        # worker was ~20% of an idle worker's memory (docs/benchmarks.md, scale).
        agents = self._agents
        return ((name, cell) for name, cell in self._routes.items()
                if type(cell) is WorkerCell and name not in agents)

    async def start_spawner(self, name: str, agent_factory: AgentFactory, key_extractor: KeyExtractor,
                            policy: Any = None, exposed_as: str | None = None,
                            max_idle_workers: int | None = None) -> None:
        """Start an agent: a spawner at ``name`` with one worker per conversation key (spec §3.2); at most
        ``max_idle_workers`` idle conversation workers are kept (see :class:`Spawner`)."""
        validate_address(name, "agent")
        if name in self._routes:
            raise AddressInUse(name, self.name)
        spawner = Spawner(self, name, agent_factory, key_extractor, exposed_as, max_idle_workers)
        self._routes[name] = SpawnerCell(self, name, spawner, internal=True, exposed_as=exposed_as)
        self._agents[name] = spawner

    async def stop_worker(self, name: str) -> None:
        """Stop the worker or agent at ``name``; its queued requests fail with WorkerStopped."""
        spawner = self._agents.pop(name, None)
        if spawner is not None:
            await spawner.stop()
        cell = self._routes.pop(name, None)
        if cell is not None and hasattr(cell, "stop"):
            await cell.stop()

    async def list_workers(self) -> list[dict[str, Any]]:
        """Agent conversation workers ``{"name": key, "started_by_agent": agent}``, then user workers
        ``{"name": name}``; internal workers are not listed."""
        listed: list[dict[str, Any]] = [
            {"name": key, "started_by_agent": agent} for agent, s in self._agents.items() for key in s.workers
        ]
        listed.extend({"name": name} for name, cell in self._worker_cells() if not cell.internal)
        return listed

    async def list_agents(self) -> list[dict[str, Any]]:
        """``[{"name", "is_remote": False, "description", "workers": [keys]}]``."""
        return [spawner.describe() for spawner in self._agents.values()]

    def get_worker(self, name: str) -> Worker | None:
        """The worker object at ``name`` on this node, if any."""
        cell = self._routes.get(name)
        return cell.worker if type(cell) is WorkerCell and name not in self._agents else None

    # ---- messages -----------------------------------------------------------------------------

    def deliver(self, address: str, message: str, reply_to: ReplyTo | None) -> None:
        """Hand ``message`` to the local cell at ``address``. Raises WorkerNotFound, WorkerStopped."""
        cell = self._routes.get(address)
        if cell is None:
            raise WorkerNotFound(address, self.name)
        cell.deliver(message, reply_to)

    def endpoint(self, address: str) -> Any:
        """The local cell at ``address`` (worker or mailbox), or None."""
        return self._routes.get(address)

    def _is_remote(self, node: str | None) -> bool:
        return node is not None and node != self.name and self.transport.is_remote

    async def _send(self, address: str, message: str, node: str | None, reply_to: MailboxCell | None) -> None:
        if not isinstance(message, str):
            raise TypeError(f"message must be str, not {type(message).__name__}: encode it (e.g. json.dumps)")
        if self._is_remote(node):
            await self.transport.send(node, address, message, reply_to)  # type: ignore[arg-type]
        else:
            self.deliver(address, message, reply_to)

    async def send_and_receive(self, address: str, message: str, node: str | None = None, policy: Any = None,
                               timeout: float | None = None) -> str:
        """Send ``message`` to ``address`` (on ``node`` if given) and return the first reply.

        ``timeout`` is in seconds (float); None waits until a reply, an error, or the worker or its
        node going away. Raises WorkerNotFound, WorkerError (the worker raised), WorkerStopped,
        NodeNotFound, NodeLeft or DeliveryTimeout. Cancelling the call leaves the message delivered.
        """
        if self._is_remote(node):
            if not isinstance(message, str):
                raise TypeError(f"message must be str, not {type(message).__name__}")
            return await self.transport.request(node, address, message, timeout)  # type: ignore[arg-type]
        cell = self._routes.get(address)
        if cell is None:
            raise WorkerNotFound(address, self.name)
        loop = asyncio.get_running_loop()
        future: asyncio.Future[str] = loop.create_future()
        cell.deliver(message, FutureReply(future))
        if timeout is None:
            return await future
        # A timer that fails the future, not asyncio.timeout(): that costs a context manager, a task
        # lookup and a cancellation per call, and made a call with timeout= 0.4x the one without.
        timer = loop.call_later(timeout, expire, future, DeliveryTimeout, address, timeout)
        try:
            return await future
        finally:
            timer.cancel()

    async def send(self, address: str, message: str, node: str | None = None, policy: Any = None) -> NodeMailbox:
        """Send ``message`` from a new mailbox and return it: ``await mailbox.receive()`` each reply."""
        mailbox = await self.create_mailbox("message_" + secrets.token_hex(16))
        await mailbox.send(address, message, node=node)
        return mailbox

    async def create_mailbox(self, address: str, policy: Any = None) -> NodeMailbox:
        """A mailbox bound to ``address`` on this node (released when the mailbox is garbage-collected)."""
        validate_address(address, "mailbox")
        if address in self._routes:
            raise AddressInUse(address, self.name)
        cell = MailboxCell(address)
        self._routes[address] = cell
        return NodeMailbox(self, cell)

    def _release_address(self, address: str, cell: Any) -> None:
        if self._routes.get(address) is cell:
            del self._routes[address]

    # ---- the fabric ---------------------------------------------------------------------------

    async def list_nodes_priv(self) -> list[str]:
        """Nodes of this node's cluster as upstream names them (``forward_to_<node>``)."""
        return ["forward_to_" + name for name in await self.transport.list_nodes()]

    async def list_nodes(self) -> list[str]:
        """Names of the nodes in this node's cluster fabric (empty for a standalone node)."""
        return await self.transport.list_nodes()

    async def list_cluster_nodes(self) -> list[str]:
        """Names of the nodes reachable from every zone: the ones that opted in (``allow="cluster"``),
        for a node of a zone; every node, for a node with the cluster's own credentials."""
        lister = getattr(self.transport, "list_cluster_nodes", None)
        return await (lister() if lister is not None else self.transport.list_nodes())

    # ---- MCP (clients are given to Node.start(mcp_clients=[...])) ------------------------------

    def _mcp_client(self, server_name: str) -> Any:
        client = self.mcp_clients.get(server_name)
        if client is None:
            known = ", ".join(sorted(self.mcp_clients)) or "none"
            raise WorkerNotFound(f"mcp:{server_name}", self.name) from ValueError(
                f"no MCP client named {server_name!r} (configured: {known})")
        return client

    async def call_mcp_tool(self, server_name: str, tool_name: str, tool_args_as_json: str) -> str:
        """Call ``tool_name`` on MCP server ``server_name``; returns the CallToolResult as JSON."""
        return str(await self._mcp_client(server_name).call_tool_json(tool_name, tool_args_as_json))

    async def mcp_tool_spec(self, server_name: str, tool_name: str) -> str:
        """The tool's MCP spec as JSON, or the JSON string ``"Error: Tool not found s/t"``."""
        return str(await self._mcp_client(server_name).tool_spec_json(tool_name))

    async def mcp_tools(self) -> str:
        """JSON list of the tools of every configured MCP server."""
        import json

        tools: list[Any] = []
        for client in self.mcp_clients.values():
            tools.extend(json.loads(await client.list_tools_json()))
        return json.dumps(tools)

    async def list_tools(self) -> list[dict[str, Any]]:
        """Agents started with ``exposed_as``, as tools: ``[{"name", "description", "input_schema"}]``."""
        return [
            {"name": name, "description": spawner.exposed_as,
             "input_schema": {"type": "object", "properties": {"prompt": {"type": "string"}},
                              "required": ["prompt"]}}
            for name, spawner in self._agents.items() if spawner.exposed_as
        ]

    def __repr__(self) -> str:
        return f"<Node {self.name!r}>"
