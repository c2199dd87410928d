"""Who is in the fabric: discovery on join, heartbeats, and noticing nodes that left.

Design (decided here, see docs/fabric.md):

* **Join**: a starting node asks ``autonomy.C.discover`` (a NATS request whose replies are gathered).
  Each node present answers with its name and the names it knows, and records the newcomer. The
  newcomer waits until every name it has heard of has answered itself (or 0.5 s passed), so
  ``list_nodes()`` right after ``Node.create`` already shows the nodes that were there. If nobody
  is there, NATS answers "no responders" at once and the join costs one round trip.
* **Heartbeats**: every ``interval`` seconds (``AUTONOMY_FABRIC_HEARTBEAT``, default 1.0) each node
  publishes an empty message on ``autonomy.C.presence.<node>``; every node keeps a table of when it
  last heard of each other node. ``list_nodes()`` reads that table (no network round trip).
* **Leaving**: a node that stops publishes ``bye`` and is dropped at once. A node silent for
  ``3 * interval`` is *probed*: a ping to its subject. NATS answers "no responders" when the node's
  connection is gone (a SIGKILLed process's socket is closed by the kernel, so the server knows at
  once), and only then is the node declared gone. A node that is merely slow (a busy 2-core machine)
  still holds its subscription, so it is not declared gone and requests to it keep waiting. A
  frozen node whose connection stays open is listed until the server drops its connection (NATS
  pings clients every 2 minutes).
* **Incarnations**: each start of a node is a new incarnation (a random id). Heartbeats, discovery
  and the answers to pings carry it. A node heard with another incarnation than the one known was
  restarted (a supervisor restarts a killed pod in under a second, before its silence is noticed):
  the old incarnation is declared gone (``on_left(name, old)``) at once, then the new one is known.
* **Waiting callers**: nodes that callers are waiting on (``watched()``) are pinged every
  ``probe_interval`` (0.5 s): "no responders" or another incarnation declares the old one gone, so a
  caller learns of a killed node within about a second, whatever the restart timing.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import nats.errors

from autonomy.transport.frames import ClusterScope, Subjects

if TYPE_CHECKING:
    from nats.aio.client import Client
    from nats.aio.msg import Msg

__all__ = ["Presence", "heartbeat_interval_from_env"]

logger = logging.getLogger("autonomy.transport")
_BYE = b"bye"


def heartbeat_interval_from_env(default: float = 1.0) -> float:
    raw = os.environ.get("AUTONOMY_FABRIC_HEARTBEAT", "").strip()
    if not raw:
        return default
    try:
        value = float(raw)
    except ValueError:
        value = -1.0
    if not 0.01 <= value <= 60:
        from autonomy.errors import ConfigError

        raise ConfigError(f"AUTONOMY_FABRIC_HEARTBEAT={raw!r} must be seconds between 0.01 and 60")
    return value


class Presence:
    """The roster of one node's cluster (or of a scope: its zone, the opted-in nodes of its cluster), kept
    current; ``on_left(name, incarnation)`` is called when a node leaves. With ``announce=False`` the node
    only listens: it learns the roster but is not part of it (no heartbeats, no answers to ``discover``)."""

    def __init__(self, nc: Client, subjects: Subjects | ClusterScope, on_left: Callable[[str, str | None], Any],
                 interval: float = 1.0, missed: int = 3, join_wait: float = 0.5, incarnation: str | None = None,
                 watched: Callable[[], Any] | None = None, probe_interval: float = 0.5,
                 announce: bool = True) -> None:
        self._nc = nc
        self.announce = announce
        self._subjects = subjects
        self._on_left = on_left
        self.interval = interval
        self.missed = missed
        self.join_wait = join_wait
        self._seen: dict[str, float] = {}
        self._probing: set[str] = set()
        self._probes: set[asyncio.Task[None]] = set()
        self._subs: list[Any] = []
        self._instance = incarnation or os.urandom(6).hex()
        self._incarnations: dict[str, str] = {}  # node -> the incarnation last heard of
        self._watched = watched or (lambda: ())
        self.probe_interval = min(probe_interval, interval)
        self._joined = False
        self._loop = asyncio.get_running_loop()

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
        """Evidence that ``name`` is alive (a heartbeat, a reply), of ``incarnation`` when known."""
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

    def forget(self, name: str, why: str) -> None:
        present = self._seen.pop(name, None) is not None
        gone = self._incarnations.pop(name, None)
        if present or gone is not None:
            logger.info("node %s left the fabric (%s)", name, why)
            self._on_left(name, gone)

    # ---- life cycle -----------------------------------------------------------------------------

    async def start(self) -> None:
        """Subscribe, then ask who is there (see the module docstring). Returns when the roster is known."""
        s = self._subjects
        self._subs.append(await self._nc.subscribe(s.presence_prefix + "*", cb=self._on_presence))
        # Ask before answering others: with nobody else there, "no responders" comes back at once.
        # Two nodes joining at the same instant may miss each other here; their first heartbeats
        # (within ``interval``) introduce them.
        await self._announce()
        if self.announce:
            self._subs.append(await self._nc.subscribe(s.discover, cb=self._on_discover))
        self._joined = True

    async def _announce(self) -> None:
        inbox = self._nc.new_inbox()
        sub = await self._nc.subscribe(inbox)
        try:
            me = self._subjects.me
            listen = "" if self.announce else " listen"
            await self._nc.publish(self._subjects.discover, f"{me} {self._instance}{listen}".encode(), reply=inbox)
            expected: set[str] = set()
            answered: set[str] = set()
            deadline = self._loop.time() + self.join_wait
            while not expected or not expected <= answered:
                remaining = deadline - self._loop.time()
                if remaining <= 0:
                    break
                try:
                    msg = await sub.next_msg(timeout=remaining)
                except nats.errors.TimeoutError:
                    break
                if msg.headers and msg.headers.get("Status") == "503":
                    break  # nobody else is in the fabric
                try:
                    data = json.loads(msg.data)
                    sender, known = str(data["node"]), [str(n) for n in data["known"]]
                    sender_incarnation = data.get("incarnation")
                    incarnations = data.get("incarnations") or {}
                except (ValueError, KeyError, TypeError, AttributeError):
                    logger.warning("ignoring a malformed discovery answer: %r", msg.data[:200])
                    continue
                if sender == me:
                    from autonomy.errors import FabricError

                    raise FabricError(f"A node named {me!r} is already in this cluster's fabric: node names "
                                      "must be unique in a cluster (set NODE to another name)")
                answered.add(sender)
                self.saw(sender, sender_incarnation if isinstance(sender_incarnation, str) else None)
                expected.add(sender)
                if isinstance(incarnations, dict):
                    for name, incarnation in incarnations.items():
                        if name != me and isinstance(incarnation, str) and name not in self._incarnations:
                            self._incarnations[name] = incarnation
                # Our own name in a roster is either a live twin (it will answer: refused above) or
                # a recently crashed node of our name (a restarted pod): wait for it until the deadline.
                expected.update(known)
            for name in expected - answered - {me}:
                self.saw(name)  # heard of by others; the heartbeat check confirms or drops it
        finally:
            await sub.unsubscribe()

    async def run(self) -> None:
        """Publish heartbeats, check on silent nodes and on the nodes callers wait on, until cancelled.
        Failures are logged, not fatal."""
        subject = self._subjects.presence_prefix + self._subjects.me
        beat = self._instance.encode()
        next_beat = 0.0
        while True:
            try:
                now = self._loop.time()
                if self.announce and now >= next_beat:
                    await self._nc.publish(subject, beat)
                    next_beat = now + self.interval
                limit = now - self.interval * self.missed
                suspects = {name for name, last in self._seen.items() if last < limit}
                suspects.update(self._watched())
                for name in suspects:
                    if name not in self._probing and name != self._subjects.me:
                        self._probing.add(name)
                        task = self._loop.create_task(self._probe(name))
                        self._probes.add(task)
                        task.add_done_callback(self._probe_done)
            except asyncio.CancelledError:
                raise
            except Exception:
                logger.exception("fabric heartbeat failed; retrying in %g s", self.interval)
            await asyncio.sleep(self.probe_interval)

    def _probe_done(self, task: asyncio.Task[None]) -> None:
        self._probes.discard(task)
        if not task.cancelled() and task.exception() is not None:
            logger.error("probing a silent node failed", exc_info=task.exception())

    async def _probe(self, name: str) -> None:
        """Is ``name`` still connected? Only a "no responders" answer declares it gone."""
        try:
            answer = await self._nc.request(self._subjects.node(name), b"", timeout=max(self.interval, 1.0))
        except nats.errors.NoRespondersError:
            self.forget(name, "its connection to the fabric is gone")
        except nats.errors.TimeoutError:
            logger.warning("node %s is silent but still connected", name)
        except nats.errors.ConnectionClosedError:
            pass
        else:
            self.saw(name, answer.data.decode(errors="replace") or None)
        finally:
            self._probing.discard(name)

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
            await self._nc.publish(self._subjects.presence_prefix + self._subjects.me, _BYE)
        except nats.errors.Error:
            pass

    # ---- inbound ----------------------------------------------------------------------------------

    async def _on_presence(self, msg: Msg) -> None:
        name = msg.subject[len(self._subjects.presence_prefix):]
        if name == self._subjects.me:
            return
        if msg.data == _BYE:
            self.forget(name, "it stopped")
        else:
            self.saw(name, msg.data.decode(errors="replace") or None)

    async def _on_discover(self, msg: Msg) -> None:
        newcomer, _, rest = msg.data.decode(errors="replace").partition(" ")
        instance, _, mode = rest.partition(" ")
        if not msg.reply or (newcomer == self._subjects.me and instance == self._instance):
            return  # our own question
        answer = json.dumps({"node": self._subjects.me, "known": [*self._seen], "incarnation": self._instance,
                             "incarnations": self._incarnations}).encode()
        if mode != "listen":  # a listener is not in the roster
            self.saw(newcomer, instance or None)
        await self._nc.publish(msg.reply, answer)
