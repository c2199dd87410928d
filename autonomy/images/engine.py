"""The Docker Engine connection and the progress callback every step of the pipeline reports to.

The ``docker`` SDK is an optional dependency (extra ``docker``); :func:`connect` raises
:class:`~autonomy.errors.MissingExtra` without it and :class:`DockerUnavailable` when no engine
answers, so callers never see the SDK's own exceptions for those two cases.
"""

from __future__ import annotations

import os
import socket
from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING, Any

from autonomy.errors import MissingExtra
from autonomy.images.errors import DockerUnavailable

if TYPE_CHECKING:
    import docker

__all__ = ["Progress", "connect", "docker_errors", "drain", "report"]

#: Called with one human-readable line per step of a build, import or push (no trailing newline).
#: It is called from the thread that runs the pipeline; it must not block for long.
Progress = Callable[[str], None]

_DEFAULT_URL = "unix:///var/run/docker.sock"


def docker_errors() -> Any:
    """The ``docker.errors`` module (MissingExtra if the SDK is not installed)."""
    try:
        import docker.errors
    except ImportError as exc:
        raise MissingExtra("Building and pushing images", "docker") from exc
    return docker.errors


def connect(base_url: str | None = None, *, timeout: float = 600) -> docker.DockerClient:
    """A client of the Docker Engine at ``base_url`` (default: ``DOCKER_HOST``, else the default socket)
    that answered a ping. ``timeout`` bounds each API call (an image push of a large layer can take
    minutes on a slow link, hence the generous default).
    """
    errors = docker_errors()
    import docker

    url = base_url or os.environ.get("DOCKER_HOST") or _DEFAULT_URL
    if url.startswith("unix://"):
        # probe the socket ourselves: the SDK leaks its socket when the connection is refused
        _probe_unix_socket(url, url.removeprefix("unix://"))
    try:
        client = docker.DockerClient(base_url=url, timeout=int(timeout))
    except errors.DockerException as exc:
        raise DockerUnavailable(url, str(exc)) from exc
    try:
        client.ping()
    except Exception as exc:  # requests' ConnectionError, the SDK's APIError: all mean "not usable"
        client.close()
        raise DockerUnavailable(url, _short(exc)) from exc
    return client


def report(progress: Progress | None, line: str) -> None:
    """Send ``line`` to ``progress`` if one was given."""
    if progress is not None:
        progress(line)


def drain(stream: Iterable[object]) -> None:
    """Read a streamed answer to its end, so the HTTP response (and its socket) is released."""
    for _ in stream:
        pass


def _probe_unix_socket(url: str, path: str) -> None:
    probe = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        probe.settimeout(10)
        probe.connect(path)
    except OSError as exc:
        raise DockerUnavailable(url, exc.strerror or str(exc)) from exc
    finally:
        probe.close()


def _short(exc: BaseException) -> str:
    text = str(exc) or type(exc).__name__
    first = text.splitlines()[0]
    return first if len(first) <= 200 else first[:197] + "..."
