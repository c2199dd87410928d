"""The model gateway as the system namespace runs it: ``python -m autonomy.cluster.kubernetes.gateway_main``.

Reads ``config.json`` (a :class:`~autonomy.gateway.GatewayConfig`) and ``zone-keys.json`` (zone -> SHA-256
digests of its keys) from ``--config-dir`` (the mounted Secret ``model-gateway-config``) and serves the
gateway on ``--host:--port``. Zone keys are re-read when the file changes (checked at most every
:data:`RELOAD_SECONDS`), so deploying a zone does not restart the gateway: Kubernetes refreshes a
mounted Secret within about a minute. Usage is counted in memory (not yet reported to the CLI).
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import time
from collections.abc import Callable
from pathlib import Path

from autonomy.errors import AutonomyError
from autonomy.gateway import GatewayConfig, GatewayServer, UsageRecorder, ZoneKeys, create_gateway_app

__all__ = ["FileZoneKeys", "main", "serve"]

RELOAD_SECONDS = 2.0
log = logging.getLogger("autonomy.gateway")


class FileZoneKeys(ZoneKeys):
    """Zone keys read from a JSON file of digests, re-read when it changes."""

    def __init__(self, path: Path) -> None:
        super().__init__()
        self.path = path
        self._text: str | None = None
        self._checked = 0.0
        self.reload()

    def reload(self) -> None:
        self._checked = time.monotonic()
        try:
            text = self.path.read_text()
        except OSError as exc:
            log.error("cannot read zone keys %s: %s (keeping the previous ones)", self.path, exc)
            return
        if text == self._text:
            return
        try:
            fresh = ZoneKeys.from_json(text)
        except AutonomyError as exc:
            log.error("%s: %s (keeping the previous zone keys)", self.path, exc)
            return
        self._by_zone, self._by_digest, self._text = fresh._by_zone, fresh._by_digest, text

    def zone_for(self, key: str | None) -> str | None:
        if time.monotonic() - self._checked > RELOAD_SECONDS:
            self.reload()
        return super().zone_for(key)


async def serve(config_dir: Path, host: str, port: int, on_started: Callable[[str], None] | None = None,
                stop: asyncio.Event | None = None) -> None:
    """Serve until the server fails or ``stop`` is set; ``on_started(url)`` once listening."""
    config = GatewayConfig.from_json((config_dir / "config.json").read_text())
    server = GatewayServer(create_gateway_app(config, FileZoneKeys(config_dir / "zone-keys.json"), UsageRecorder()),
                           host=host, port=port)
    url = await server.start()
    log.info("model gateway serving on %s", url)
    if on_started is not None:
        on_started(url)
    try:
        if stop is None:
            await server.wait()
        else:
            await stop.wait()
    finally:
        await server.stop()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m autonomy.cluster.kubernetes.gateway_main")
    parser.add_argument("--config-dir", type=Path, required=True)
    parser.add_argument("--host", default="0.0.0.0")
    parser.add_argument("--port", type=int, default=8080)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    try:
        asyncio.run(serve(args.config_dir, args.host, args.port))
    except AutonomyError as exc:
        log.error("%s", exc)
        return 1
    return 0


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(main())
