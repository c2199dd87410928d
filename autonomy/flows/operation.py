"""The vertices and operations of a flow's graph (upstream ``autonomy.flows.operation``)."""

from __future__ import annotations

from enum import Enum

__all__ = ["FlowOperation", "START", "END"]

START = "__**START**__"
END = "__**END**__"


class FlowOperation(Enum):
    """What an edge does with the conversation before sending it to its destination.

    ``ROUTE``: send the whole conversation. ``EVALUATE``: send only the last message (as a user
    message, in a fresh conversation), e.g. to a reviewer; its answer joins the conversation as user
    messages. ``TRY_AGAIN``: drop the last answer and send the conversation again.
    """

    ROUTE = "route"
    EVALUATE = "evaluate"
    TRY_AGAIN = "try_again"
