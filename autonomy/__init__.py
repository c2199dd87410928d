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
from typing import TYPE_CHECKING

from autonomy.assembly import assemble as _assemble
from autonomy.errors import *  # noqa: F403
from autonomy.errors import __all__ as _errors_all
from autonomy.gather import gather  # eager: a lazy name would lose to the submodule of the same name
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

# Here the pieces meet: Node.start gets its HTTP server, the node controller its agent methods (each
# imported on first use, see assembly.py).
_assemble()

# Everything above the node runtime is imported on first use (``autonomy.Agent``, ``from autonomy import
# Model``): a node process that runs only workers never pays for agents, models, knowledge, FastAPI or
# pydantic (~0.5 s of CPU per process, docs/startup.md). tests/test_startup_imports.py keeps it so.
_LAZY = {
    **dict.fromkeys(["AdditionalContextSection", "Agent", "AgentReference", "AskUserForInputTool", "ContextSection",
                     "ContextSummaryConfig", "ContextTemplate", "ConversationResponse", "SubagentConfig",
                     "Subagents", "SummarizedHistorySection"], "autonomy.agents"),
    **dict.fromkeys(["AssistantMessage", "SystemMessage", "ToolCallResponseMessage", "UserMessage"],
                    "autonomy.agents.protocol"),
    "Repl": "autonomy.agents.repl",
    "VoiceConfig": "autonomy.agents.voice",
    **dict.fromkeys(["Eval", "Metric", "TestCase", "TestError", "TestOk"], "autonomy.evals"),
    **dict.fromkeys(["END", "START", "Flow", "FlowOperation", "FlowReference"], "autonomy.flows"),
    **dict.fromkeys(["HttpServer", "NodeDep", "WebSocketNodeDep"], "autonomy.http"),
    **dict.fromkeys(["Chunker", "Database", "InMemory", "Knowledge", "KnowledgeAggregator", "KnowledgeProvider",
                     "KnowledgeTool", "NaiveChunker", "NoopKnowledge", "SearchableKnowledge", "SearchHit",
                     "SearchResults", "TextExtractor", "TextPiece", "UnsearchableKnowledge"], "autonomy.knowledge"),
    "Memory": "autonomy.memory",
    "Model": "autonomy.models",
    # The mcp SDK takes ~0.15 s to import: McpClient and McpServer load it on first use.
    **dict.fromkeys(["FilesystemTools", "InvokableTool", "McpTool", "Tool", "ToolFactory", "Workspace",
                     "WorkspaceMode", "McpClient", "McpServer"], "autonomy.tools"),
}

if TYPE_CHECKING:  # what type checkers and IDEs see: the same names, imported eagerly
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
    from autonomy.evals import Eval, Metric, TestCase, TestError, TestOk
    from autonomy.flows import END, START, Flow, FlowOperation, FlowReference
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
    from autonomy.memory import Memory
    from autonomy.models import Model
    from autonomy.tools import (
        FilesystemTools,
        InvokableTool,
        McpClient,
        McpServer,
        McpTool,
        Tool,
        ToolFactory,
        Workspace,
        WorkspaceMode,
    )


def __getattr__(name: str) -> object:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'autonomy' has no attribute {name!r}")
    import importlib

    value = getattr(importlib.import_module(module), name)
    globals()[name] = value  # the next lookup is a plain attribute
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *_LAZY})


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
    "McpClient", "McpServer",
    "Knowledge", "KnowledgeProvider", "KnowledgeAggregator", "UnsearchableKnowledge", "SearchableKnowledge",
    "NoopKnowledge", "Database", "InMemory", "SearchHit", "SearchResults", "TextPiece", "TextExtractor", "Chunker",
    "NaiveChunker", "KnowledgeTool", "VoiceConfig",
]
