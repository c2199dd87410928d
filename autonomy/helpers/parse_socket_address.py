"""Upstream module path of ``parse_socket_address`` (the real one is in ``autonomy.nodes.address``)."""

from autonomy.nodes.address import parse_socket_address

__all__ = ["parse_socket_address"]
