"""Upstream module path ``autonomy.agents.socket_address`` (ours: ``autonomy.nodes.address``)."""

from autonomy.nodes.address import parse_socket_address

__all__ = ["parse_socket_address"]
