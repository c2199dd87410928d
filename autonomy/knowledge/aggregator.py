"""Upstream's ``autonomy.knowledge.aggregator`` path (real home: :mod:`autonomy.knowledge.provider`)."""

from autonomy.knowledge.provider import KnowledgeAggregator

__all__ = ["KnowledgeAggregator"]
