"""A flow's graph: vertices (``START``, ``END``, agent/flow references) and conditional edges.

Routing, as upstream: after a vertex answered, the first line of the last message, lower-cased,
without punctuation and with whitespace collapsed, is looked up among the conditions of the edges
leaving that vertex. A match follows that edge and the condition message is dropped from the
conversation; otherwise the edge with condition ``""`` is followed; no edge at all is an error.
Our decision: conditions are normalized the same way (upstream compares them raw, so ``"Yes"``
never matched).
"""

from __future__ import annotations

import re
import string
from dataclasses import dataclass
from typing import Any

from autonomy.flows.operation import FlowOperation

__all__ = ["FlowEdge", "FlowGraph", "normalize", "vertex_id"]

_PUNCTUATION = str.maketrans("", "", string.punctuation)


def normalize(text: str) -> str:
    first = text.splitlines()[0] if text else ""
    return re.sub(r"\s+", " ", first.lower().translate(_PUNCTUATION)).strip()


def vertex_id(vertex: Any) -> str:
    """A vertex's key: the string itself, or ``{node}__{agent|flow}__{name}`` for a reference."""
    if isinstance(vertex, str):
        return vertex
    name, kind, node = getattr(vertex, "name", None), getattr(vertex, "kind", None), getattr(vertex, "node_name", None)
    if not (name and kind and node):
        raise TypeError(f"a flow vertex is START, END or an agent/flow reference, not {vertex!r}")
    return f"{node}__{kind}__{name}"


@dataclass
class FlowEdge:
    destination: Any
    condition: str
    operation: FlowOperation


class FlowGraph:
    """Edges by source vertex and normalized condition."""

    def __init__(self) -> None:
        self.edges: dict[str, dict[str, FlowEdge]] = {}

    def add(self, source: Any, edge: FlowEdge) -> None:
        self.edges.setdefault(vertex_id(source), {})[normalize(edge.condition)] = edge

    def next_edge(self, vertex: Any, last_text: str) -> tuple[FlowEdge | None, bool]:
        """The edge to follow from ``vertex`` after ``last_text``; and whether it matched a condition
        (then the condition message leaves the conversation)."""
        edges = self.edges.get(vertex_id(vertex))
        if not edges:
            return None, False
        key = normalize(last_text)
        if key and key in edges:
            return edges[key], True
        return edges.get(""), False
