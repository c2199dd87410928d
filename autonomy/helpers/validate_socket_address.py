"""``validate_socket_address(address)``: ``(host, port)`` of a ``host:port`` string, or ValueError."""

from __future__ import annotations

from autonomy.nodes.address import parse_socket_address

__all__ = ["validate_socket_address"]


def validate_socket_address(address: str | int, default_host: str = "127.0.0.1") -> tuple[str, int]:
    """``(host, port)``; ValueError naming the address when it is not one or the port is out of range."""
    try:
        host, port = parse_socket_address(address, default_host)
    except ValueError:
        raise ValueError(f"Invalid socket address {address!r}: expected 'host:port', ':port' or 'port'") from None
    if not 0 <= port <= 65535:
        raise ValueError(f"Invalid socket address {address!r}: the port must be between 0 and 65535")
    return host, port
