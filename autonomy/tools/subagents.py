"""Upstream module path ``autonomy.tools.subagents`` of ``Subagents`` and ``SubagentConfig``.

They live in ``autonomy.agents.subagents`` (they start agents, a layer above tools); this module
looks them up by name when asked, so the tools package does not depend on the agents package."""

import importlib
from typing import Any

__all__ = ["Subagents", "SubagentConfig"]  # noqa: F822 (from __getattr__)


def __getattr__(name: str) -> Any:
    if name in __all__:
        return getattr(importlib.import_module("autonomy.agents.subagents"), name)
    raise AttributeError(f"module 'autonomy.tools.subagents' has no attribute {name!r}")
