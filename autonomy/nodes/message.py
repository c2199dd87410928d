"""Upstream's import path of the agent message protocol: a re-export, nothing defined here.

The dataclasses live in :mod:`autonomy.agents.protocol`, their JSON codec in :mod:`autonomy.agents.codec`
(the OpenAI form in :mod:`autonomy.models.chat_format`). ``autonomy.nodes`` knows nothing of agents: this
module is the one documented exception, kept for apps written for upstream (docs/architecture.md;
import-linter ignores exactly these imports). ``AgentReference`` is importable from here as upstream
has it.
"""

from autonomy.agents.codec import from_dict, from_json, message_from_dict, message_to_openai, to_dict, to_json
from autonomy.agents.protocol import (
    AgentMessage,
    AssistantMessage,
    ConversationMessage,
    ConversationRole,
    ConversationSnippet,
    Error,
    FunctionToolCall,
    GetConversationsRequest,
    GetConversationsResponse,
    GetConversationStateRequest,
    GetConversationStateResponse,
    GetIdentifierRequest,
    GetIdentifierResponse,
    ImageContent,
    ImageQuality,
    MessageContentType,
    Phase,
    StreamedConversationSnippet,
    SystemMessage,
    TextContent,
    ToolCall,
    ToolCallResponseMessage,
    UserMessage,
    content_text,
)
from autonomy.agents.reference import AgentReference, ReceiveReference, Reference
from autonomy.flows.reference import FlowReference

__all__ = [
    "MessageContentType", "Phase", "ConversationRole", "ImageQuality", "TextContent", "ImageContent",
    "FunctionToolCall", "ToolCall", "UserMessage", "SystemMessage", "AssistantMessage",
    "ToolCallResponseMessage", "ConversationMessage", "ConversationSnippet", "StreamedConversationSnippet",
    "GetIdentifierRequest", "GetIdentifierResponse", "GetConversationsRequest", "GetConversationsResponse",
    "GetConversationStateRequest", "GetConversationStateResponse", "Error", "AgentMessage",
    "to_dict", "to_json", "from_dict", "from_json", "message_from_dict", "message_to_openai", "content_text",
    "AgentReference", "ReceiveReference", "Reference", "FlowReference",
]
