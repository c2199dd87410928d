"""Presence whose cost per node stays constant as the cluster grows: a watch ring, no heartbeats.

Design (decided here, see docs/fabric.md, "Discovery and liveness"):

* **Join**: as before, a starting node asks ``autonomy.C.discover``; every node present records the
  newcomer and answers with its own name and how many nodes it knows (not the names: answers stay
  a few bytes whatever the size of the cluster). The newcomer waits until as many nodes as the
  largest count have answered (or ``join_wait`` passed), so ``list_nodes()`` right after
  ``Node.create`` shows the nodes that were there. Then it publishes ``hello`` on its presence
  subject, which introduces it to nodes that were joining at the same instant.
* **Liveness**: no broadcast heartbeats. The nodes, sorted by name, form a ring; every ``interval``
  seconds each node pings the next ``watchers`` nodes after itself (default 2), so every node is
  watched by 2 others and each node sends 2 pings per interval whatever the number of nodes.
  A ping is a request to the node's subject: NATS answers "no responders" at once when the node's
  connection is gone (a SIGKILLed process's socket is closed by the kernel), and only then is the
  node declared gone: the watcher publishes ``gone`` on that node's presence subject and every node
  drops it (and fails what waits on it with ``NodeLeft``). A node that is merely slow still holds its
  subscription: the ping times out, it is not declared gone. When a watched node is gone the
  watcher pings the next one at once, so a run of crashed neighbours is found in one round.
* **Leaving**: ``bye`` on the presence subject, as before. A node that hears ``gone`` about itself
  (a watcher pinged it while its connection was being re-established) says ``hello`` again.

Messages per node per interval: ``watchers`` pings sent and about as many answered, plus one
delivery per join or departure in the cluster (churn), instead of one heartbeat from every node.
"""

from __future__ import annotations

import asyncio
import bisect
import json
import logging
from itertools import chain, islice
from typing import TYPE_CHECKING, Any

import nats.errors

from autonomy.transport.presence import Presence

if TYPE_CHECKING:
    from collections.abc import Callable, Iterator

    from nats.aio.client import Client
    from nats.aio.msg import Msg

    from autonomy.transport.frames import Subjects

__all__ = ["RingPresence"]

logger = logging.getLogger("autonomy.transport")
_BYE = b"bye"
_GONE = b"gone"
_HELLO = b"hello"


class RingPresence(Presence):
    """The roster of one node's cluster, kept current by a watch ring (see the module docstring)."""

    def __init__(self, nc: Client, subjects: Subjects, on_left: Callable[[str, str | None], Any],
                 interval: float = 1.0, missed: int = 3, join_wait: float = 0.5, watchers: int = 2,
                 **options: Any) -> None:
        super().__init__(nc, subjects, on_left, interval=interval, missed=missed, join_wait=join_wait, **options)
        self.watchers = watchers
        self._ring: list[str] | None = None  # sorted names, this node's included; rebuilt on change
        self.pings_sent = 0

    def saw(self, name: str, incarnation: str | None = None) -> None:
        if name not in self._seen:
            self._ring = None
        super().saw(name, incarnation)

    def forget(self, name: str, why: str) -> None:
        if name in self._seen:
            self._ring = None
        super().forget(name, why)

    def successors(self) -> Iterator[str]:
        """The other nodes in ring order, starting after this one."""
        ring = self._ring
        if ring is None:
            ring = self._ring = sorted([*self._seen, self._subjects.me])
        me = self._subjects.me
        at = bisect.bisect_right(ring, me)
        return (name for name in chain(islice(ring, at, None), islice(ring, 0, at)) if name != me)

    # ---- life cycle -----------------------------------------------------------------------------

    async def start(self) -> None:
        """Subscribe, ask who is there, then say hello. Returns when the roster is known."""
        s = self._subjects
        self._subs.append(await self._nc.subscribe(s.presence_prefix + "*", cb=self._on_presence))
        # Ask before answering others: with nobody else there, "no responders" comes back at once.
        # Two nodes asking at the same instant miss each other's question, not each other's hello.
        await self._announce()
        self._subs.append(await self._nc.subscribe(s.discover, cb=self._on_discover))
        self._joined = True
        await self._hello()

    async def rejoin(self) -> None:
        """Introduce this node again (after a reconnection: a watcher may have reported it gone)."""
        if self._joined:
            await self._hello()

    async def _hello(self) -> None:
        await self._nc.publish(self._subjects.presence_prefix + self._subjects.me, _HELLO)

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
                sender, count = str(data["node"]), int(data["count"])
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
            self.saw(sender)
            # A count larger than the answers that can come (a crashed node others still list,
            # maybe a restarted pod of our name) makes us wait until the deadline, not longer.
            expected = max(expected, count)
            if len(answered) >= expected:
                done.set()

        # The inbox stays subscribed until leave(): answers later than join_wait (hundreds of
        # nodes on a busy machine) still introduce their senders; there are no heartbeats to do it.
        inbox = self._nc.new_inbox()
        self._subs.append(await self._nc.subscribe(inbox, cb=on_answer))
        await self._nc.publish(self._subjects.discover, f"{me} {self._instance}".encode(), reply=inbox)
        try:
            await asyncio.wait_for(done.wait(), self.join_wait)
        except TimeoutError:
            pass
        if twin:
            from autonomy.errors import FabricError

            raise FabricError(f"A node named {me!r} is already in this cluster's fabric: node names "
                              "must be unique in a cluster (set NODE to another name)")

    async def run(self) -> None:
        """Watch this node's ring successors until cancelled. Failures are logged, not fatal."""
        while True:
            try:
                await self.watch_once()
            except asyncio.CancelledError:
                raise
            except Exception:
                logger.exception("fabric presence check failed; retrying in %g s", self.interval)
            await asyncio.sleep(self.interval)

    async def watch_once(self) -> None:
        """Ping the next ``watchers`` nodes; past each one that is gone, ping one more."""
        remaining = self.successors()
        alive = 0
        while alive < self.watchers:
            batch = list(islice(remaining, self.watchers - alive))
            if not batch:
                return
            results = await asyncio.gather(*(self._check(name) for name in batch))
            alive += sum(results)

    async def _check(self, name: str) -> bool:
        """Ping ``name``: False only when NATS says nobody listens on its subject (then it is gone)."""
        self.pings_sent += 1
        try:
            await self._nc.request(self._subjects.node(name), b"", timeout=max(self.interval, 1.0))
        except nats.errors.NoRespondersError:
            if name in self._seen:
                self.forget(name, "its connection to the fabric is gone")
                try:
                    await self._nc.publish(self._subjects.presence_prefix + name, _GONE)
                except nats.errors.Error as exc:
                    logger.warning("could not tell the fabric that node %s is gone: %s", name, exc)
            return False
        except nats.errors.TimeoutError:
            logger.warning("node %s is slow to answer but still connected", name)
        except nats.errors.ConnectionClosedError:
            pass
        return True

    # ---- inbound ----------------------------------------------------------------------------------

    async def _on_presence(self, msg: Msg) -> None:
        name = msg.subject[len(self._subjects.presence_prefix):]
        data = msg.data
        if name == self._subjects.me:
            if data == _GONE and self._joined:
                logger.warning("the fabric was told this node is gone; saying hello again")
                await self._hello()
            return
        if data == _BYE:
            self.forget(name, "it stopped")
        elif data == _GONE:
            self.forget(name, "its connection to the fabric is gone")
        elif data == _HELLO:
            self.saw(name)

    async def _on_discover(self, msg: Msg) -> None:
        newcomer, _, instance = msg.data.decode(errors="replace").partition(" ")
        if not msg.reply or (newcomer == self._subjects.me and instance == self._instance):
            return  # our own question
        # The nodes present, this one included. A newcomer's name already listed is counted: it is a
        # live twin (its answer refuses the newcomer) or a crashed node of that name (waited for).
        count = len(self._seen) + 1
        self.saw(newcomer)
        await self._nc.publish(msg.reply, json.dumps({"node": self._subjects.me, "count": count}).encode())
