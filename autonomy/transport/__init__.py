"""How messages leave a node: the in-process transport and the NATS fabric."""

from autonomy.transport.base import FabricConfig, LocalTransport, Transport

__all__ = ["FabricConfig", "LocalTransport", "Transport"]
