"""Upstream's public names, importable from the modules upstream apps import them from (docs/upstream.md)."""

from __future__ import annotations

import importlib

import pytest

import autonomy

TOP_LEVEL = """Agent AgentReference HttpServer NodeDep WebSocketNodeDep Repl ConversationResponse ContextSection
AdditionalContextSection SummarizedHistorySection ContextSummaryConfig RustMailbox McpClient McpServer Eval Metric
TestCase TestOk TestError get_logger info warning error debug set_log_level set_log_levels InfoContext DebugContext
Model Node RemoteNode NodeController NodeRequest NodeResponse Mailbox Worker Context SystemMessage UserMessage
AssistantMessage ToolCallResponseMessage FlowReference Flow FlowOperation START END Cluster Zone Memory McpTool Tool
FilesystemTools ToolFactory Subagents Workspace WorkspaceMode gather Knowledge KnowledgeProvider KnowledgeAggregator
UnsearchableKnowledge SearchableKnowledge NoopKnowledge Database InMemory SearchHit SearchResults TextPiece
TextExtractor Chunker NaiveChunker KnowledgeTool VoiceConfig""".split()

LATER: list[str] = []  # every upstream name is here now

MODULES = {
    "autonomy.agents": ["Agent", "AgentReference", "Repl", "ConversationResponse", "VoiceAgent", "VoiceSession"],
    "autonomy.agents.agent": ["Agent", "State", "StateMachine", "system_message", "key_extractor", "prepare_tools"],
    "autonomy.agents.context": ["ContextTemplate", "ContextSection", "SystemInstructionsSection",
                                "FrameworkInstructionsSection", "ConversationHistorySection",
                                "SummarizedHistorySection", "AdditionalContextSection", "WorkspaceReminderSection"],
    "autonomy.agents.errors": ["AgentTimeoutError", "AgentStartTimeoutError", "AgentStopTimeoutError",
                               "SendMessageTimeoutError"],
    "autonomy.agents.http": ["HttpServer", "NodeDep", "WebSocketNodeDep"],
    "autonomy.agents.repl": ["Repl"],
    "autonomy.agents.socket_address": ["parse_socket_address"],
    "autonomy.agents.conversation_response": ["ConversationResponse"],
    "autonomy.clusters": ["Cluster", "Zone"],
    "autonomy.clusters.zone": ["Zone"],
    "autonomy.clusters.cluster": ["Cluster"],
    "autonomy.evals": ["Eval", "Metric", "TestCase", "TestOk", "TestError"],
    "autonomy.flows": ["Flow", "FlowOperation", "START", "END"],
    "autonomy.flows.operation": ["FlowOperation", "START", "END"],
    "autonomy.gather": ["gather"],
    "autonomy.helpers": ["validate_address", "parse_socket_address", "is_port_free", "pick_an_available_port",
                         "validate_socket_address"],
    "autonomy.helpers.validate_address": ["validate_address"],
    "autonomy.helpers.parse_socket_address": ["parse_socket_address"],
    "autonomy.logs": ["get_logger", "set_log_level", "set_log_levels", "get_log_levels", "InfoContext",
                      "DebugContext"],
    "autonomy.memory": ["Memory"],
    "autonomy.memory.memory": ["Memory", "find_safe_trim_count", "validate_tool_pairing"],
    "autonomy.models": ["Model"],
    "autonomy.nodes": ["Node", "Mailbox", "Worker", "Context"],
    "autonomy.nodes.message": ["Phase", "ConversationRole", "ConversationSnippet", "FlowReference", "AgentReference",
                               "UserMessage", "SystemMessage", "AssistantMessage", "ToolCallResponseMessage"],
    "autonomy.nodes.remote": ["RemoteNode", "NodeController", "NodeRequest", "NodeResponse"],
    "autonomy.tools": ["Tool", "McpTool", "FilesystemTools", "ToolFactory", "Workspace", "WorkspaceMode"],
    "autonomy.tools.filesystem": ["FilesystemTools"],
    "autonomy.tools.mcp": ["McpTool", "McpClient", "McpServer"],
    "autonomy.tools.factory": ["ToolFactory"],
    "autonomy.tools.subagents": ["Subagents", "SubagentConfig"],
    "autonomy.tools.tool": ["Tool"],
    "autonomy.knowledge": ["Knowledge", "KnowledgeProvider", "KnowledgeAggregator", "UnsearchableKnowledge",
                           "SearchableKnowledge", "NoopKnowledge", "Database", "InMemory", "SearchHit",
                           "SearchResults", "TextPiece", "TextExtractor", "Chunker", "NaiveChunker", "KnowledgeTool"],
    "autonomy.knowledge.noop": ["NoopKnowledge"],
    "autonomy.agents.voice": ["VoiceConfig", "VoiceAgent", "VoiceSession"],
    "autonomy.logs.logs": ["get_logger", "info", "warning", "error", "debug", "set_log_level", "set_log_levels",
                           "get_log_levels", "apply_log_levels", "InfoContext", "DebugContext"],
    "autonomy.logs.formatter": ["Formatter"],
    "autonomy.models.clients": ["GatewayClient", "AnthropicGatewayClient", "LiteLLMClient", "DefaultModelClient",
                                "PROVIDER_ALIASES", "ALL_PROVIDER_ALLOWED_FULL_NAMES", "normalize_messages",
                                "DEFAULT_GATEWAY_URL", "DEFAULT_GATEWAY_API_KEY", "get_gateway_url",
                                "get_gateway_api_key", "use_anthropic_sdk", "clear_token_cache",
                                "get_token_expiration", "get_token_time_remaining"],
    "autonomy.models.clients.gateway_config": ["get_gateway_url", "get_gateway_api_key",
                                               "get_client_metadata_headers", "clear_token_cache"],
    "autonomy.models.clients.gateway_client": ["GatewayClient"],
    "autonomy.models.clients.anthropic_gateway_client": ["AnthropicGatewayClient"],
    "autonomy.models.clients.default": ["DefaultModelClient"],
    "autonomy.models.clients.litellm_client": ["LiteLLMClient", "PROVIDER_ALIASES", "ALL_PROVIDER_ALLOWED_FULL_NAMES",
                                               "normalize_messages"],
    "autonomy.models.clients.shared_clients": ["get_shared_openai_client", "get_shared_anthropic_client"],
    "autonomy.models.model": ["Model"],
    "autonomy.planning": ["Planner", "CoTPlanner", "ReActPlanner", "DynamicPlanner"],
    "autonomy.planning.protocol": ["Plan", "Planner"],
    "autonomy.planning.cot": ["CoTPlanner", "CotPlan"],
    "autonomy.planning.react": ["ReActPlanner", "ReActPlan"],
    "autonomy.planning.dynamic": ["DynamicPlanner", "DynamicPlan"],
    "autonomy.planning.utils": ["complete_think_chat"],
    "autonomy.nodes.node": ["Node"],
    "autonomy.nodes.protocol": ["Worker", "Context", "Mailbox"],
    "autonomy.nodes.request": ["NodeRequest", "NodeResponse"],
    "autonomy.tools.protocol": ["InvokableTool"],
    "autonomy.flows.flow": ["Flow"],
    "autonomy.evals.eval": ["Eval", "Metric", "TestCase", "TestOk", "TestError"],
    "autonomy.knowledge.knowledge": ["Knowledge"],
    "autonomy.knowledge.searchable": ["SearchableKnowledge"],
    "autonomy.knowledge.unsearchable": ["UnsearchableKnowledge"],
    "autonomy.knowledge.in_memory": ["InMemory"],
    "autonomy.knowledge.database": ["Database"],
    "autonomy.knowledge.tool": ["KnowledgeTool"],
    "autonomy.knowledge.protocol": ["KnowledgeProvider", "Storage"],
    "autonomy.knowledge.aggregator": ["KnowledgeAggregator"],
    "autonomy.knowledge.search": ["SearchHit", "SearchResults", "TextPiece"],
    "autonomy.knowledge.util": ["download_url"],
    "autonomy.knowledge.chunkers": ["Chunker", "NaiveChunker"],
    "autonomy.knowledge.chunkers.naive": ["NaiveChunker"],
    "autonomy.knowledge.chunkers.protocol": ["Chunker"],
    "autonomy.knowledge.extractors": ["TextExtractor", "create_extractor"],
    "autonomy.knowledge.extractors.protocol": ["TextExtractor"],
    "autonomy.knowledge.extractors.multi_document": ["MultiDocumentExtractor"],
    "autonomy.knowledge.extractors.plain": ["PlainTextExtractor"],
    "autonomy.knowledge.extractors.pypdfium2": ["PdfTextExtractor"],
}


def test_top_level_has_upstreams_names_except_the_later_ones():
    missing = [n for n in TOP_LEVEL if n not in autonomy.__all__ or not hasattr(autonomy, n)]
    assert missing == []
    assert [n for n in LATER if hasattr(autonomy, n)] == []


@pytest.mark.parametrize("module", sorted(MODULES))
def test_upstream_module_paths(module):
    imported = importlib.import_module(module)
    assert [n for n in MODULES[module] if not hasattr(imported, n)] == []
