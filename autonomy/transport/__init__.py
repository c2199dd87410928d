"""How messages leave a node: the in-process transport and the NATS fabric."""

from autonomy.transport.base import FabricConfig, LocalTransport, Transport

# --- fabric (credentials, embedded NATS) ---------------------------------------------------------
from autonomy.transport.credentials import (
    ClusterCredentials,
    NodeCredentials,
    TlsMaterial,
    load_node_credentials,
)
from autonomy.transport.embedded import EmbeddedNats

__all__ = ["FabricConfig", "LocalTransport", "Transport",
           "ClusterCredentials", "NodeCredentials", "TlsMaterial", "load_node_credentials", "EmbeddedNats"]
