"""The cluster's identity: ``AUTONOMY_HOME/cluster.json`` (``id``: 32 lowercase hex, ``kind``, ``created``)."""

from __future__ import annotations

import json
import os
import secrets
import time
from dataclasses import asdict, dataclass
from pathlib import Path

from autonomy.errors import ClusterError

__all__ = ["ClusterIdentity", "load_or_create_identity"]


@dataclass(frozen=True)
class ClusterIdentity:
    id: str
    kind: str
    created: float


def load_or_create_identity(home: Path) -> ClusterIdentity:
    """Read ``cluster.json``; create it (a new random id, kind ``local``) when absent."""
    path = home / "cluster.json"
    if path.exists():
        try:
            data = json.loads(path.read_text())
            identity = ClusterIdentity(id=str(data["id"]), kind=str(data.get("kind", "local")),
                                       created=float(data.get("created", 0)))
        except (ValueError, KeyError, TypeError) as exc:
            raise ClusterError(f"{path} is not a valid cluster identity ({exc}): fix or remove it "
                               "(removing it creates a new cluster)") from exc
        if len(identity.id) != 32 or any(c not in "0123456789abcdef" for c in identity.id):
            raise ClusterError(f"{path}: id {identity.id!r} must be 32 lowercase hex characters")
        return identity
    identity = ClusterIdentity(id=secrets.token_hex(16), kind="local", created=time.time())
    home.mkdir(parents=True, exist_ok=True, mode=0o700)
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(asdict(identity), indent=2) + "\n")
    os.replace(tmp, path)
    return identity
