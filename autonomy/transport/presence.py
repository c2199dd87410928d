"""Presence by broadcast heartbeats (the option ``AUTONOMY_FABRIC_PRESENCE=heartbeat``; the default is
the watch ring of :mod:`autonomy.transport.ring_presence`).

Design (decided here, see docs/fabric.md; the roster, incarnations, pings of waited-on nodes and
leaving are :class:`~autonomy.transport.roster.Roster`'s):

* **Join**: a starting node asks ``autonomy.C.discover`` (a NATS request whose replies are gathered).
  Each node present answers with its name, its incarnation and the names it knows, and records the
  newcomer. The newcomer waits until every name it has heard of has answered itself (or 0.5 s
  passed), so ``list_nodes()`` right after ``Node.create`` already shows the nodes that were there.
  If nobody is there, NATS answers "no responders" at once and the join costs one round trip.
* **Heartbeats**: every ``interval`` seconds (``AUTONOMY_FABRIC_HEARTBEAT``, default 1.0) each node
  publishes its incarnation on ``autonomy.C.presence.<node>``; every node keeps a table of when it
  last heard of each other node: N² deliveries per interval in a cluster of N nodes.
* **Leaving**: ``bye`` drops a node at once. A node silent for ``3 * interval`` is *probed* with a
  ping, and only "no responders" declares it gone (a slow node still holds its subscription). A
  frozen node whose connection stays open is listed until the server drops its connection.
"""

from __future__ import annotations

import json
import logging
import os
from collections.abc import Iterable
from typing import TYPE_CHECKING

import nats.errors

from autonomy.transport.roster import Roster

if TYPE_CHECKING:
    from nats.aio.msg import Msg

__all__ = ["Presence", "heartbeat_interval_from_env"]

logger = logging.getLogger("autonomy.transport")


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


class Presence(Roster):
    """The roster of one node's scope kept current by broadcast heartbeats (see the module docstring).
    With ``announce=False`` the node only listens (no heartbeats, no answers to ``discover``)."""

    # ---- life cycle -----------------------------------------------------------------------------

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
                    sender, known = str(data["node"]), [str(n) for n in data.get("known", ())]  # none from a ring node
                    sender_incarnation = data.get("incarnation")
                    incarnations = data.get("incarnations") or {}
                except (ValueError, KeyError, TypeError, AttributeError):
                    logger.warning("ignoring a malformed discovery answer: %r", msg.data[:200])
                    continue
                if sender == me:
                    raise self._twin()
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

    async def _round(self) -> None:
        if self.announce:
            await self._nc.publish(self._subjects.presence_prefix + self._subjects.me, self._instance.encode())

    def _suspects(self, now: float) -> Iterable[str]:
        limit = now - self.interval * self.missed
        return [name for name, last in self._seen.items() if last < limit]

    # ---- inbound ----------------------------------------------------------------------------------

    async def _on_discover(self, msg: Msg) -> None:
        newcomer, _, rest = msg.data.decode(errors="replace").partition(" ")
        instance, _, mode = rest.partition(" ")
        if not msg.reply or (newcomer == self._subjects.me and instance == self._instance):
            return  # our own question
        answer = json.dumps({"node": self._subjects.me, "known": [*self._seen], "incarnation": self._instance,
                             "incarnations": self._incarnations, "count": len(self._seen) + 1}).encode()
        if mode != "listen":  # a listener is not in the roster
            self.saw(newcomer, instance or None)
        await self._nc.publish(msg.reply, answer)
