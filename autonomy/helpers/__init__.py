"""Upstream's ``autonomy.helpers``: address and port helpers (spec §1.10)."""

from autonomy.helpers.is_port_free import is_port_free
from autonomy.helpers.parse_socket_address import parse_socket_address
from autonomy.helpers.pick_an_available_port import pick_an_available_port
from autonomy.helpers.validate_address import validate_address
from autonomy.helpers.validate_socket_address import validate_socket_address

__all__ = ["is_port_free", "parse_socket_address", "pick_an_available_port", "validate_address",
           "validate_socket_address"]
