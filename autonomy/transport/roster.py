"""What every presence mechanism shares: the roster of one scope, incarnations, pings, leaving.

:class:`Roster` is the one implementation of (see docs/fabric.md, "Discovery and liveness"):

* **the roster**: the other nodes known to be present in one scope (a node's zone, or the opted-in
  nodes of its cluster), read locally by ``list_nodes()`` (no round trip);
* **incarnations**: each start of a node is a new incarnation (a random id). Every message that
  proves a node alive may carry it (:meth:`Roster.saw`); a node heard with another incarnation than
  the one known was restarted, and the old incarnation is declared gone at once
  (``on_left(name, old)``), before the new one is known. A departure about an incarnation that is
  no longer the known one (a late ``bye``, a ping sent before a restart) is ignored;
* **pings**: a request with an empty payload to a node's subject, answered by its transport with
  its incarnation. Only NATS's "no responders" (its connection is gone) declares the node gone; a
  ping that times out (a slow or frozen node that still holds its subscription) declares nothing;
* **waiting callers**: the nodes that callers wait on (``watched()``) are pinged every
  ``probe_interval`` (0.5 s), so a caller learns of a killed node within about a second;
* **leaving**: ``bye <incarnation>`` on the node's presence subject; probes are cancelled;
* **what nodes say** on their presence subjects, parsed here for both mechanisms (a cluster running
  both, e.g. during an upgrade, still lists every node): ``hello``, ``bye``, ``gone``, heartbeats.

Subclasses say how the roster is learned and kept current: :class:`~autonomy.transport.presence.Presence`
by broadcast heartbeats, :class:`~autonomy.transport.ring_presence.RingPresence` by a watch ring.
"""

from __future__ import annotations

import asyncio
import logging
import os
from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING, Any

import nats.errors

from autonomy.errors import FabricError

if TYPE_CHECKING:
    from nats.aio.client import Client
    from nats.aio.msg import Msg

    from autonomy.transport.frames import ClusterScope, Subjects

__all__ = ["Roster", "BYE", "GONE", "HELLO"]

logger = logging.getLogger("autonomy.transport")
BYE = b"bye"
GONE = b"gone"
HELLO = b"hello"


class Roster:
    """The roster of one node's scope, with incarnations (see the module docstring). With
    ``announce=False`` the node only listens: it learns the roster but is not part of it."""

    def __init__(self, nc: Client, subjects: Subjects | ClusterScope, on_left: Callable[[str, str | None], Any],
                 interval: float = 1.0, missed: int = 3, join_wait: float = 0.5, incarnation: str | None = None,
                 watched: Callable[[], Iterable[str]] | None = None, probe_interval: float = 0.5,
                 announce: bool = True) -> None:
        self._nc = nc
        self.announce = announce
        self._subjects = subjects
        self._on_left = on_left
        self.interval = interval
        self.missed = missed
        self.join_wait = join_wait
        self._seen: dict[str, float] = {}  # node -> when it was last heard of (loop time)
        self._incarnations: dict[str, str] = {}  # node -> the incarnation last heard of
        self._instance = incarnation or os.urandom(6).hex()
        self._watched = watched or (lambda: ())
        self.probe_interval = min(probe_interval, interval)
        self._probing: set[str] = set()
        self._probes: set[asyncio.Task[Any]] = set()
        self._subs: list[Any] = []
        self._joined = False
        self.pings_sent = 0
        self._loop = asyncio.get_running_loop()

    # ---- the roster -------------------------------------------------------------------------------

    @property
    def names(self) -> list[str]:
        """The other nodes known to be present (sorted)."""
        return sorted(self._seen)

    def is_present(self, name: str) -> bool:
        return name in self._seen

    @property
    def incarnation(self) -> str:
        """This node's incarnation id."""
        return self._instance

    def incarnation_of(self, name: str) -> str | None:
        """The incarnation of node ``name`` last heard of, if any."""
        return self._incarnations.get(name)

    def saw(self, name: str, incarnation: str | None = None) -> None:
        """Evidence that ``name`` is alive (a heartbeat, a hello, a reply), of ``incarnation`` when known."""
        if name == self._subjects.me:
            return
        if incarnation:
            known = self._incarnations.get(name)
            if known is not None and known != incarnation:
                logger.info("node %s restarted (incarnation %s, was %s)", name, incarnation, known)
                self._seen.pop(name, None)
                self._incarnations[name] = incarnation
                self._on_left(name, known)
            self._incarnations[name] = incarnation
        if name not in self._seen:
            logger.debug("node %s joined the fabric", name)
        self._seen[name] = self._loop.time()

    def forget(self, name: str, why: str, incarnation: str | None = None) -> bool:
        """Drop ``name`` (of ``incarnation``, if given: news about an older incarnation is ignored) and
        fail what waits on it; True if it was known."""
        known = self._incarnations.get(name)
        if incarnation and known is not None and known != incarnation:
            return False
        present = self._seen.pop(name, None) is not None
        self._incarnations.pop(name, None)
        if not present and known is None:
            return False
        logger.info("node %s left the fabric (%s)", name, why)
        self._on_left(name, known)
        return True

    def _twin(self) -> FabricError:
        return FabricError(f"A node named {self._subjects.me!r} is already in this cluster's fabric: node names "
                           "must be unique in a cluster (set NODE to another name)")

    # ---- pings ------------------------------------------------------------------------------------

    async def ping(self, name: str) -> bool:
        """Ping ``name``; False only when NATS says nobody listens on its subject (it is then declared
        gone, see :meth:`found_gone`). An answer is evidence of life, with the node's incarnation."""
        known = self._incarnations.get(name)
        self.pings_sent += 1
        try:
            answer = await self._nc.request(self._subjects.node(name), b"", timeout=max(self.interval, 1.0))
        except nats.errors.NoRespondersError:
            await self.found_gone(name, known)
            return False
        except nats.errors.TimeoutError:
            logger.warning("node %s is slow to answer but still connected", name)
        except nats.errors.ConnectionClosedError:
            pass
        else:
            self.saw(name, answer.data.decode(errors="replace") or None)
        return True

    async def found_gone(self, name: str, incarnation: str | None) -> bool:
        """A ping of ``name`` (of ``incarnation``) found nobody listening: drop it."""
        return self.forget(name, "its connection to the fabric is gone", incarnation)

    def probe_soon(self, name: str) -> None:
        """Ping ``name`` in the background, unless a ping of it is already on its way."""
        if name in self._probing or name == self._subjects.me:
            return
        self._probing.add(name)
        self._track(self._probe(name))

    async def _probe(self, name: str) -> None:
        try:
            await self.ping(name)
        finally:
            self._probing.discard(name)

    def _track(self, coroutine: Any) -> asyncio.Task[Any]:
        task = self._loop.create_task(coroutine)
        self._probes.add(task)
        task.add_done_callback(self._probe_done)
        return task

    def _probe_done(self, task: asyncio.Task[Any]) -> None:
        self._probes.discard(task)
        if not task.cancelled() and task.exception() is not None:
            logger.error("checking on a node of the fabric failed", exc_info=task.exception())

    # ---- life cycle -------------------------------------------------------------------------------

    async def start(self) -> None:
        """Subscribe to the scope's presence subjects, ask who is there (:meth:`_announce`), then answer
        others' questions; returns when the roster is known. Asking before answering: with nobody else
        there, "no responders" comes back at once. Two nodes joining at the same instant miss each other's
        question: what the mechanism does once joined (:meth:`_introduce`: a hello, or its first
        heartbeats within ``interval``) introduces them."""
        s = self._subjects
        self._subs.append(await self._nc.subscribe(s.presence_prefix + "*", cb=self._on_presence))
        await self._announce()
        if self.announce:
            self._subs.append(await self._nc.subscribe(s.discover, cb=self._on_discover))
        self._joined = True
        await self._introduce()

    async def _announce(self) -> None:
        """Ask ``discover`` who is there and wait for the answers (the mechanism's own exchange)."""
        raise NotImplementedError

    async def _on_discover(self, msg: Msg) -> None:
        """Answer another node's ``discover`` question."""
        raise NotImplementedError

    async def _introduce(self) -> None:
        """Once joined, make this node known (nothing by default: heartbeats do it at their pace)."""

    async def rejoin(self) -> None:
        """Introduce this node again after a reconnection (nothing to do unless the mechanism needs it)."""

    async def run(self) -> None:
        """Every ``interval``, the mechanism's round (:meth:`_round`); every ``probe_interval``, ping the
        nodes callers wait on and the ones the mechanism suspects. Until cancelled; failures are logged."""
        next_round = 0.0
        while True:
            try:
                now = self._loop.time()
                if now >= next_round:
                    next_round = now + self.interval
                    await self._round()
                for name in {*self._watched(), *self._suspects(now)}:
                    self.probe_soon(name)
            except asyncio.CancelledError:
                raise
            except Exception:
                logger.exception("fabric presence failed; retrying in %g s", self.probe_interval)
            await asyncio.sleep(self.probe_interval)

    async def _round(self) -> None:
        """What the mechanism does every ``interval``."""

    def _suspects(self, now: float) -> Iterable[str]:
        """Nodes to ping now besides the watched ones."""
        return ()

    async def leave(self) -> None:
        """Tell the others this node is leaving (best effort: the connection may already be gone)."""
        for task in list(self._probes):
            task.cancel()
        for sub in self._subs:
            try:
                await sub.unsubscribe()
            except nats.errors.Error:
                pass
        if not self._joined or not self.announce:
            return  # e.g. refused as a duplicate name: a "bye" would drop the node that has the name
        try:
            await self._nc.publish(self._subjects.presence_prefix + self._subjects.me,
                                   BYE + b" " + self._instance.encode())
        except nats.errors.Error:
            pass

    async def _on_presence(self, msg: Msg) -> None:
        """What a node tells its scope on its presence subject, whichever mechanism it runs (so a cluster
        whose nodes run both, e.g. during an upgrade, still lists them all): ``hello <inc>``, ``bye <inc>``,
        ``gone <other> <inc>`` (see ring_presence), or a heartbeat (``<inc>``)."""
        sender = msg.subject[len(self._subjects.presence_prefix):]
        data = msg.data
        me = self._subjects.me
        if data.startswith(GONE):
            name, _, incarnation = data[len(GONE) + 1:].decode(errors="replace").partition(" ")
            if name == me:
                if self._joined and incarnation in ("", self._instance):
                    logger.warning("the fabric was told this node is gone; saying hello again")
                    await self.rejoin()
            elif name in self._seen and incarnation in ("", self._incarnations.get(name, incarnation)):
                self.probe_soon(name)  # see for ourselves: only "no responders" drops it
            return
        if data.startswith(HELLO):
            incarnation = data[len(HELLO) + 1:].decode(errors="replace")
            if sender == me and incarnation != self._instance:
                logger.error("another node named %s joined at the same instant as this one: node names must be "
                             "unique in a cluster (set NODE to another name)", sender)
        elif data.startswith(BYE):
            if sender != me:
                self.forget(sender, "it stopped", data[len(BYE) + 1:].decode(errors="replace") or None)
            return
        else:
            incarnation = data.decode(errors="replace")  # a heartbeat
        if sender != me:
            self.saw(sender, incarnation or None)
