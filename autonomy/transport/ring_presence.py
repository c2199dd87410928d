"""Presence whose cost per node stays constant as the cluster grows: a watch ring, no heartbeats.
The fabric's default (``AUTONOMY_FABRIC_PRESENCE=ring``).

Design (decided here, see docs/fabric.md, "Discovery and liveness"; the roster, incarnations, pings
of waited-on nodes and leaving are :class:`~autonomy.transport.roster.Roster`'s, shared with the
heartbeats):

* **Scope**: one ring per scope, on that scope's subjects only: a node's zone (``autonomy.C.z.Z.``),
  and, for a node of a zone, the opted-in nodes of the cluster (``autonomy.C.cluster.``), where a
  node that did not opt in only listens. Every message below is published on the sender's own
  presence subject or on ``discover``, and every ping goes to a node the sender may address: what
  the per-zone NATS users are granted (:mod:`autonomy.transport.permissions`), nothing more.
* **Join**: a starting node asks ``discover`` (``<name> <incarnation>[ listen]``); every node present
  records the newcomer (unless it only listens) and answers with its name, its incarnation and how
  many nodes it knows (not the names: answers stay a few bytes whatever the size of the cluster).
  The newcomer waits until as many nodes as the largest count have answered (or ``join_wait``
  passed), so ``list_nodes()`` right after ``Node.create`` shows the nodes that were there. Then it
  publishes ``hello <incarnation>`` on its presence subject, which introduces it to nodes that were
  joining at the same instant.
* **Liveness**: no broadcast heartbeats. The nodes, sorted by name, form a ring; every ``interval``
  seconds each node pings the next ``watchers`` nodes after itself (default 2), so every node is
  watched by 2 others and each node sends 2 pings per interval whatever the number of nodes. A ping
  is answered with the node's incarnation (another one than known: the node restarted, the old one
  is gone at once). NATS answers "no responders" at once when the node's connection is gone (a
  SIGKILLed process's socket is closed by the kernel), and only then is the node declared gone: the
  watcher drops it and publishes ``gone <name> <incarnation>`` on its own presence subject; every
  node hearing it pings that node itself and drops it on "no responders" (so a false report, even
  from another zone, drops nobody). A node that is merely slow still holds its subscription: the
  ping times out and it is not declared gone. Past a gone successor the watcher pings the next one
  at once, so a run of crashed neighbours is found in one round.
* **Listeners** (the cluster scope of a node that did not opt in) ping nobody while the ring has two
  members or more (they watch each other); a lone member is pinged by its listeners every
  ``missed * interval`` (as the heartbeats' silence check did).
* **Leaving**: ``bye <incarnation>``. A node that hears ``gone`` about itself (a watcher pinged it
  while its connection was being re-established) says ``hello`` again, as after every reconnection.

Messages per node per interval: ``watchers`` pings sent and about as many answered, plus one
delivery (and one ping) per join or departure in the scope (churn), instead of one heartbeat from
every node.
"""

from __future__ import annotations

import asyncio
import bisect
import json
import logging
from itertools import chain, islice
from typing import TYPE_CHECKING, Any

import nats.errors

from autonomy.transport.roster import GONE, HELLO, Roster

if TYPE_CHECKING:
    from collections.abc import Callable, Iterator

    from nats.aio.client import Client
    from nats.aio.msg import Msg

    from autonomy.transport.frames import ClusterScope, Subjects

__all__ = ["RingPresence"]

logger = logging.getLogger("autonomy.transport")


class RingPresence(Roster):
    """The roster of one node's scope, kept current by a watch ring (see the module docstring)."""

    def __init__(self, nc: Client, subjects: Subjects | ClusterScope, on_left: Callable[[str, str | None], Any], *,
                 watchers: int = 2, **options: Any) -> None:
        super().__init__(nc, subjects, on_left, **options)
        self.watchers = watchers
        self._ring: list[str] | None = None  # sorted names, this node's included; rebuilt on change
        self._lone_checked = 0.0

    def saw(self, name: str, incarnation: str | None = None) -> None:
        if name not in self._seen:
            self._ring = None
        super().saw(name, incarnation)

    def forget(self, name: str, why: str, incarnation: str | None = None) -> bool:
        gone = super().forget(name, why, incarnation)
        if gone:
            self._ring = None
        return gone

    def successors(self) -> Iterator[str]:
        """The other nodes in ring order, starting after this one."""
        ring = self._ring
        if ring is None:
            ring = self._ring = sorted([*self._seen, self._subjects.me])
        me = self._subjects.me
        at = bisect.bisect_right(ring, me)
        return (name for name in chain(islice(ring, at, None), islice(ring, 0, at)) if name != me)

    # ---- life cycle -----------------------------------------------------------------------------

    async def rejoin(self) -> None:
        """Introduce this node again (after a reconnection: a watcher may have reported it gone)."""
        if self._joined:
            await self._introduce()

    async def _introduce(self) -> None:
        """Say hello: nodes that joined at the same instant (and missed our question) learn of us."""
        if self.announce:
            await self._publish(HELLO + b" " + self._instance.encode())

    async def _publish(self, data: bytes) -> None:
        """Publish on this node's own presence subject (the only one its NATS user may publish on)."""
        await self._nc.publish(self._subjects.presence_prefix + self._subjects.me, data)

    async def _announce(self) -> None:
        me = self._subjects.me
        answered: set[str] = set()
        expected = 0
        twin = False
        done = asyncio.Event()

        async def on_answer(msg: Msg) -> None:
            nonlocal expected, twin
            if msg.headers and msg.headers.get("Status") == "503":
                done.set()  # nobody else is in the fabric
                return
            try:
                data = json.loads(msg.data)
                sender = str(data["node"])
                # a node running the heartbeats answers with the names it knows instead of a count
                count = int(data["count"]) if "count" in data else len(data["known"]) + 1
                incarnation = data.get("incarnation")
            except (ValueError, KeyError, TypeError):
                logger.warning("ignoring a malformed discovery answer: %r", msg.data[:200])
                return
            if sender == me:
                twin = True
                done.set()
                if self._joined:
                    logger.error("another node named %s answered after this one joined: node names must be "
                                 "unique in a cluster (set NODE to another name)", me)
                return
            answered.add(sender)
            self.saw(sender, incarnation if isinstance(incarnation, str) else None)
            # A count larger than the answers that can come (a crashed node others still list,
            # maybe a restarted pod of our name) makes us wait until the deadline, not longer.
            expected = max(expected, count)
            if len(answered) >= expected:
                done.set()

        # The inbox stays subscribed until leave(): answers later than join_wait (hundreds of
        # nodes on a busy machine) still introduce their senders; there are no heartbeats to do it.
        inbox = self._nc.new_inbox()
        self._subs.append(await self._nc.subscribe(inbox, cb=on_answer))
        listen = "" if self.announce else " listen"
        await self._nc.publish(self._subjects.discover, f"{me} {self._instance}{listen}".encode(), reply=inbox)
        try:
            await asyncio.wait_for(done.wait(), self.join_wait)
        except TimeoutError:
            pass
        if twin:
            raise self._twin()

    async def run(self) -> None:
        """Watch the ring (a round, then ``interval`` of rest: a busy process pings less, not more) and,
        as every roster does, ping the nodes callers wait on. Until cancelled; failures are logged."""
        watching = self._loop.create_task(self._watch())
        try:
            await super().run()
        finally:
            watching.cancel()

    async def _watch(self) -> None:
        while True:
            try:
                await self.watch_once()
            except asyncio.CancelledError:
                raise
            except Exception:
                logger.exception("watching the fabric's ring failed; retrying in %g s", self.interval)
            await asyncio.sleep(self.interval)

    async def watch_once(self) -> None:
        """Ping the next ``watchers`` nodes; past each one that is gone, ping one more. A listener pings
        only a lone member of the ring, every ``missed * interval``."""
        if not self.announce:
            now = self._loop.time()
            if len(self._seen) != 1 or now - self._lone_checked < self.interval * self.missed:
                return
            self._lone_checked = now
        remaining = self.successors()
        alive = 0
        while alive < self.watchers:
            batch = list(islice(remaining, self.watchers - alive))
            if not batch:
                return
            results = await asyncio.gather(*(self.ping(name) for name in batch))
            alive += sum(results)

    async def found_gone(self, name: str, incarnation: str | None) -> bool:
        """Drop ``name`` and tell the scope (on this node's own subject: see the module docstring)."""
        if not await super().found_gone(name, incarnation):
            return False
        notice = f"{name} {incarnation or ''}".rstrip().encode()
        try:
            await self._publish(GONE + b" " + notice)
        except nats.errors.Error as exc:
            logger.warning("could not tell the fabric that node %s is gone: %s", name, exc)
        return True

    # ---- inbound ----------------------------------------------------------------------------------

    async def _on_discover(self, msg: Msg) -> None:
        newcomer, _, rest = msg.data.decode(errors="replace").partition(" ")
        instance, _, mode = rest.partition(" ")
        if not msg.reply or (newcomer == self._subjects.me and instance == self._instance):
            return  # our own question
        # The nodes present, this one included. A newcomer's name already listed is counted: it is a
        # live twin (its answer refuses the newcomer) or a crashed node of that name (waited for).
        count = len(self._seen) + 1
        if mode != "listen":  # a listener is not in the roster
            self.saw(newcomer, instance or None)
        answer = {"node": self._subjects.me, "count": count, "incarnation": self._instance}
        await self._nc.publish(msg.reply, json.dumps(answer).encode())
