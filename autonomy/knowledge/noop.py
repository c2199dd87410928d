"""Upstream's module path for ``NoopKnowledge`` (the real home is :mod:`autonomy.knowledge.provider`)."""

from autonomy.knowledge.provider import NoopKnowledge

__all__ = ["NoopKnowledge"]
