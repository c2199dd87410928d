"""The agent message protocol (spec §1.14, §3.1): the message dataclasses.

Every message between a client and an agent is a JSON object with a ``type`` discriminator
(``conversation_snippet``, ``streamed_conversation_snippet``, the ``get_*`` requests and responses,
``error``). Conversation messages inside a snippet use ``role`` as discriminator. Their JSON codec is
:mod:`autonomy.agents.codec`; upstream's import path for both is ``autonomy.nodes.message``.
"""

from __future__ import annotations

import base64
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

__all__ = [
    "MessageContentType", "Phase", "ConversationRole", "ImageQuality", "TextContent", "ImageContent",
    "FunctionToolCall", "ToolCall", "UserMessage", "SystemMessage", "AssistantMessage",
    "ToolCallResponseMessage", "ConversationMessage", "ConversationSnippet", "StreamedConversationSnippet",
    "GetIdentifierRequest", "GetIdentifierResponse", "GetConversationsRequest", "GetConversationsResponse",
    "GetConversationStateRequest", "GetConversationStateResponse", "Error", "AgentMessage", "content_text",
]


class MessageContentType(StrEnum):
    TEXT = "text"
    IMAGE = "image"


class Phase(StrEnum):
    SYSTEM = "system"
    PLANNING = "planning"
    EXECUTING = "executing"
    WAITING_FOR_INPUT = "waiting_for_input"


class ConversationRole(StrEnum):
    USER = "user"
    SYSTEM = "system"
    ASSISTANT = "assistant"
    TOOL = "tool"


class ImageQuality(StrEnum):
    LOW = "low"
    MEDIUM = "medium"
    HIGH = "high"
    AUTO = "auto"


@dataclass
class TextContent:
    text: str = ""
    type: MessageContentType = MessageContentType.TEXT

    def __add__(self, other: object) -> TextContent:
        if isinstance(other, TextContent):
            return TextContent(self.text + other.text)
        if isinstance(other, str):
            return TextContent(self.text + other)
        return NotImplemented

    def __str__(self) -> str:
        return self.text


@dataclass
class ImageContent:
    """An image: raw ``binary`` bytes or ``encoded`` base64 text (JSON always carries ``encoded``)."""

    binary: bytes | None = None
    quality: ImageQuality = ImageQuality.AUTO
    encoded: str | None = None
    type: MessageContentType = MessageContentType.IMAGE

    def base64(self) -> str:
        if self.encoded is not None:
            return self.encoded
        return base64.b64encode(self.binary or b"").decode("ascii")


Content = TextContent | ImageContent


def _content(value: Any) -> Content:
    if isinstance(value, (TextContent, ImageContent)):
        return value
    if value is None:
        return TextContent("")
    if isinstance(value, str):
        return TextContent(value)
    return TextContent(str(value))


@dataclass
class FunctionToolCall:
    name: str
    arguments: str = ""


@dataclass
class ToolCall:
    id: str
    function: FunctionToolCall
    type: str = "function"


@dataclass
class UserMessage:
    content: Content | str = ""
    phase: Phase = Phase.EXECUTING
    thinking: bool = False
    role: ConversationRole = ConversationRole.USER

    def __post_init__(self) -> None:
        self.content = _content(self.content)


@dataclass
class SystemMessage:
    content: Content | str = ""
    phase: Phase = Phase.SYSTEM
    role: ConversationRole = ConversationRole.SYSTEM

    def __post_init__(self) -> None:
        self.content = _content(self.content)


@dataclass
class AssistantMessage:
    content: Content | str = ""
    phase: Phase = Phase.EXECUTING
    thinking: bool = False
    tool_calls: list[ToolCall] | None = None
    role: ConversationRole = ConversationRole.ASSISTANT

    def __post_init__(self) -> None:
        self.content = _content(self.content)
        if self.tool_calls is None:
            self.tool_calls = []


@dataclass
class ToolCallResponseMessage:
    tool_call_id: str
    name: str
    content: Content | str = ""
    phase: Phase = Phase.EXECUTING
    role: ConversationRole = ConversationRole.TOOL

    def __post_init__(self) -> None:
        self.content = _content(self.content)


ConversationMessage = UserMessage | SystemMessage | AssistantMessage | ToolCallResponseMessage


@dataclass
class ConversationSnippet:
    scope: str = ""
    conversation: str = ""
    messages: list[ConversationMessage] = field(default_factory=list)
    type: str = "conversation_snippet"


@dataclass
class StreamedConversationSnippet:
    """One part of a streamed exchange: requests use ``part_nb=0``; replies count 1..n, the last is ``finished``."""

    snippet: ConversationSnippet
    part_nb: int = 0
    finished: bool = False
    type: str = "streamed_conversation_snippet"


@dataclass
class GetIdentifierRequest:
    scope: str = ""
    conversation: str = ""
    type: str = "get_identifier_request"


@dataclass
class GetIdentifierResponse:
    scope: str = ""
    conversation: str = ""
    identifier: str = ""
    type: str = "get_identifier_response"


@dataclass
class GetConversationsRequest:
    scope: str | None = None
    conversation: str | None = None
    type: str = "get_conversations_request"


@dataclass
class GetConversationsResponse:
    conversations: list[dict[str, Any]] = field(default_factory=list)
    type: str = "get_conversations_response"


@dataclass
class GetConversationStateRequest:
    scope: str = ""
    conversation: str = ""
    type: str = "get_conversation_state_request"


@dataclass
class GetConversationStateResponse:
    is_paused: bool = False
    phase: str = "ready"
    message_count: int = 0
    scope: str = ""
    conversation: str = ""
    type: str = "get_conversation_state_response"


@dataclass
class Error:
    message: str = ""
    type: str = "error"


AgentMessage = (
    ConversationSnippet | StreamedConversationSnippet | GetIdentifierRequest | GetIdentifierResponse
    | GetConversationsRequest | GetConversationsResponse | GetConversationStateRequest
    | GetConversationStateResponse | Error
)


def content_text(content: Any) -> str:
    """The text of a message content (dataclass, dict or string)."""
    if isinstance(content, TextContent):
        return content.text
    if isinstance(content, dict):
        return str(content.get("text") or "")
    if content is None:
        return ""
    return str(content)

