"""Which presence mechanism a node's transport uses: ``AUTONOMY_FABRIC_PRESENCE``.

``ring`` (the default): :class:`~autonomy.transport.ring_presence.RingPresence`, constant cost per
node. ``heartbeat``: :class:`~autonomy.transport.presence.Presence`, broadcast heartbeats (N² deliveries
per interval), kept as an option and as the benchmarks' baseline. Nodes running either understand each
other (docs/fabric.md).
"""

from __future__ import annotations

import os

from autonomy.errors import ConfigError
from autonomy.transport.presence import Presence
from autonomy.transport.ring_presence import RingPresence
from autonomy.transport.roster import Roster

__all__ = ["PRESENCE_ENV", "MECHANISMS", "presence_from_env"]

PRESENCE_ENV = "AUTONOMY_FABRIC_PRESENCE"
MECHANISMS: dict[str, type[Roster]] = {"ring": RingPresence, "heartbeat": Presence}


def presence_from_env() -> type[Roster]:
    """The presence class ``AUTONOMY_FABRIC_PRESENCE`` names (``ring`` when unset or empty)."""
    raw = os.environ.get(PRESENCE_ENV, "").strip().lower() or "ring"
    try:
        return MECHANISMS[raw]
    except KeyError:
        raise ConfigError(f"{PRESENCE_ENV}={raw!r} is not a presence mechanism: use one of "
                          f"{', '.join(sorted(MECHANISMS))} (ring is the default)") from None
