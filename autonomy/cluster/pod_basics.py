"""Small facts about pods that every backend's deployer needs (the local and Docker runtimes share them)."""

from __future__ import annotations

import asyncio
import hashlib
import json
import socket
from typing import Any

__all__ = ["answers", "free_port", "main_pod", "zone_generation"]


def zone_generation(spec: dict[str, Any], deployed_at: float) -> str:
    """Which deploy of a zone a running container belongs to: the stored spec's digest and its deploy time
    (a restarted controller adopts only containers of the zone's current generation)."""
    digest = hashlib.sha256(json.dumps(spec, sort_keys=True).encode()).hexdigest()[:16]
    return f"{deployed_at!r}:{digest}"


def main_pod(zone: Any) -> Any:
    """``main-pod``, or the first pod of a zone (a ZoneSpec) without one: the pod the public URL serves."""
    return next((p for p in zone.pods if p.name == "main-pod"), zone.pods[0])


def free_port() -> int:
    """A TCP port free on 127.0.0.1 right now (for a pod on the host network)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


async def answers(host: str, port: int) -> bool:
    """Does something accept TCP connections at ``host:port`` (within 1 s)? The readiness check of a node."""
    try:
        _, writer = await asyncio.wait_for(asyncio.open_connection(host, port), 1.0)
    except (TimeoutError, OSError):
        return False
    writer.close()
    return True
