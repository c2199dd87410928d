"""``autonomy zone repl``: the zone owner's terminal to a pod's ``Repl`` (upstream's ``repl`` outlet).

A node's ``Repl`` listens on ``127.0.0.1:7000`` (``DEFAULT_HOST_REPL``/``DEFAULT_PORT_REPL``) inside its
pod's network namespace: nothing outside the pod reaches it, other zones' pods included (and a REPL bound
wider is still behind the nftables rules between zones). To attach, the owner asks the controller over
its socket (``controller.sock``, 0600 in the owner's ``AUTONOMY_HOME``: whoever may deploy the zone may
attach to it): ``POST /zones/{zone}/repl {"pod", "clone"}``.

The controller then

1. connects to the REPL port on the pod's own loopback: a short-lived thread enters the pod's network
   namespace (``setns``), connects, and ends (the socket stays in the pod's namespace); nothing listens
   anywhere new, and a REPL that is not listening is a clear error now, not a hang later;
2. makes a one-use Unix socket ``AUTONOMY_HOME/repl/<random>.sock`` (0600 in a 0700 directory) and
   answers its path; the first client to connect within :data:`ACCEPT_TIMEOUT` seconds is bridged to the
   pod's REPL byte for byte (upstream's framing passes through unchanged: ``nc -U <path>`` works too),
   and the socket file is removed at once;
3. closes both sides when either one closes. The bridge is a task the controller owns.

Which port: the pod's node container's ``DEFAULT_PORT_REPL`` from ``autonomy.yaml``, else 7000; only
that port is offered (not any port of the pod). Deployers that can do this implement
:class:`ReplTargets`; the others refuse with a message saying so.
"""

from __future__ import annotations

import asyncio
import contextlib
import ctypes
import ctypes.util
import logging
import os
import secrets
import socket
import threading
from collections.abc import Callable, Coroutine
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

from autonomy.errors import ClusterError

__all__ = ["ReplTargets", "ReplTarget", "open_repl", "connect_in_netns", "repl_port", "DEFAULT_REPL_PORT",
           "ACCEPT_TIMEOUT"]

log = logging.getLogger("autonomy.cluster.repl")

DEFAULT_REPL_PORT = 7000
ACCEPT_TIMEOUT = 30.0
CONNECT_TIMEOUT = 5.0
_CLONE_NEWNET = 0x40000000


class ReplTarget:
    """Where a pod instance's REPL is: its network namespace file and the loopback port inside it."""

    __slots__ = ("label", "netns", "port")

    def __init__(self, label: str, netns: str, port: int) -> None:
        self.label, self.netns, self.port = label, netns, port


@runtime_checkable
class ReplTargets(Protocol):
    def repl_target(self, zone: str, pod: str | None, clone: int) -> ReplTarget:
        """The REPL of ``zone``'s pod ``pod`` (None: the main pod), clone ``clone``; ZoneNotFound or
        ClusterError (naming the pods) when there is no such pod instance."""
        ...


def repl_port(pod: Any) -> int:
    """``DEFAULT_PORT_REPL`` of the pod's containers in ``autonomy.yaml`` (literal values), else 7000."""
    for container in pod.containers:
        env = container.env if isinstance(container.env, dict) else {
            k: v for item in (container.env or []) for k, v in dict(item).items()}
        value = env.get("DEFAULT_PORT_REPL")
        if value is not None and str(value).isdigit():
            return int(value)
    return DEFAULT_REPL_PORT


def _connect_in_thread(netns: str, port: int, result: dict[str, Any]) -> None:
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c"), use_errno=True)
        fd = os.open(netns, os.O_RDONLY | os.O_CLOEXEC)
        try:
            if libc.setns(fd, _CLONE_NEWNET) != 0:
                err = ctypes.get_errno()
                raise OSError(err, f"setns: {os.strerror(err)}")
        finally:
            os.close(fd)
        # This thread now lives in the pod's namespace; it ends right after, the socket stays there.
        result["socket"] = socket.create_connection(("127.0.0.1", port), timeout=CONNECT_TIMEOUT)
    except BaseException as exc:  # handed to the caller's thread, which raises it
        result["error"] = exc


def connect_in_netns(netns: str, port: int) -> socket.socket:
    """A TCP connection to ``127.0.0.1:port`` inside the network namespace ``netns`` (blocking; needs
    CAP_SYS_ADMIN, which the local cluster's controller has as root)."""
    result: dict[str, Any] = {}
    thread = threading.Thread(target=_connect_in_thread, args=(netns, port, result), name="repl-setns", daemon=True)
    thread.start()
    thread.join()
    if "error" in result:
        raise result["error"]
    sock: socket.socket = result["socket"]
    sock.settimeout(None)
    return sock


async def _pump(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    try:
        while data := await reader.read(65536):
            writer.write(data)
            await writer.drain()
    except (ConnectionError, OSError):
        pass
    finally:
        with contextlib.suppress(OSError, RuntimeError):
            if writer.can_write_eof():
                writer.write_eof()


def _remove(path: Path) -> None:
    with contextlib.suppress(FileNotFoundError):
        os.unlink(path)


async def _bridge(pod_sock: socket.socket, path: Path, server: asyncio.Server,
                  accepted: asyncio.Future[tuple[asyncio.StreamReader, asyncio.StreamWriter]]) -> None:
    pod_reader, pod_writer = await asyncio.open_connection(sock=pod_sock)
    try:
        try:
            client_reader, client_writer = await asyncio.wait_for(accepted, ACCEPT_TIMEOUT)
        except TimeoutError:
            log.info("repl socket %s: no client within %.0f s; closed", path, ACCEPT_TIMEOUT)
            return
        finally:
            server.close()
            _remove(path)
        try:
            await asyncio.gather(_pump(client_reader, pod_writer), _pump(pod_reader, client_writer))
        finally:
            client_writer.close()
    finally:
        pod_writer.close()
        _remove(path)


async def open_repl(home: Path, target: ReplTarget,
                    spawn: Callable[[Coroutine[Any, Any, Any], str], Any]) -> dict[str, Any]:
    """Connect to ``target``'s REPL and offer it on a one-use Unix socket; ``spawn`` owns the bridge task.
    Returns ``{"socket": path, "pod": label, "port": port}``."""
    try:
        pod_sock = await asyncio.to_thread(connect_in_netns, target.netns, target.port)
    except OSError as exc:
        raise ClusterError(
            f"nothing answers on 127.0.0.1:{target.port} in pod {target.label} ({exc.strerror or exc}): "
            f"start a REPL in the app (`await Repl.start(agent)`, which listens on DEFAULT_PORT_REPL, "
            f"default {DEFAULT_REPL_PORT}), and check `autonomy zone logs`") from exc
    directory = home / "repl"
    directory.mkdir(mode=0o700, exist_ok=True)
    os.chmod(directory, 0o700)  # tighten one that exists: never inherit a wider mode
    path = directory / f"{secrets.token_hex(8)}.sock"
    loop = asyncio.get_running_loop()
    accepted: asyncio.Future[tuple[asyncio.StreamReader, asyncio.StreamWriter]] = loop.create_future()

    async def on_client(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        if accepted.done():  # one use: a second client is turned away
            writer.close()
            return
        accepted.set_result((reader, writer))

    try:
        server = await asyncio.start_unix_server(on_client, path=str(path))
        os.chmod(path, 0o600)  # in a 0700 directory: nobody else could reach it even before this
    except BaseException:
        pod_sock.close()
        raise
    spawn(_bridge(pod_sock, path, server, accepted), f"repl bridge to {target.label}")
    return {"socket": str(path), "pod": target.label, "port": target.port}
