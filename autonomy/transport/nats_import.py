"""Import nats-py without loading aiohttp, which only its WebSocket transport uses.

``nats.aio.transport`` imports ``aiohttp`` and ``multidict`` at import time (``try: import aiohttp``),
for ``ws://`` and ``wss://`` servers only; the fabric is TLS over TCP. aiohttp is about half of what
``import nats`` costs (~0.15 s of CPU of ~0.27 s on the 2-core test machine), paid by every node process
of a cluster. :func:`import_nats` imports nats with those two imports failing (nats then sets them to
None), and gives its transport module stand-ins that import the real packages on first attribute use,
so a ``ws://`` fabric URL still works, just not for free. The real ``aiohttp`` module is never replaced
or duplicated: the stand-ins resolve through an ordinary ``import``. Figures: docs/startup.md.
"""

from __future__ import annotations

import importlib
import importlib.util
import sys
from types import ModuleType
from typing import Any

__all__ = ["import_nats"]

_DEFERRED = ("aiohttp", "multidict")


class _OnFirstUse:
    """Stands for a module not imported yet: any attribute imports it (a normal ``import``)."""

    def __init__(self, name: str) -> None:
        self._name = name

    def __getattr__(self, attribute: str) -> Any:
        return getattr(importlib.import_module(self._name), attribute)

    def __repr__(self) -> str:
        return f"<module {self._name!r}, imported on first use>"


def import_nats() -> ModuleType:
    """The ``nats`` package, imported (once) without aiohttp if nothing imported either yet."""
    if "nats" in sys.modules:
        return sys.modules["nats"]
    deferred = [name for name in _DEFERRED
                if name not in sys.modules and importlib.util.find_spec(name) is not None]
    for name in deferred:
        sys.modules[name] = None  # type: ignore[assignment]  # makes `import name` raise ImportError
    try:
        import nats
        import nats.aio.transport as transport
    finally:
        for name in deferred:
            if sys.modules.get(name, False) is None:
                del sys.modules[name]
    for name in deferred:
        if getattr(transport, name, None) is None:
            setattr(transport, name, _OnFirstUse(name))
    return nats
