"""``is_port_free(port, host="127.0.0.1")``: whether a TCP port can be bound now."""

from __future__ import annotations

import socket

__all__ = ["is_port_free"]


def is_port_free(port: int, host: str = "127.0.0.1") -> bool:
    with socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET, socket.SOCK_STREAM) as sock:
        try:
            sock.bind((host, port))
        except OSError:
            return False
    return True
