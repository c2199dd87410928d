"""autonomy: a self-hostable runtime for multi-agent Python apps.

Nodes host workers and agents; nodes of a zone find each other and delegate work over the cluster's
fabric; the ``autonomy`` CLI deploys zones onto a cluster.

This module exports the app-facing API (upstream's names). The control plane lives in its own
packages and is not imported by apps: ``autonomy.zones`` (autonomy.yaml), ``autonomy.cluster``
(the local cluster and its client), ``autonomy.gateway`` (the model gateway).
"""

import warnings as _warnings

# Upstream silences these globally on import; apps written for it expect quiet output.
_warnings.simplefilter("ignore", DeprecationWarning)
_warnings.simplefilter("ignore", ResourceWarning)

# ruff: noqa: E402 (the filters above must come first)
from autonomy.agents import (
    AdditionalContextSection,
    Agent,
    AgentReference,
    AskUserForInputTool,
    ContextSection,
    ContextSummaryConfig,
    ContextTemplate,
    ConversationResponse,
    SubagentConfig,
    Subagents,
    SummarizedHistorySection,
)
from autonomy.agents.protocol import AssistantMessage, SystemMessage, ToolCallResponseMessage, UserMessage
from autonomy.agents.repl import Repl
from autonomy.agents.voice import VoiceConfig
from autonomy.assembly import assemble as _assemble
from autonomy.errors import *  # noqa: F403
from autonomy.errors import __all__ as _errors_all
from autonomy.evals import Eval, Metric, TestCase, TestError, TestOk
from autonomy.flows import END, START, Flow, FlowOperation, FlowReference
from autonomy.gather import gather
from autonomy.http import HttpServer, NodeDep, WebSocketNodeDep
from autonomy.knowledge import (
    Chunker,
    Database,
    InMemory,
    Knowledge,
    KnowledgeAggregator,
    KnowledgeProvider,
    KnowledgeTool,
    NaiveChunker,
    NoopKnowledge,
    SearchableKnowledge,
    SearchHit,
    SearchResults,
    TextExtractor,
    TextPiece,
    UnsearchableKnowledge,
)
from autonomy.logs import (
    DebugContext,
    InfoContext,
    debug,
    error,
    get_logger,
    info,
    set_log_level,
    set_log_levels,
    warning,
)
from autonomy.memory import Memory
from autonomy.models import Model
from autonomy.nodes import (
    Cluster,
    Context,
    Mailbox,
    Node,
    NodeController,
    NodeRequest,
    NodeResponse,
    RemoteNode,
    Worker,
    Zone,
)
from autonomy.nodes.mailbox import NodeMailbox as RustMailbox
from autonomy.tools import FilesystemTools, InvokableTool, McpTool, Tool, ToolFactory, Workspace, WorkspaceMode

# Here the pieces meet: Node.start gets its HTTP server, the node controller its agent methods.
_assemble()

_LAZY = {
    # The mcp SDK takes ~0.15 s to import: McpClient and McpServer load it on first use.
    "McpClient": "autonomy.tools",
    "McpServer": "autonomy.tools",
}


def __getattr__(name: str) -> object:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'autonomy' has no attribute {name!r}")
    import importlib

    return getattr(importlib.import_module(module), name)


__all__ = [
    *_errors_all,
    "debug", "error", "get_logger", "info", "set_log_level", "set_log_levels", "warning", "InfoContext", "DebugContext",
    "Context", "Mailbox", "Node", "NodeController", "NodeRequest", "NodeResponse", "Worker", "RustMailbox",
    "HttpServer", "NodeDep", "WebSocketNodeDep",
    "RemoteNode", "Zone", "Cluster",
    "Agent", "AgentReference", "ConversationResponse", "Memory",
    "ContextSection", "ContextTemplate", "AdditionalContextSection", "SummarizedHistorySection", "ContextSummaryConfig",
    "Subagents", "SubagentConfig", "AskUserForInputTool", "Repl",
    "Flow", "FlowOperation", "FlowReference", "START", "END", "gather",
    "Eval", "Metric", "TestCase", "TestOk", "TestError",
    "AssistantMessage", "SystemMessage", "ToolCallResponseMessage", "UserMessage",
    "Model", "Tool", "McpTool", "InvokableTool", "ToolFactory", "FilesystemTools", "Workspace", "WorkspaceMode",
    "McpClient", "McpServer",  # noqa: F405 (from __getattr__)
    "Knowledge", "KnowledgeProvider", "KnowledgeAggregator", "UnsearchableKnowledge", "SearchableKnowledge",
    "NoopKnowledge", "Database", "InMemory", "SearchHit", "SearchResults", "TextPiece", "TextExtractor", "Chunker",
    "NaiveChunker", "KnowledgeTool", "VoiceConfig",
]
