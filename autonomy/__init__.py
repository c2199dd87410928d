"""autonomy: a self-hostable runtime for multi-agent Python apps.

Nodes host workers and agents; nodes of a zone find each other and delegate work over the cluster's
fabric; the ``autonomy`` CLI deploys zones onto a cluster.
"""

import warnings as _warnings

# Upstream silences these globally on import; apps written for it expect quiet output.
_warnings.simplefilter("ignore", DeprecationWarning)
_warnings.simplefilter("ignore", ResourceWarning)

# --- errors and logs ---------------------------------------------------------------------------
from autonomy.errors import *  # noqa: E402,F403
from autonomy.errors import __all__ as _errors_all  # noqa: E402
from autonomy.logs import (  # noqa: E402
    debug,
    error,
    get_logger,
    info,
    set_log_level,
    set_log_levels,
    warning,
)

# --- node runtime ------------------------------------------------------------------------------
from autonomy.nodes import (  # noqa: E402
    Context,
    Mailbox,
    Node,
    NodeController,
    NodeRequest,
    NodeResponse,
    Worker,
)
from autonomy.nodes.mailbox import NodeMailbox as RustMailbox  # noqa: E402

# --- HTTP --------------------------------------------------------------------------------------
from autonomy.http import HttpServer, NodeDep, WebSocketNodeDep  # noqa: E402

# --- fabric: remote nodes and discovery ---------------------------------------------------------
from autonomy.nodes import Cluster, RemoteNode, Zone  # noqa: E402  # isort: skip

# --- agents: messages, memory, agents -----------------------------------------------------------
from autonomy.agents import Agent, AgentReference, ConversationResponse  # noqa: E402  # isort: skip
from autonomy.memory import Memory  # noqa: E402  # isort: skip
from autonomy.nodes.message import (  # noqa: E402  # isort: skip
    AssistantMessage, SystemMessage, ToolCallResponseMessage, UserMessage,
)

# --- zones: autonomy.yaml, secrets.yaml, image plans ---------------------------------------------
from autonomy.zones import (  # noqa: E402  # isort: skip
    ContainerPlan, ContainerSpec, PodSpec, SecretRef, ZoneSpec, load_secrets, load_zone, plan_container,
    resolve_env,
)

# --- local cluster: the control plane's client ----------------------------------------------------
from autonomy.cluster import ClusterClient  # noqa: E402  # isort: skip

# --- models, tools and MCP -----------------------------------------------------------------------
from autonomy.models import Model  # noqa: E402  # isort: skip
from autonomy.tools import InvokableTool, McpTool, Tool, ToolFactory  # noqa: E402  # isort: skip

# --- model gateway (control plane): the cluster's OpenAI-compatible endpoint ---------------------
from autonomy.gateway import (  # noqa: E402  # isort: skip
    GatewayConfig, GatewayServer, ProviderConfig, UsageRecorder, ZoneKeys, create_gateway_app,
)


def __getattr__(name: str) -> object:
    # McpClient and McpServer import the mcp SDK (~0.15 s): loaded on first use.
    if name in ("McpClient", "McpServer"):
        import autonomy.tools

        return getattr(autonomy.tools, name)
    raise AttributeError(f"module 'autonomy' has no attribute {name!r}")


__all__ = [
    *_errors_all,
    "debug", "error", "get_logger", "info", "set_log_level", "set_log_levels", "warning",
    "Context", "Mailbox", "Node", "NodeController", "NodeRequest", "NodeResponse", "Worker", "RustMailbox",
    "HttpServer", "NodeDep", "WebSocketNodeDep",
    "RemoteNode", "Zone", "Cluster",
    "Agent", "AgentReference", "ConversationResponse", "Memory",
    "AssistantMessage", "SystemMessage", "ToolCallResponseMessage", "UserMessage",
    "ZoneSpec", "PodSpec", "ContainerSpec", "SecretRef", "ContainerPlan",
    "load_zone", "load_secrets", "resolve_env", "plan_container",
    "ClusterClient",
    "Model", "Tool", "McpTool", "McpClient", "McpServer", "InvokableTool", "ToolFactory",
    "GatewayConfig", "GatewayServer", "ProviderConfig", "UsageRecorder", "ZoneKeys", "create_gateway_app",
]
