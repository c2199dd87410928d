"""What the console reads from the cluster: the :class:`ClusterView` protocol.

The console knows nothing of how a cluster is run. The local controller implements this protocol
(:mod:`autonomy.cluster.console_view`); a Kubernetes control plane can implement it the same way. Every
method is cheap and non-blocking except :meth:`ClusterView.log_lines`, an async iterator.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any, Protocol

__all__ = ["ClusterView"]


class ClusterView(Protocol):
    cluster_id: str

    def cluster(self) -> dict[str, Any]:
        """``{"id", "public_port", "public_url_template", "network", "models": [provider names]}``."""
        ...

    def zones(self) -> list[dict[str, Any]]:
        """``[{"zone", "state", "url", "public", "pods": [names]}]``."""
        ...

    def zone_status(self, name: str) -> dict[str, Any]:
        """``{"zone", "state", "error", "url", "pods": [{"pod", "clone", "node", "address", "port",
        "containers": [{"container", "image", "node", "state", "restarts", "pid"}]}]}``; ClusterError
        (an AutonomyError) when there is no such running zone."""
        ...

    def usage(self) -> list[dict[str, Any]]:
        """One row per zone and model: ``{"zone", "model", "provider", "requests", "failed_requests",
        "prompt_tokens", "completion_tokens"}`` (``provider``: the provider the name routes to)."""
        ...

    def traces(self, zone: str) -> list[dict[str, Any]] | None:
        """The zone's recent traces, newest first (see ``autonomy.cluster.trace_collector``), or None when the
        cluster collects none (the ``traces`` extra is missing)."""
        ...

    def log_lines(self, zone: str, pod: str | None, container: str | None, tail: int,
                  follow: bool) -> AsyncIterator[str]:
        """The last ``tail`` lines of the selected containers' logs, then (``follow``) new lines as
        written, until the zone goes away or the iterator is closed. ClusterError for an unknown zone,
        pod or container, before the first line."""
        ...
