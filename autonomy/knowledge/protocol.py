"""Upstream's ``autonomy.knowledge.protocol`` path (real homes: :mod:`.provider`, :mod:`.storage`)."""

from autonomy.knowledge.provider import KnowledgeProvider
from autonomy.knowledge.storage import Storage

__all__ = ["KnowledgeProvider", "Storage"]
