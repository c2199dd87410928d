"""Upstream module path ``autonomy.agents.conversation_response`` (ours: ``response.py``)."""

from autonomy.agents.response import ConversationResponse

__all__ = ["ConversationResponse"]
