"""One warning at start when a node's agent has no model it could reach.

An agent's model is resolved from the environment at its first turn (``autonomy.models.backends``), so an
agent without any configured provider starts fine and fails its first request. To make that visible in the
node's log before anyone asks, :func:`warn_if_no_model` checks the configuration when an agent starts and
logs one warning per node (not one per agent) naming the variables to set. It checks configuration only:
no network call at start (the provider may come up later).
"""

from __future__ import annotations

import logging
import weakref
from typing import Any

__all__ = ["warn_if_no_model"]

logger = logging.getLogger("autonomy.agents")

# Nodes already warned: weak, so a node that goes away takes its entry with it (tests start many nodes).
_warned: weakref.WeakSet[Any] = weakref.WeakSet()


def warn_if_no_model(node: Any, agent: str, model: Any, default_model: str) -> bool:
    """Log one warning for ``node`` when ``model`` (a ``Model``, or None for ``default_model``) resolves to no
    backend; True when it warned. Models of other types (a test double, a custom client) are not checked."""
    try:
        from autonomy.errors import ModelError
        from autonomy.models import Model
        from autonomy.models.backends import HOW_TO_CONFIGURE, resolve_backend
    except ImportError:
        return False
    if model is not None and not isinstance(model, Model):
        return False
    name = default_model if model is None else model.name
    try:
        resolve_backend(name)
        return False
    except ModelError:
        pass
    try:
        if node in _warned:
            return False
        _warned.add(node)
    except TypeError:  # a node that cannot be weakly referenced: warn every time rather than never
        pass
    logger.warning("agent %r: no model provider is configured for %r, so its turns will fail: %s",
                   agent, name, HOW_TO_CONFIGURE)
    return True
