"""The garbage collector of a node process, set for many agent turns in flight.

CPython's cyclic collector makes a young collection each time 700 more container objects exist and, as
survivors pile up, full collections over every object of the process. A node with many turns in
flight (each holds its coroutine frames, futures and messages while the model answers) breaks the
generational bet the defaults make: the young objects are mostly alive, so young collections
promote them and the promotions trigger full collections over the whole node (its imports, agents
and conversations). Measured on 1,000 agents turning at once on 20 nodes: ~40% of the CPU of a
remote turn went to the collector (docs/benchmarks.md, "Scale").

:func:`tune` is what ``Node.start`` does, once the node is up (it owns the process: ``Node.create``
and ``Node.open``, used as a library, leave the process's collector alone):

* ``gc.freeze()``: what exists at that point (modules, the node, its extensions) moves to the
  permanent generation, which no collection traverses again;
* thresholds ``AUTONOMY_GC_THRESHOLDS``, by default ``100000,20,20`` instead of ``700,10,10``: a young
  collection when the tracked objects grew by 100,000 since the last one (CPython counts objects
  made minus objects freed), so the objects of the turns in flight are mostly freed by reference
  counting before any collection sees them. 1,000 turns in flight hold ~55,000 such objects: at
  50,000 a round of them still made one young collection (~36 us per turn), at 100,000 none.
  The price: cyclic garbage waits longer to be freed (at most ~100,000 objects, ~10 MB); reference
  counting, which frees everything else at once, is untouched. ``AUTONOMY_GC_THRESHOLDS=700,10,10``
  gives CPython's thresholds (with the freeze); ``default`` leaves the collector as it is.
"""

from __future__ import annotations

import gc
import os

from autonomy.errors import ConfigError

__all__ = ["ENV", "DEFAULT_THRESHOLDS", "thresholds_from_env", "tune"]

ENV = "AUTONOMY_GC_THRESHOLDS"
DEFAULT_THRESHOLDS = (100_000, 20, 20)


def thresholds_from_env() -> tuple[int, int, int] | None:
    """The thresholds ``AUTONOMY_GC_THRESHOLDS`` asks for (three positive integers, comma separated),
    :data:`DEFAULT_THRESHOLDS` when unset, None for ``default`` (leave the collector as it is).
    Raises ConfigError naming the variable for anything else."""
    raw = os.environ.get(ENV, "").strip()
    if not raw:
        return DEFAULT_THRESHOLDS
    if raw.lower() == "default":
        return None
    parts = [p.strip() for p in raw.split(",")]
    if len(parts) != 3 or not all(p.isdigit() and int(p) > 0 for p in parts):
        raise ConfigError(f"{ENV}={raw!r}: give three positive integers, e.g. "
                          f"{','.join(map(str, DEFAULT_THRESHOLDS))} (CPython's own are 700,10,10), or 'default'")
    return int(parts[0]), int(parts[1]), int(parts[2])


def tune() -> None:
    """Freeze what exists and set the thresholds (see the module docstring); nothing for ``default``."""
    thresholds = thresholds_from_env()
    if thresholds is None:
        return
    gc.freeze()
    gc.set_threshold(*thresholds)
