"""Build one image from a folder with a Dockerfile, with the Docker Engine's classic builder.

Decisions (docs/images.md):

- **Classic builder** (the Engine API's ``POST /build``, what the ``docker`` SDK's ``images.build``
  calls). BuildKit needs the buildx plugin, which Debian bookworm does not package; the classic
  builder builds every upstream Dockerfile (multi-stage too) except ``RUN --mount``.
- **``--network host`` for RUN steps** by default: the engine here runs without NAT (its config never
  touches the host firewall), so a ``RUN pip install`` reaches the network only through the host's.
- **No pull of the base** (``pull=False``): ``FROM ghcr.io/build-trust/autonomy-python`` resolves to the
  base image tagged locally (:mod:`autonomy.images.base`); other bases are pulled only when missing.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from autonomy.images.engine import Progress, docker_errors, report
from autonomy.images.engine import drain as _drain
from autonomy.images.errors import ImageBuildError

if TYPE_CHECKING:
    import docker

__all__ = ["build_image", "tag_image"]

TAIL_LINES = 20


def build_image(client: docker.DockerClient, context: Path | str, tags: Sequence[str], *, image: str,
                buildargs: Mapping[str, str] | None = None, labels: Mapping[str, str] | None = None,
                network_mode: str = "host", progress: Progress | None = None) -> str:
    """Build ``context/Dockerfile``, tag the result with every ``repo:tag`` of ``tags`` and return its
    image id (``sha256:...``). Blocks until the build ends; each output line goes to ``progress`` as
    ``"{image}: {line}"``. Raises :class:`ImageBuildError` naming the failed step with the last lines of
    output (the failed build leaves no intermediate containers: ``forcerm``).
    """
    if not tags:
        raise ValueError("build_image needs at least one tag")
    errors = docker_errors()
    context = Path(context)
    lines: deque[str] = deque(maxlen=TAIL_LINES)
    state: dict[str, Any] = {"step": None, "id": None}
    try:
        stream = client.api.build(path=str(context), tag=tags[0], rm=True, forcerm=True, pull=False,
                                  network_mode=network_mode, buildargs=dict(buildargs or {}),
                                  labels=dict(labels or {}), decode=True)
        error = _follow(stream, image, lines, state, progress)
    except errors.APIError as exc:
        error = exc.explanation or str(exc)
    except errors.DockerException as exc:
        error = str(exc)
    if error is None and state["id"] is None:
        error = "the engine ended the build without an image id"
    if error is not None:
        raise ImageBuildError(image, str(context), state["step"], _one_line(error), list(lines))
    image_id = str(state["id"])
    for reference in tags[1:]:
        tag_image(client, image_id, reference)
    return image_id


def tag_image(client: docker.DockerClient, image_id: str, reference: str) -> None:
    """Tag ``image_id`` as ``reference`` (``repo[:tag]``, tag ``latest`` when absent)."""
    repository, tag = split_reference(reference)
    client.api.tag(image_id, repository, tag, force=True)


def split_reference(reference: str) -> tuple[str, str]:
    """``("registry:5000/a/b", "tag")`` from ``"registry:5000/a/b:tag"``; the tag defaults to ``latest``."""
    head, _, last = reference.rpartition("/")
    name, colon, tag = last.partition(":")
    repository = f"{head}/{name}" if head else name
    return repository, (tag if colon else "latest")


def _follow(stream: Iterable[dict[str, Any]], image: str, lines: deque[str], state: dict[str, Any],
            progress: Progress | None) -> str | None:
    """Consume the build's JSON stream; return the engine's error message, or None on success."""
    partial = ""
    for chunk in stream:
        if "error" in chunk:
            if partial.strip():
                lines.append(partial.rstrip())
            detail = chunk.get("errorDetail") or {}
            _drain(stream)
            return str(detail.get("message") or chunk["error"])
        aux = chunk.get("aux")
        if isinstance(aux, dict) and aux.get("ID"):
            state["id"] = aux["ID"]
        text = chunk.get("stream")
        if not isinstance(text, str):
            continue
        partial += text
        *complete, partial = partial.split("\n")
        for line in complete:
            line = line.rstrip("\r")
            if not line.strip():
                continue
            if line.startswith("Step "):
                state["step"] = line
            elif line.startswith("Successfully built ") and state["id"] is None:
                state["id"] = line.split()[-1]  # engines older than API 1.30 send no aux ID
            lines.append(line)
            report(progress, f"{image}: {line}")
    if partial.strip():
        lines.append(partial.rstrip())
        report(progress, f"{image}: {partial.rstrip()}")
    return None


def _one_line(text: str) -> str:
    return " ".join(text.split())
