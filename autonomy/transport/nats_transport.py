"""The NATS fabric between the nodes of a cluster (``AUTONOMY_FABRIC_URL`` + ``AUTONOMY_FABRIC_CREDENTIALS``).

One NATS connection per node, logged in as the cluster's user in the cluster's account (so other
clusters on the same server can neither reach nor see this one). Subjects and frames are in
:mod:`autonomy.transport.frames`; who is present in :mod:`autonomy.transport.ring_presence` (the default)
or :mod:`autonomy.transport.presence` (``AUTONOMY_FABRIC_PRESENCE=heartbeat``), on :mod:`autonomy.transport.roster`.

Semantics:

* ``request`` (``send_and_receive``): the first reply wins; an error at the target (no such worker,
  the worker raised, it was stopped) raises the same :mod:`autonomy.errors` class here; no node of
  that name -> :class:`NodeNotFound`; the node leaves while we wait -> :class:`NodeLeft`; no reply
  in ``timeout`` seconds -> :class:`DeliveryTimeout`. Losing the connection to the fabric fails the
  pending requests with :class:`FabricError` (their replies may have been lost).
* Each start of a node is a new **incarnation** (see ``presence``). A request waits on the
  incarnation of its target known when it was sent: when that incarnation is gone (killed, or
  replaced by a restart under the same name) it fails with :class:`NodeLeft`, within about a second
  (the targets of waiting requests are pinged every 0.5 s). Request tokens carry the caller's own
  incarnation, so a late reply to a request of a previous run of the caller is never taken for a
  request of this one.
* ``send`` from a mailbox: every reply (a worker may reply many times) arrives in the mailbox, in
  order; if the target node leaves, the mailbox receives :class:`NodeLeft`.
* A message larger than the server's ``max_payload`` raises :class:`MessageTooLarge` before sending.
* With a zone's credentials (``"zone"`` in the file) the node uses its zone's subjects; a node of
  another zone is reached only if it opted in (``allow="cluster"``): otherwise :class:`AccessDenied`
  at once, naming why. The node controller of an opted-in node answers other zones with
  :class:`AccessDenied` before reading the message (no worker shipping across zones). A subject the
  server refuses (permissions violation) fails the pending requests to it with :class:`AccessDenied`.
"""

from __future__ import annotations

import asyncio
import itertools
import logging
import secrets
import ssl
import weakref
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit, urlunsplit

import nats
import nats.errors

import autonomy.tracing as tracing
from autonomy.errors import (
    AccessDenied,
    AutonomyError,
    DeliveryError,
    DeliveryTimeout,
    FabricError,
    MessageTooLarge,
    NodeLeft,
    NodeNotFound,
)
from autonomy.transport.base import FabricConfig
from autonomy.transport.credentials import NodeCredentials, load_node_credentials
from autonomy.transport.frames import ERROR_HEADER, Subjects, decode_error, encode_error
from autonomy.transport.host import Host, ReplyMailbox
from autonomy.transport.presence import heartbeat_interval_from_env
from autonomy.transport.presence_choice import presence_from_env
from autonomy.transport.roster import Roster
from autonomy.transport.timers import expire

if TYPE_CHECKING:
    from nats.aio.client import Client
    from nats.aio.msg import Msg

__all__ = ["NatsTransport"]

logger = logging.getLogger("autonomy.transport")
_ERROR_HEADERS = {ERROR_HEADER: "1"}


class _QuietTlsEof(logging.Filter):
    """asyncio warns "returning true from eof_received() has no effect when using ssl" each time a
    nats-py TLS connection closes: harmless (nats-py's protocol is shared with plain TCP), and noise
    in every node's log at stop."""

    def filter(self, record: logging.LogRecord) -> bool:
        return "eof_received()" not in record.getMessage()


logging.getLogger("asyncio").addFilter(_QuietTlsEof())


def _safe_url(url: str) -> str:
    """``url`` without any user:password part (never log or raise a secret)."""
    parts = urlsplit(url if "://" in url else f"nats://{url}")
    host = parts.hostname or ""
    netloc = f"{host}:{parts.port}" if parts.port else host
    return urlunsplit((parts.scheme, netloc, parts.path, "", ""))


class _RemoteReply:
    """Where a worker's replies go when the message came from another node: its reply subject."""

    __slots__ = ("_transport", "_subject")

    def __init__(self, transport: NatsTransport, subject: str) -> None:
        self._transport = transport
        self._subject = subject

    async def reply(self, message: str) -> None:
        data = message.encode()
        transport = self._transport
        if len(data) > transport._max_payload:
            raise MessageTooLarge(len(data), transport._max_payload)
        await transport._nc.publish(self._subject, data)  # type: ignore[union-attr]

    async def fail(self, error: Exception) -> None:
        await self._transport._publish_error(self._subject, error)


class NatsTransport:
    """A node's link to its cluster's NATS fabric (see the module docstring)."""

    is_remote = True

    def __init__(self, config: FabricConfig, *, heartbeat_interval: float | None = None,
                 connect_timeout: float = 5.0, presence: type[Roster] | None = None) -> None:
        if not config.urls:
            raise FabricError("AUTONOMY_FABRIC_URL names no server: give one or more NATS URLs, comma separated")
        self.config = config
        self.heartbeat_interval = heartbeat_interval or heartbeat_interval_from_env()
        self.connect_timeout = connect_timeout
        # the watch ring unless AUTONOMY_FABRIC_PRESENCE=heartbeat (docs/fabric.md, "Discovery and liveness")
        self._presence_class = presence or presence_from_env()
        self.credentials: NodeCredentials | None = None
        self._nc: Client | None = None
        self._node: Host | None = None
        self._subjects: Subjects | None = None
        self._presence: Roster | None = None
        self._presence_task: asyncio.Task[None] | None = None
        self._cluster_presence: Roster | None = None  # opted-in nodes of every zone (zone nodes only)
        self._cluster_presence_task: asyncio.Task[None] | None = None
        self._max_payload = 1024 * 1024
        self._tokens = itertools.count(1)
        self.incarnation = secrets.token_hex(6)  # this run of the node (see the module docstring)
        self._token_prefix = f"~{self.incarnation}-"
        # token -> (future, node name, its incarnation when sent) for requests waiting on their first reply
        self._pending: dict[str, tuple[asyncio.Future[str], str, str | None]] = {}
        # node name -> mailboxes that sent to it (they learn of the node leaving)
        self._watchers: dict[str, weakref.WeakSet[ReplyMailbox]] = {}
        self._stopping = False

    @property
    def urls(self) -> list[str]:
        return [_safe_url(u) for u in self.config.urls]

    # ---- life cycle -------------------------------------------------------------------------------

    async def start(self, node: Host) -> None:
        """Connect, subscribe, and learn who is present; returns when the node can send and be reached."""
        if not self.config.credentials:
            raise FabricError("AUTONOMY_FABRIC_URL is set but AUTONOMY_FABRIC_CREDENTIALS is not: give the "
                              "path of the node's credentials file (ClusterCredentials.write_node_credentials)")
        creds = self.credentials = load_node_credentials(self.config.credentials)
        if node.cluster and node.cluster != creds.cluster:
            raise FabricError(f"CLUSTER={node.cluster!r} but the fabric credentials are for cluster "
                              f"{creds.cluster!r}: give this node its own cluster's credentials")
        if creds.zone and node.zone and node.zone != creds.zone:
            raise FabricError(f"ZONE={node.zone!r} but the fabric credentials are for zone {creds.zone!r}: "
                              "give this node its own zone's credentials")
        self._node = node
        subjects = self._subjects = Subjects(creds.cluster, node.name, creds.zone)
        self._nc = await self._connect(creds)
        self._max_payload = self._nc.max_payload
        try:
            await self._nc.subscribe(subjects.mine, cb=self._on_message, pending_msgs_limit=1_000_000,
                                     pending_bytes_limit=-1)
            await self._nc.subscribe(subjects.reply_prefix + ">", cb=self._on_reply,
                                     pending_msgs_limit=1_000_000, pending_bytes_limit=-1)
            self._presence = self._presence_class(self._nc, subjects, self._node_left, interval=self.heartbeat_interval,
                                                  incarnation=self.incarnation, watched=self._watched_in_zone)
            await self._presence.start()
            if subjects.zone:
                scope = subjects.cluster_scope()
                opted = bool(getattr(node, "cluster_access", False))
                if opted:
                    await self._nc.subscribe(scope.mine, cb=self._on_cluster_message, pending_msgs_limit=1_000_000,
                                             pending_bytes_limit=-1)
                self._cluster_presence = self._presence_class(
                    self._nc, scope, self._node_left, interval=self.heartbeat_interval, incarnation=self.incarnation,
                    announce=opted, watched=self._watched_elsewhere)
                await self._cluster_presence.start()
            # nats-py annotates an int; any seconds work (it is handed to asyncio.wait_for)
            await self._nc.flush(timeout=self.connect_timeout)  # type: ignore[arg-type]
        except BaseException:
            await self._nc.close()
            raise
        self._presence_task = node.spawn(self._presence.run(), name="fabric presence")
        if self._cluster_presence is not None:
            self._cluster_presence_task = node.spawn(self._cluster_presence.run(), name="fabric cluster presence")
        logger.info("node %s joined the fabric of cluster %s at %s", node.name, creds.cluster,
                    ", ".join(self.urls))

    async def _connect(self, creds: NodeCredentials) -> Client:
        tls: ssl.SSLContext | None = None
        if creds.ca_pem:
            tls = ssl.create_default_context(cadata=creds.ca_pem)
        elif any(u.startswith("tls://") for u in self.config.urls):
            tls = ssl.create_default_context()
        where = ", ".join(self.urls)

        errors: list[BaseException] = []

        async def on_error(exc: Exception) -> None:
            if "permissions violation" in str(exc).lower():
                self._refused(str(exc))
                return
            if connected and not self._stopping:
                logger.warning("fabric connection error at %s: %s", where, exc)
            elif not connected:
                errors.append(exc)

        async def on_disconnected() -> None:
            if not self._stopping:
                logger.warning("lost the connection to the fabric at %s; reconnecting", where)
                self._fail_pending(lambda _node: FabricError(
                    f"Lost the connection to the fabric at {where} while waiting for a reply"))

        async def on_reconnected() -> None:
            logger.info("reconnected to the fabric at %s", where)
            for presence in (self._presence, self._cluster_presence):
                if presence is not None and not self._stopping:
                    await presence.rejoin()

        connected = False
        try:
            # Each server is tried twice at start (nats-py would otherwise retry a refused login
            # forever, and 0 means "no limit" to it); once connected, reconnecting never gives up.
            nc = await nats.connect(
                servers=list(self.config.urls), user=creds.user, password=creds.password, tls=tls,
                name=self._subjects.me if self._subjects else None, connect_timeout=self.connect_timeout,
                allow_reconnect=True, max_reconnect_attempts=1, reconnect_time_wait=0.1,
                error_cb=on_error, disconnected_cb=on_disconnected, reconnected_cb=on_reconnected,
                skip_subject_validation=True, pending_size=64 * 1024 * 1024,
                inbox_prefix=self._subjects.inbox if self._subjects else "_INBOX",
            )
        except (nats.errors.Error, OSError, TimeoutError, ssl.SSLError) as exc:
            cause = errors[-1] if errors and isinstance(exc, nats.errors.NoServersError) else exc
            reason = str(cause) or type(cause).__name__
            if "Authorization" in reason:
                reason = f"the server refused user {creds.user!r} ({reason}): check the credentials file"
            raise FabricError(f"Cannot join the fabric at {where}: {reason}") from exc
        connected = True
        nc.options["max_reconnect_attempts"] = -1
        nc.options["reconnect_time_wait"] = 1
        return nc

    async def stop(self) -> None:
        """Leave: tell the others, fail this node's pending requests, flush and close the connection."""
        if self._nc is None or self._stopping:
            return
        self._stopping = True
        for task in (self._presence_task, self._cluster_presence_task):
            if task is not None:
                task.cancel()
        for presence in (self._presence, self._cluster_presence):
            if presence is not None:
                await presence.leave()
        me = self._node.name if self._node else "?"
        self._fail_pending(lambda _node: DeliveryError(f"Node {me!r} left the fabric before the reply came"))
        try:
            await self._nc.flush(timeout=2)
        except (nats.errors.Error, TimeoutError):
            pass
        await self._nc.close()

    # ---- outbound ---------------------------------------------------------------------------------

    def _outbound(self, node_name: str, address: str, message: str) -> tuple[Any, str, bytes]:
        """The connection, subject and frame for a message to ``address`` on ``node_name``; refuses
        to send when not connected or when the frame is larger than the fabric accepts."""
        nc = self._nc
        if nc is None or self._stopping:
            raise FabricError("This node is not connected to the fabric (not started, or stopped)")
        payload = f"{address}\n{message}".encode()
        if len(payload) > self._max_payload:
            raise MessageTooLarge(len(payload), self._max_payload)
        subjects = self._subjects
        if not subjects.in_my_zone(node_name):  # type: ignore[union-attr]
            cluster = self._cluster_presence
            if cluster is None or not cluster.is_present(node_name):
                raise AccessDenied(node_name, f"it is not in zone {subjects.zone!r} and did not opt in to "  # type: ignore[union-attr]
                                   "cluster-wide access (Node.start(allow='cluster')); the zone is the trust "
                                   "boundary")
        return nc, subjects.node(node_name), payload  # type: ignore[union-attr]

    async def request(self, node_name: str, address: str, message: str, timeout: float | None) -> str:
        nc, subject, payload = self._outbound(node_name, address, message)
        token = f"{self._token_prefix}{next(self._tokens)}"
        loop = asyncio.get_running_loop()
        future: asyncio.Future[str] = loop.create_future()
        presence = self._presence
        self._pending[token] = (future, node_name, presence.incarnation_of(node_name) if presence else None)
        # a loop timer, not asyncio.timeout(): measurably cheaper per request (autonomy/transport/timers.py)
        timer = None if timeout is None else loop.call_later(timeout, expire, future, DeliveryTimeout, address,
                                                             timeout, node_name)
        try:
            await nc.publish(subject, payload, reply=self._subjects.reply_prefix + token,  # type: ignore[union-attr]
                             headers=tracing.inject() if tracing.ON else None)
            return await future
        except nats.errors.Error as exc:
            raise FabricError(f"Cannot send to node {node_name!r}: {exc}") from exc
        finally:
            if timer is not None:
                timer.cancel()
            self._pending.pop(token, None)

    async def send(self, node_name: str, address: str, message: str, reply_to: ReplyMailbox | None) -> None:
        nc, subject, payload = self._outbound(node_name, address, message)
        headers = tracing.inject() if tracing.ON else None  # the trace goes on at the receiving worker
        try:
            if reply_to is None:
                await nc.publish(subject, payload, headers=headers)
                return
            watchers = self._watchers.get(node_name)
            if watchers is None:
                watchers = self._watchers[node_name] = weakref.WeakSet()
            watchers.add(reply_to)
            reply = f"{self._subjects.reply_prefix}{reply_to.address}.{node_name}"  # type: ignore[union-attr]
            await nc.publish(subject, payload, reply=reply, headers=headers)
        except nats.errors.Error as exc:
            raise FabricError(f"Cannot send to node {node_name!r}: {exc}") from exc

    async def list_nodes(self) -> list[str]:
        """This node and the others it may reach in the cluster's fabric (its zone's and the opted-in
        ones, for a node of a zone), sorted (no network round trip)."""
        if self._presence is None or self._node is None:
            return []
        cluster = self._cluster_presence.names if self._cluster_presence is not None else []
        return sorted({self._node.name, *self._presence.names, *cluster})

    async def list_cluster_nodes(self) -> list[str]:
        """The nodes that opted in to cluster-wide access (every node, with the cluster's own credentials)."""
        if self._cluster_presence is None or self._node is None:
            return await self.list_nodes()
        names = set(self._cluster_presence.names)
        if getattr(self._node, "cluster_access", False):
            names.add(self._node.name)
        return sorted(names)

    # ---- inbound ----------------------------------------------------------------------------------

    async def _on_message(self, msg: Msg) -> None:
        data = msg.data
        reply = msg.reply
        cut = data.find(b"\n")
        if cut < 0:  # a ping (presence probe): answered with this node's incarnation
            if reply:
                await self._nc.publish(reply, self.incarnation.encode())  # type: ignore[union-attr]
            return
        address = data[:cut].decode()
        headers = msg.headers
        try:
            with tracing.attached(tracing.extract(headers) if headers else None):  # the cell captures it
                self._node.deliver(address, data[cut + 1:].decode(),  # type: ignore[union-attr]
                                   _RemoteReply(self, reply) if reply else None)
        except AutonomyError as exc:
            if reply:
                await self._publish_error(reply, exc)
            else:
                logger.warning("dropped a message from the fabric to %r: %s", address, exc)

    async def _on_cluster_message(self, msg: Msg) -> None:
        """A message from another zone to this opted-in node: never to a zone-only address."""
        cut = msg.data.find(b"\n")
        if cut >= 0 and msg.data[:cut].decode(errors="replace") in getattr(self._node, "zone_only", ()):
            if msg.reply:
                me = self._node.name  # type: ignore[union-attr]
                await self._publish_error(msg.reply, AccessDenied(me, (
                    f"{msg.data[:cut].decode(errors='replace')!r} of node {me!r} answers only nodes of its own zone "
                    f"{self._subjects.zone!r} (shipping workers or starting agents across zones is refused)")))  # type: ignore[union-attr]
            return
        await self._on_message(msg)

    def _refused(self, error: str) -> None:
        """The server refused a publish or subscription: fail the requests waiting on that subject."""
        logger.warning("the fabric refused: %s", error)
        subject = error.rsplit('"', 2)[-2] if error.count('"') >= 2 else ""
        reason = f"the fabric refused it ({error}); the zone is the trust boundary"
        self._fail_pending(lambda node: AccessDenied(node, reason) if self._subjects is not None
                           and self._subjects.node(node) == subject else None)

    async def _on_reply(self, msg: Msg) -> None:
        token = msg.subject[len(self._subjects.reply_prefix):]  # type: ignore[union-attr]
        headers = msg.headers
        if token[0] == "~":
            entry = self._pending.pop(token, None)
            if entry is None:
                return  # a later reply to a request: the first one won
            future, node_name, _ = entry
            if future.done():
                return
            if headers:
                future.set_exception(self._error_from(headers, msg.data, node_name))
            else:
                future.set_result(msg.data.decode())
            return
        address, _, node_name = token.partition(".")
        cell = self._node.endpoint(address)  # type: ignore[union-attr]
        if cell is None:
            return  # the mailbox was closed: its replies are dropped
        if headers:
            error = self._error_from(headers, msg.data, node_name)
            fail = getattr(cell, "fail", None)
            if fail is not None:
                await fail(error)
        else:
            try:
                cell.deliver(msg.data.decode(), None)
            except AutonomyError as exc:  # a worker at that address, stopped
                logger.debug("dropped a reply to %r: %s", address, exc)

    def _error_from(self, headers: dict[str, str], data: bytes, node_name: str) -> AutonomyError:
        if headers.get("Status") == "503":
            if self._presence is not None and self._presence.is_present(node_name):
                self._presence.forget(node_name, "it no longer listens")
            return NodeNotFound(node_name)
        if ERROR_HEADER in headers:
            return decode_error(data)
        return FabricError(f"Unexpected status from the fabric for node {node_name!r}: {headers}")

    async def _publish_error(self, subject: str, error: BaseException) -> None:
        try:
            await self._nc.publish(subject, encode_error(error), headers=_ERROR_HEADERS)  # type: ignore[union-attr]
        except nats.errors.Error as exc:
            logger.warning("could not send an error reply (%s): %s", error, exc)

    # ---- nodes leaving ----------------------------------------------------------------------------

    def _watched_nodes(self) -> set[str]:
        """The nodes that requests or mailboxes of this node wait on (presence pings them often)."""
        names = {node_name for _, node_name, _ in self._pending.values()}
        names.update(name for name, cells in self._watchers.items() if len(cells))
        return names

    def _watched_in_zone(self) -> set[str]:
        """The watched nodes of this node's zone (every one, for a node without a zone): its zone's presence
        pings them; the cluster presence pings the others (each scope on its own subjects)."""
        subjects = self._subjects
        return {n for n in self._watched_nodes() if subjects is None or subjects.in_my_zone(n)}

    def _watched_elsewhere(self) -> set[str]:
        subjects = self._subjects
        return {n for n in self._watched_nodes() if subjects is not None and not subjects.in_my_zone(n)}

    def _node_left(self, name: str, incarnation: str | None = None) -> None:
        """Fail what waits on ``name``'s gone ``incarnation``: pending requests sent to it (or sent before
        any incarnation of ``name`` was known) and the mailboxes that sent to ``name``."""
        for token, (future, node_name, sent_to) in list(self._pending.items()):
            if node_name == name and (incarnation is None or sent_to in (incarnation, None)):
                self._pending.pop(token, None)
                if not future.done():
                    future.set_exception(NodeLeft(name))
        for cell in list(self._watchers.pop(name, ())):
            cell.fail_nowait(NodeLeft(name))

    def _fail_pending(self, error_for: Any) -> None:
        for token, (future, node_name, _) in list(self._pending.items()):
            error = error_for(node_name)
            if error is not None and not future.done():
                future.set_exception(error)
                self._pending.pop(token, None)
