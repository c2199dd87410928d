"""``ConversationResponse``: builds the snippets of an answer, streamed or not (upstream helper)."""

from __future__ import annotations

from typing import Any

from autonomy.agents.protocol import ConversationSnippet, StreamedConversationSnippet

__all__ = ["ConversationResponse"]


class ConversationResponse:
    """Makes the reply snippets of one answer in ``scope``/``conversation``.

    With ``stream=True`` each :meth:`make_snippet` is a ``StreamedConversationSnippet`` numbered from 1;
    :meth:`make_finished_snippet` ends the stream with an empty finished part.
    """

    def __init__(self, scope: str, conversation: str, stream: bool = False) -> None:
        self.scope = scope
        self.conversation = conversation
        self.stream = stream
        self.part_nb = 0

    def make_snippet(self, message: Any, finished: bool = False) -> ConversationSnippet | StreamedConversationSnippet:
        messages = message if isinstance(message, list) else [message]
        snippet = ConversationSnippet(self.scope, self.conversation, messages)
        if not self.stream:
            return snippet
        self.part_nb += 1
        return StreamedConversationSnippet(snippet, self.part_nb, finished)

    def make_finished_snippet(self) -> ConversationSnippet | StreamedConversationSnippet:
        return self.make_snippet([], finished=True)
