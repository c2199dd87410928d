"""The cluster's model gateway: one OpenAI-compatible endpoint in front of every model provider.

Nodes reach it in upstream's "external APIs gateway" mode (``AUTONOMY_USE_EXTERNAL_APIS_GATEWAY=1``,
``AUTONOMY_EXTERNAL_APIS_GATEWAY_URL``, ``AUTONOMY_EXTERNAL_APIS_GATEWAY_API_KEY`` = the zone's key).
The gateway holds the provider keys, so containers never see them. See docs/gateway.md.
"""

from autonomy.gateway.app import Gateway, create_gateway_app
from autonomy.gateway.config import (
    GatewayConfig,
    ProviderConfig,
    ThrottleConfig,
    add_provider,
    list_providers,
    offline_config,
    remove_provider,
)
from autonomy.gateway.keys import ZoneKeys
from autonomy.gateway.routing import CLAUDE_MODEL_IDS, Route, catalog, resolve
from autonomy.gateway.server import GatewayServer
from autonomy.gateway.usage import Usage, UsageRecorder

__all__ = [
    "CLAUDE_MODEL_IDS",
    "Gateway",
    "GatewayConfig",
    "GatewayServer",
    "ProviderConfig",
    "Route",
    "ThrottleConfig",
    "Usage",
    "UsageRecorder",
    "ZoneKeys",
    "add_provider",
    "catalog",
    "create_gateway_app",
    "list_providers",
    "offline_config",
    "remove_provider",
    "resolve",
]
