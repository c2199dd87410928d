"""Should a worker's drain task stay one loop turn after its queue empties? Decided per node, from
how often that paid off.

Staying one turn lets a sender that waits on the reply (sequential request/reply) hand over its
next message to the same task, instead of a new task per message: 0.81x -> 1.2x the plain-asyncio
floor (docs/benchmarks.md, scale). When nobody sends in that turn (fan-out to many workers, one
message each) the extra turn is wasted work: ~15% of a fan-out. So a node keeps a credit: each
turn that brought a message adds one (up to 64), each that did not takes one; at zero the cells
stop staying, except one drain in 32 that tries again, so a node that turns sequential again
finds out.
"""

from __future__ import annotations

__all__ = ["Linger"]

_MAX_CREDIT = 64
_PROBE_EVERY = 32


class Linger:
    """The per-node credit described in the module docstring (not thread-safe: one loop per node)."""

    __slots__ = ("credit", "_skipped")

    def __init__(self) -> None:
        self.credit = 8
        self._skipped = 0

    def worth_it(self) -> bool:
        """Whether the drain that just emptied its queue should stay one loop turn."""
        if self.credit > 0:
            return True
        self._skipped += 1
        if self._skipped >= _PROBE_EVERY:
            self._skipped = 0
            return True
        return False

    def record(self, paid_off: bool) -> None:
        """Whether the turn stayed brought a message."""
        if paid_off:
            self.credit = min(self.credit + 1, _MAX_CREDIT)
        elif self.credit > 0:
            self.credit -= 1
