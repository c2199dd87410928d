"""The controller's watch over the cluster's NATS server: a crashed or killed server is started again
on the same port (nodes reconnect to the URL they have; no container restarts).

Decision: the server is checked every ``interval`` (0.25 s) rather than waited on, because it is a
``subprocess.Popen`` child run from a thread (its start is synchronous); a restart takes ~50 ms, so a
crash is repaired well within the 5 s goal. While it is down, :meth:`FabricWatch.problem` says why
(``zone status``/``list`` then show ``degraded``); a failed restart is retried with a backoff (0.5 s
doubling, at most 5 s) and logged each time.
"""

from __future__ import annotations

import asyncio
import logging
import time
from typing import Any

__all__ = ["FabricWatch"]

log = logging.getLogger("autonomy.cluster")


class FabricWatch:
    """Keeps ``server`` (an ``EmbeddedNats``) running; ``restarts`` counts the repairs."""

    def __init__(self, server: Any, interval: float = 0.25) -> None:
        self.server = server
        self.interval = interval
        self.restarts = 0
        self.last_repair_seconds: float | None = None
        self._down_since: float | None = None
        self._reason = ""

    def problem(self) -> str | None:
        """Why the fabric is down right now, or None when it runs."""
        if self._down_since is None:
            return None
        return f"the fabric (NATS server) is down since {time.monotonic() - self._down_since:.1f} s: {self._reason}"

    async def run(self) -> None:
        """Watch and repair until cancelled."""
        backoff = 0.5
        while True:
            await asyncio.sleep(self.interval)
            if self.server.running:
                continue
            process = getattr(self.server, "_process", None)
            code = process.poll() if process is not None else None
            if self._down_since is None:
                self._down_since = time.monotonic()
                self._reason = f"nats-server exited (code {code})"
                log.error("the fabric's NATS server exited (code %s); restarting it on the same port", code)
            try:
                url = await asyncio.to_thread(self.server.restart)
            except Exception as exc:  # FabricError, OSError: retried, never fatal to the controller
                self._reason = f"restarting it failed: {exc}"
                log.error("restarting the fabric's NATS server failed (retry in %g s): %s", backoff, exc)
                await asyncio.sleep(backoff)
                backoff = min(backoff * 2, 5.0)
                continue
            self.restarts += 1
            self.last_repair_seconds = time.monotonic() - self._down_since
            log.warning("the fabric's NATS server is back at %s after %.2f s (restart %d)", url,
                        self.last_repair_seconds, self.restarts)
            self._down_since, self._reason, backoff = None, "", 0.5
