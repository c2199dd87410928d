"""Agents: an LLM loop with tools and memory behind a name, one worker per conversation."""

from autonomy.agents.agent import Agent, key_extractor, prepare_tools, system_message
from autonomy.agents.builtin_tools import AskUserForInput as AskUserForInputTool
from autonomy.agents.context import (
    AdditionalContextSection,
    ContextSection,
    ContextSummaryConfig,
    ContextTemplate,
    ConversationHistorySection,
    FrameworkInstructionsSection,
    SummarizedHistorySection,
    SystemInstructionsSection,
    WorkspaceReminderSection,
)
from autonomy.agents.errors import (
    AgentError,
    AgentStartTimeoutError,
    AgentStopTimeoutError,
    AgentTimeoutError,
    SendMessageTimeoutError,
)
from autonomy.agents.reference import AgentReference, ReceiveReference, Reference
from autonomy.agents.repl import Repl
from autonomy.agents.response import ConversationResponse
from autonomy.agents.state import State, StateMachine
from autonomy.agents.subagents import SubagentConfig, Subagents
from autonomy.agents.voice import VoiceAgent, VoiceConfig, VoiceSession

__all__ = ["Agent", "AgentReference", "ReceiveReference", "Reference", "ConversationResponse", "State",
           "StateMachine", "AgentError", "AgentTimeoutError", "AgentStartTimeoutError", "AgentStopTimeoutError",
           "SendMessageTimeoutError", "key_extractor", "prepare_tools", "system_message", "AskUserForInputTool",
           "ContextSection", "ContextTemplate", "ContextSummaryConfig", "SystemInstructionsSection",
           "FrameworkInstructionsSection", "ConversationHistorySection", "SummarizedHistorySection",
           "AdditionalContextSection", "WorkspaceReminderSection", "Subagents", "SubagentConfig", "Repl",
           "VoiceAgent", "VoiceConfig", "VoiceSession"]
