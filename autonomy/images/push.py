"""Push an image to a registry and read its digest: what a deploy pins (``repo@sha256:...``).

The digest comes from the push stream (the engine's ``aux`` record, the same digest the registry
answers as ``Docker-Content-Digest``); if an engine sends none, from the image's ``RepoDigests``.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

from autonomy.images.build import split_reference
from autonomy.images.engine import Progress, docker_errors, report
from autonomy.images.engine import drain as _drain
from autonomy.images.errors import ImagePushError

if TYPE_CHECKING:
    import docker

__all__ = ["push_image"]

_DIGEST = re.compile(r"sha256:[0-9a-f]{64}")
_STATUS_SHOWN = {"Pushed", "Layer already exists", "Mounted from"}


def push_image(client: docker.DockerClient, reference: str, *, image: str,
               progress: Progress | None = None) -> str:
    """Push ``reference`` (``registry/repo:tag``, already tagged locally) and return its digest
    (``sha256:...``). Blocks until the registry has the manifest. Progress lines (one per layer pushed,
    and the digest) go to ``progress`` as ``"{image}: ..."``. Raises :class:`ImagePushError`.
    """
    errors = docker_errors()
    repository, tag = split_reference(reference)
    try:
        stream = client.api.push(repository, tag=tag, stream=True, decode=True)
        digest = _follow(stream, image, reference, progress)
        if digest is None:
            digest = _repo_digest(client.images.get(reference).attrs, repository)
    except errors.APIError as exc:
        raise ImagePushError(image, reference, exc.explanation or str(exc)) from exc
    except errors.DockerException as exc:
        raise ImagePushError(image, reference, str(exc)) from exc
    if digest is None:
        raise ImagePushError(image, reference, "the engine reported no digest for the pushed image")
    report(progress, f"{image}: pushed {repository}@{digest}")
    return digest


def _follow(stream: Iterable[dict[str, Any]], image: str, reference: str, progress: Progress | None) -> str | None:
    digest = None
    for chunk in stream:
        if "error" in chunk:
            detail = chunk.get("errorDetail") or {}
            _drain(stream)
            raise ImagePushError(image, reference, str(detail.get("message") or chunk["error"]))
        aux = chunk.get("aux")
        if isinstance(aux, dict) and isinstance(aux.get("Digest"), str):
            digest = aux["Digest"]
            continue
        status = str(chunk.get("status") or "")
        if digest is None and "digest: " in status:  # "<tag>: digest: sha256:... size: N"
            found = _DIGEST.search(status)
            digest = found.group(0) if found else None
        if any(status.startswith(s) for s in _STATUS_SHOWN):
            report(progress, f"{image}: {chunk.get('id', '')} {status}".replace("  ", " "))
    return digest


def _repo_digest(attrs: dict[str, Any], repository: str) -> str | None:
    for entry in attrs.get("RepoDigests") or []:
        repo, _, digest = str(entry).partition("@")
        if repo == repository and _DIGEST.fullmatch(digest):
            return digest
    return None
