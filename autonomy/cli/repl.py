"""``autonomy zone repl``: the terminal attached to a pod's ``Repl`` through the controller.

The controller hands out a one-use Unix socket bridged to the REPL (autonomy/cluster/repl_bridge.py).
Lines typed here go to the REPL as they are (a ``\"\"\"`` line starts and ends a multi-line block);
what the REPL writes is upstream's framing, ``<byte length>\\n<bytes>`` with ``0\\n`` ending an answer.
By default the frames are decoded and a ``> `` prompt is shown after each answer; ``--raw`` passes the
bytes through unchanged, exactly what ``nc`` shows. End with ``:quit``, Ctrl-D or Ctrl-C.
"""

from __future__ import annotations

import contextlib
import socket
import sys
import threading
from typing import BinaryIO

from autonomy.errors import ClusterError

__all__ = ["attach", "FrameDecoder"]

PROMPT = b"> "


class FrameDecoder:
    """Turns the REPL's frames into text: ``feed(bytes)`` returns what to print now."""

    def __init__(self) -> None:
        self._buffer = b""

    def feed(self, data: bytes) -> bytes:
        self._buffer += data
        out = b""
        while True:
            header, newline, rest = self._buffer.partition(b"\n")
            if not newline:
                return out
            if not header.strip().isdigit():  # not a frame: show it as it is
                out += header + newline
                self._buffer = rest
                continue
            length = int(header)
            if length == 0:  # the end of an answer
                out += b"\n" + PROMPT
                self._buffer = rest
                continue
            if len(rest) < length:
                return out
            out += rest[:length]
            self._buffer = rest[length:]
            if out.endswith(b"\n\n"):  # a REPL message: the prompt goes after it
                out += PROMPT


def attach(path: str, stdin: BinaryIO | None = None, stdout: BinaryIO | None = None, raw: bool = False) -> None:
    """Connect to the REPL socket ``path`` and pump ``stdin``/``stdout`` until the REPL closes."""
    stdin = stdin or sys.stdin.buffer
    stdout = stdout or sys.stdout.buffer
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        sock.connect(path)
    except OSError as exc:
        sock.close()
        raise ClusterError(f"cannot attach to the REPL socket {path} ({exc.strerror or exc}): it serves one client "
                           "and closes 30 s after it was opened; run `autonomy zone repl` again") from exc

    def send() -> None:
        try:
            for line in iter(stdin.readline, b""):
                sock.sendall(line)
        except OSError:
            return
        with contextlib.suppress(OSError):
            sock.shutdown(socket.SHUT_WR)  # end of input: the REPL closes the session

    threading.Thread(target=send, name="repl-stdin", daemon=True).start()
    decoder = None if raw else FrameDecoder()
    try:
        while data := sock.recv(65536):
            stdout.write(data if decoder is None else decoder.feed(data))
            stdout.flush()
    finally:
        sock.close()
