"""The agents' HTTP routes (spec §2). Filled in by the agents work."""

from __future__ import annotations

from fastapi import FastAPI

__all__ = ["add_agent_routes"]


def add_agent_routes(app: FastAPI) -> None:
    """Add ``/agents...`` and ``/tools...`` routes to ``app``."""
