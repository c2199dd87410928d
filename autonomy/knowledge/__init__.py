"""Knowledge: documents an agent can search (``KnowledgeTool``), kept in memory or in PostgreSQL.

See docs/knowledge.md. Upstream's names and module paths: ``autonomy.knowledge`` and
``autonomy.knowledge.noop``.
"""

from autonomy.knowledge.chunker import Chunker, NaiveChunker
from autonomy.knowledge.database import Database
from autonomy.knowledge.extractors import DefaultTextExtractor, TextExtractor
from autonomy.knowledge.in_memory import InMemory
from autonomy.knowledge.knowledge import Knowledge
from autonomy.knowledge.pieces import SearchHit, SearchResults, TextPiece
from autonomy.knowledge.provider import KnowledgeAggregator, KnowledgeProvider, NoopKnowledge
from autonomy.knowledge.searchable import SearchableKnowledge
from autonomy.knowledge.storage import Storage
from autonomy.knowledge.tool import KnowledgeTool
from autonomy.knowledge.unsearchable import UnsearchableKnowledge

__all__ = [
    "Chunker", "Database", "DefaultTextExtractor", "InMemory", "Knowledge", "KnowledgeAggregator",
    "KnowledgeProvider", "KnowledgeTool", "NaiveChunker", "NoopKnowledge", "SearchHit", "SearchResults",
    "SearchableKnowledge", "Storage", "TextExtractor", "TextPiece", "UnsearchableKnowledge",
]
