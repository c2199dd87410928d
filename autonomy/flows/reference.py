"""``FlowReference``: talk to a flow as to an agent (upstream ``autonomy.nodes.message.FlowReference``)."""

from __future__ import annotations

from autonomy.agents.reference import Reference

__all__ = ["FlowReference"]


class FlowReference(Reference):
    """A reference to a flow started with ``Flow.start``: ``send``, ``send_stream``, ``identifier``."""

    kind = "flow"
