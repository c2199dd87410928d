"""Per-zone API keys: the gateway knows a request's zone from its ``Authorization: Bearer`` key.

Only SHA-256 digests of the keys are kept (and serialized), so the controller's state never holds a
usable key: :meth:`ZoneKeys.issue` returns the clear key once, for the deployer to put into the
zone's ``AUTONOMY_EXTERNAL_APIS_GATEWAY_API_KEY``. Issuing again for a zone rotates its key (the old
one stops working at once). A zone may hold several keys during a rotation via :meth:`ZoneKeys.add`.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import secrets

from autonomy.errors import ConfigError

__all__ = ["ZoneKeys"]

_PREFIX = "azk_"


def _digest(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


class ZoneKeys:
    """Zone name <-> key digests. Not thread-safe; use from the gateway's event loop."""

    def __init__(self, digests: dict[str, list[str]] | None = None) -> None:
        self._by_zone: dict[str, list[str]] = {z: list(d) for z, d in (digests or {}).items()}
        self._by_digest: dict[str, str] = {d: z for z, ds in self._by_zone.items() for d in ds}

    def issue(self, zone: str) -> str:
        """A new random key for ``zone``, replacing its previous keys; the only time it is seen in clear."""
        if not zone:
            raise ConfigError("zone: a key needs a zone name")
        self.revoke(zone)
        key = _PREFIX + secrets.token_urlsafe(32)
        self.add(zone, key)
        return key

    def add(self, zone: str, key: str) -> None:
        """Accept ``key`` for ``zone`` too (e.g. a key the deployer already handed out)."""
        if not zone or len(key) < 16:
            raise ConfigError(f"zone key for {zone!r}: keys must be at least 16 characters")
        digest = _digest(key)
        owner = self._by_digest.get(digest)
        if owner is not None and owner != zone:
            raise ConfigError(f"zone key for {zone!r}: that key already belongs to zone {owner!r}")
        if owner is None:
            self._by_zone.setdefault(zone, []).append(digest)
            self._by_digest[digest] = zone

    def revoke(self, zone: str) -> None:
        """Forget every key of ``zone`` (no error if it had none)."""
        for digest in self._by_zone.pop(zone, []):
            self._by_digest.pop(digest, None)

    def zone_for(self, key: str | None) -> str | None:
        """The zone owning ``key``, or None. Digest lookup, then a constant-time compare."""
        if not key:
            return None
        digest = _digest(key)
        zone = self._by_digest.get(digest)
        if zone is None:
            return None
        return zone if any(hmac.compare_digest(digest, d) for d in self._by_zone.get(zone, [])) else None

    def zones(self) -> list[str]:
        return sorted(self._by_zone)

    def to_json(self) -> str:
        """Digests only, for the controller's state."""
        return json.dumps(self._by_zone, sort_keys=True)

    @classmethod
    def from_json(cls, text: str) -> ZoneKeys:
        try:
            data = json.loads(text)
        except json.JSONDecodeError as exc:
            raise ConfigError(f"zone keys state is not valid JSON: {exc}") from exc
        if not isinstance(data, dict):
            raise ConfigError("zone keys state must be a JSON object of zone -> [sha256 digests]")
        return cls(data)
