"""Usage per zone and model: request counts and tokens, as the providers report them.

Token counts come from the upstream ``usage`` object (non-streamed responses, and the final chunk of
a stream when the client sent ``stream_options.include_usage``, as upstream's node client does). A
stream without that chunk is counted as a request with unknown tokens (``requests_without_usage``).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict, dataclass
from typing import Any

__all__ = ["Usage", "UsageRecorder"]


@dataclass
class Usage:
    """Totals for one (zone, model)."""

    requests: int = 0
    failed_requests: int = 0
    requests_without_usage: int = 0
    prompt_tokens: int = 0
    completion_tokens: int = 0

    @property
    def total_tokens(self) -> int:
        return self.prompt_tokens + self.completion_tokens


UsageListener = Callable[[str, str, Usage], None]


class UsageRecorder:
    """Accumulates :class:`Usage` per ``(zone, model)`` in memory.

    ``on_record(zone, model, delta)`` is called synchronously after each record, e.g. for the
    controller to persist; an exception it raises propagates to the request that caused it.
    """

    def __init__(self, on_record: UsageListener | None = None) -> None:
        self._totals: dict[tuple[str, str], Usage] = {}
        self._on_record = on_record

    def record(self, zone: str, model: str, usage: dict[str, Any] | None, *, failed: bool = False) -> None:
        """Count one request by ``zone`` for ``model``; ``usage`` is the OpenAI-shaped usage or None."""
        delta = Usage(requests=1, failed_requests=int(failed))
        if usage:
            delta.prompt_tokens = int(usage.get("prompt_tokens") or 0)
            delta.completion_tokens = int(usage.get("completion_tokens") or 0)
        elif not failed:
            delta.requests_without_usage = 1
        total = self._totals.setdefault((zone, model), Usage())
        for name, value in asdict(delta).items():
            setattr(total, name, getattr(total, name) + value)
        if self._on_record is not None:
            self._on_record(zone, model, delta)

    def for_zone(self, zone: str) -> Usage:
        """The zone's totals over every model."""
        total = Usage()
        for (z, _), usage in self._totals.items():
            if z == zone:
                for name, value in asdict(usage).items():
                    setattr(total, name, getattr(total, name) + value)
        return total

    def snapshot(self) -> dict[str, dict[str, dict[str, int]]]:
        """``{zone: {model: {requests, failed_requests, ..., prompt_tokens, completion_tokens}}}``."""
        out: dict[str, dict[str, dict[str, int]]] = {}
        for (zone, model), usage in sorted(self._totals.items()):
            out.setdefault(zone, {})[model] = asdict(usage)
        return out
