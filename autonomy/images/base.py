"""Our own base image, standing in for ``ghcr.io/build-trust/autonomy-python``: built offline, once.

:func:`build_base_image` makes it in three steps, each reused while its inputs are unchanged:

1. the Debian root (:mod:`autonomy.images.rootfs`: debootstrap from the Debian mirror, cached);
2. the wheels of this project and its dependencies, built on the host (:mod:`autonomy.images.wheels`);
3. ``base/Dockerfile`` on that root: a venv at ``/app/venv`` with autonomy installed from the wheels
   (``pip --no-index``, the build has no network), ``PATH=/app/venv/bin:...``, ``WORKDIR /app``.

The result is tagged ``ghcr.io/build-trust/autonomy-python:latest`` and
``ghcr.io/build-trust/autonomy-python-dev:latest`` in the local engine, so ``FROM`` lines of upstream
Dockerfiles resolve to it without any registry, and labelled with its **key**: a hash of every input
(the root's recipe, the Dockerfile, the project's source files). The same checkout gives the same key
on every machine, which is what app image tags are salted with (:func:`base_key`).
"""

from __future__ import annotations

import hashlib
import shutil
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from autonomy.images.build import build_image, tag_image
from autonomy.images.engine import Progress, connect, docker_errors, report
from autonomy.images.errors import BaseImageError
from autonomy.images.naming import BASE_IMAGES
from autonomy.images.rootfs import RootfsRecipe, rootfs_image
from autonomy.images.wheels import build_wheels, copy_source, project_source, source_hash

if TYPE_CHECKING:
    import docker

__all__ = ["BASE_TAGS", "BaseImage", "base_key", "build_base_image", "ensure_base_image", "local_base_image"]

BASE_TAGS = tuple(f"{repository}:latest" for repository in BASE_IMAGES)
KEY_LABEL = "computer.autonomy.base.key"
STAGE_LABEL = "computer.autonomy.base.stage=venv"
DOCKERFILE = Path(__file__).parent / "base" / "Dockerfile"


@dataclass(frozen=True)
class BaseImage:
    """The base image in the local engine: its ``id`` (``sha256:...``), ``key`` (the hash of its
    inputs), ``tags``, whether this call ``built`` it (False: an image of the same key was reused),
    and ``seconds`` spent per step (``rootfs``, ``wheels``, ``build``; empty when reused)."""

    id: str
    key: str
    tags: tuple[str, ...] = BASE_TAGS
    built: bool = False
    seconds: dict[str, float] = field(default_factory=dict)
    size: int = 0


def base_key(source: Path | str | None = None, recipe: RootfsRecipe | None = None) -> str:
    """20 hex characters: the key the base image built from ``source`` (default: this checkout) and
    ``recipe`` (default: :meth:`RootfsRecipe.default`) would have. Pure: needs no Docker Engine."""
    recipe = recipe or RootfsRecipe.default()
    digest = hashlib.sha256(f"{recipe.key}\0{recipe.python}\0".encode())
    digest.update(DOCKERFILE.read_bytes())
    digest.update(source_hash(project_source(source)).encode())
    return digest.hexdigest()[:20]


def local_base_image(client: docker.DockerClient) -> BaseImage | None:
    """The base image tagged in the local engine (whatever its key), or None."""
    errors = docker_errors()
    try:
        image = client.images.get(BASE_TAGS[0])
    except errors.ImageNotFound:
        return None
    labels = image.attrs.get("Config", {}).get("Labels") or {}
    return BaseImage(id=image.id, key=str(labels.get(KEY_LABEL, "")), size=int(image.attrs.get("Size") or 0))


def build_base_image(client: docker.DockerClient | None = None, *, rebuild: bool = False,
                     source: Path | str | None = None, recipe: RootfsRecipe | None = None,
                     cache: Path | None = None, progress: Progress | None = None) -> BaseImage:
    """Make the base image unless one with the same key is already in the engine (``rebuild``: make it
    and its Debian root again regardless). Blocks: about two minutes the first time on a machine, about
    half a minute after a change to autonomy's source, well under a second when nothing changed.
    Raises :class:`~autonomy.images.errors.BaseImageError`, :class:`ImageBuildError` or
    :class:`DockerUnavailable`."""
    owned = client is None
    client = client or connect()
    try:
        return _build(client, rebuild=rebuild, source=project_source(source), recipe=recipe or RootfsRecipe.default(),
                      cache=cache, progress=progress)
    finally:
        if owned:
            client.close()


def ensure_base_image(client: docker.DockerClient, *, progress: Progress | None = None) -> BaseImage:
    """The base image app images are built on: :func:`build_base_image` (made or refreshed from this
    checkout) when autonomy runs from a source checkout; otherwise (installed from a wheel) the base
    image already in the engine, whatever its key. BaseImageError if there is neither."""
    try:
        source = project_source()
    except BaseImageError:
        existing = local_base_image(client)
        if existing is None:
            raise
        report(progress, f"base: using {BASE_TAGS[0]} as it is in the engine (key {existing.key}): autonomy "
                         "is not running from a source checkout, so it cannot be refreshed from one")
        return existing
    return build_base_image(client, source=source, progress=progress)


def _build(client: docker.DockerClient, *, rebuild: bool, source: Path, recipe: RootfsRecipe,
           cache: Path | None, progress: Progress | None) -> BaseImage:
    key = base_key(source, recipe)
    current = local_base_image(client)
    if current is not None and current.key == key and not rebuild:
        for reference in BASE_TAGS[1:]:
            tag_image(client, current.id, reference)
        report(progress, f"base: {BASE_TAGS[0]} is up to date (key {key})")
        return current
    seconds: dict[str, float] = {}
    started = time.monotonic()
    root = rootfs_image(client, recipe, rebuild=rebuild, cache=cache, progress=progress)
    seconds["rootfs"] = round(time.monotonic() - started, 2)
    with tempfile.TemporaryDirectory(prefix="autonomy-base-") as tmp:
        context = Path(tmp) / "context"
        (context / "wheels").mkdir(parents=True)
        shutil.copy2(DOCKERFILE, context / "Dockerfile")
        started = time.monotonic()
        copy = copy_source(source, Path(tmp) / "source")
        build_wheels(copy, context / "wheels", python=recipe.python, progress=progress)
        seconds["wheels"] = round(time.monotonic() - started, 2)
        started = time.monotonic()
        # network "none": the build must not need the network (everything it installs is in wheels/)
        image_id = build_image(client, context, BASE_TAGS, image="base", buildargs={"ROOTFS": root},
                               labels={KEY_LABEL: key}, network_mode="none", progress=progress)
        seconds["build"] = round(time.monotonic() - started, 2)
    _remove_stage_images(client)
    if current is not None and current.id != image_id:
        _remove_quietly(client, current.id)  # the base it replaces (kept while app images still use it)
    size = int(client.images.get(image_id).attrs.get("Size") or 0)
    report(progress, f"base: built {', '.join(BASE_TAGS)} ({size / 1e6:.0f} MB, key {key})")
    return BaseImage(id=image_id, key=key, built=True, seconds=seconds, size=size)


def _remove_stage_images(client: docker.DockerClient) -> None:
    """Remove the venv stage's image (dangling once the build is done; it holds the wheels: ~300 MB).
    Only images carrying our stage label are touched, never other dangling images of the engine."""
    for image in client.images.list(filters={"dangling": True, "label": STAGE_LABEL}):
        _remove_quietly(client, image.id)


def _remove_quietly(client: docker.DockerClient, image_id: str) -> None:
    """Remove an untagged image unless it is in use (a container, a child image, a concurrent build)."""
    errors = docker_errors()
    try:
        client.images.remove(image_id, noprune=False)
    except errors.APIError:
        pass  # in use: it stays until what uses it is gone (docs/images.md, "Cache")
