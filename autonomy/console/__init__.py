"""The cluster console: a web page served by the cluster, showing its zones live, with a chat box.

Server-rendered HTML with htmx (vendored in ``static/``, no build step). The console reads the cluster
through the :class:`ClusterView` protocol and talks to nodes over their own HTTP API; it imports nothing
of the control plane, which serves it (``autonomy.cluster.console_view``). See docs/console.md.
"""

from autonomy.console.access import load_or_create_token
from autonomy.console.app import build_console_app
from autonomy.console.source import ClusterView

__all__ = ["ClusterView", "build_console_app", "load_or_create_token"]
