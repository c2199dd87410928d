"""``KnowledgeTool``: a knowledge provider offered to an agent's model as a ``search_knowledge`` tool."""

from __future__ import annotations

import json
from typing import Any

from autonomy.errors import ConfigError
from autonomy.knowledge.provider import KnowledgeProvider

__all__ = ["KnowledgeTool", "NOTHING_FOUND"]

NOTHING_FOUND = "No relevant information found"


class KnowledgeTool:
    """``KnowledgeTool(knowledge, name="search_knowledge")``: takes ``{"query": "..."}``, answers the search's
    text, or ``No relevant information found``. Failures come back as text for the model (never raised)."""

    def __init__(self, knowledge: KnowledgeProvider, name: str = "search_knowledge") -> None:
        from autonomy.tools.protocol import check_tool_name

        if not callable(getattr(knowledge, "search_knowledge", None)):
            raise ConfigError(f"KnowledgeTool(knowledge={knowledge!r}): not a knowledge provider (it needs an async "
                              "search_knowledge(scope, conversation, query) method)")
        self.knowledge = knowledge
        self.name = check_tool_name(name)

    async def spec(self) -> dict[str, Any]:
        what = getattr(self.knowledge, "name", None)
        subject = f"the knowledge base {what!r}" if isinstance(what, str) else "the knowledge base"
        return {"type": "function", "function": {
            "name": self.name,
            "description": f"Search {subject} for information relevant to a query. Returns the most relevant "
                           "passages with the names of their documents.",
            "parameters": {"type": "object", "properties": {"query": {
                "type": "string", "description": "What to look for, in a few words or a question"}},
                "required": ["query"]},
        }}

    async def invoke(self, json_argument: str | None) -> str:
        try:
            arguments = json.loads(json_argument) if json_argument and json_argument.strip() else {}
        except json.JSONDecodeError as exc:
            return f"Tool execution failed: the arguments are not valid JSON: {exc}"
        query = arguments.get("query") if isinstance(arguments, dict) else None
        if isinstance(query, int | float) and not isinstance(query, bool):
            query = str(query)
        if not isinstance(query, str) or not query.strip():
            return "Tool execution failed: 'query' is required: a non-empty string"
        try:
            found = await self.knowledge.search_knowledge(None, None, query)
        except Exception as exc:  # a tool's failure is text for the model, as for every tool
            return f"Tool execution failed: {type(exc).__name__}: {exc}"
        return found or NOTHING_FOUND
