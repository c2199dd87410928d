"""``pick_an_available_port(host="127.0.0.1")``: a TCP port free right now (the OS picks it).

It may be taken by someone else before you bind it: prefer binding port 0 where you can."""

from __future__ import annotations

import socket

__all__ = ["pick_an_available_port"]


def pick_an_available_port(host: str = "127.0.0.1") -> int:
    with socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])
