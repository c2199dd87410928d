"""``cluster enroll --runtime docker``: the Docker Engine must answer before anything is enrolled.

The check runs in the CLI (which may use :mod:`autonomy.images`; the cluster client may not), before
``cluster.json`` is written: an unreachable engine is one line naming the flag, exit non-zero, and no
cluster is left half-enrolled (the cluster client also forgets a cluster whose first controller start failed).
"""

from __future__ import annotations

from autonomy.errors import ClusterUnavailable

__all__ = ["check_runtime"]


def check_runtime(flag: str | None) -> None:
    """Raise :class:`ClusterUnavailable` naming ``--runtime`` (or ``AUTONOMY_RUNTIME``) when the runtime
    asked for is ``docker`` and no Docker Engine answers (``DOCKER_HOST``, else the default socket)."""
    from autonomy.cluster.runtime_choice import ENV, requested_runtime

    if requested_runtime(flag) != "docker":
        return
    from autonomy.images import connect
    from autonomy.images.errors import DockerUnavailable

    try:
        connect(timeout=10).close()
    except DockerUnavailable as exc:
        where = "--runtime docker" if flag is not None else f"{ENV}=docker"
        raise ClusterUnavailable(
            f"{where}: the Docker Engine at {exc.url} does not answer ({exc.detail}): start dockerd "
            "(scripts/system-deps does, as root), or enroll with --runtime process") from None
