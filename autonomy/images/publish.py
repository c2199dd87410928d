"""Build a zone's local images, push them, and pin each by digest: what a deployer runs.

:func:`publish` is the one entry point the backends call (the Kubernetes backend renders the
references it returns into its manifests; the Docker runtime runs them)::

    refs = publish(source_dir, ["main", "runner"], "127.0.0.1:5000", cluster_id, "myzone", print)
    # {"main": "127.0.0.1:5000/0123abcd-myzone/main@sha256:...", ...}

Tags are :func:`~autonomy.images.naming.content_tag` of ``images/NAME/``, salted with the base image's
key when the Dockerfile starts ``FROM`` our base (so a new autonomy gives new tags), and the same on
every machine for the same files: :func:`image_references` computes them without building (``zone
deploy --no-build``). The build itself always runs: the engine's layer cache makes an unchanged image
a sub-second no-op, and a base rebuilt with the same key still reaches the app images that way.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from pathlib import Path
from typing import TYPE_CHECKING

from autonomy.errors import ConfigError
from autonomy.images.base import base_key, ensure_base_image
from autonomy.images.build import build_image, split_reference
from autonomy.images.engine import Progress, connect, report
from autonomy.images.naming import BASE_IMAGES, content_tag, image_repository, local_image_dirs
from autonomy.images.push import push_image
from autonomy.images.rootfs import ROOTFS_REPOSITORY

if TYPE_CHECKING:
    import docker

__all__ = ["LOCAL_REGISTRY", "build_local", "publish", "image_references", "uses_autonomy_base"]

LOCAL_REGISTRY = "autonomy-local"  # the repository prefix of images built for the local engine only

_NAME = re.compile(r"^[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*$")  # a path component of a Docker repository
_ZONE = re.compile(r"^[a-z0-9]{1,10}$")
_CLUSTER = re.compile(r"^[0-9a-f]{8,}$")
_REGISTRY = re.compile(r"^[A-Za-z0-9.-]+(:[0-9]{1,5})?(/[a-z0-9._/-]*)?$")
_FROM = re.compile(r"^\s*FROM\s+(?:--platform=\S+\s+)?(\S+)", re.IGNORECASE | re.MULTILINE)


def publish(source_dir: Path | str, images: Iterable[str], registry: str, cluster_id: str, zone: str,
            progress: Progress | None) -> dict[str, str]:
    """Build every local image of ``images`` (those with ``source_dir/images/NAME/Dockerfile``; other
    names, such as external images, are skipped), push each to
    ``{registry}/{cluster_id[:8]}-{zone}/{NAME}:{tag}`` and return ``{NAME: "repo@sha256:..."}``.

    Builds the base image first if a Dockerfile needs it and the engine has none of the current key
    (from a source checkout; installed from a wheel, the engine's base image is used as it is).
    Blocks until every push is done; stops at the first failure (ImageBuildError, ImagePushError,
    BaseImageError, DockerUnavailable; ConfigError for a bad argument, naming it).
    """
    dirs = _checked(source_dir, images, registry, cluster_id, zone)
    if not dirs:
        return {}
    client = connect()
    try:
        pinned: dict[str, str] = {}
        for name, reference in _build_all(client, dirs, registry, cluster_id, zone, progress).items():
            digest = push_image(client, reference, image=name, progress=progress)
            pinned[name] = f"{split_reference(reference)[0]}@{digest}"
        return pinned
    finally:
        client.close()


def build_local(client: docker.DockerClient, source_dir: Path | str, images: Iterable[str], cluster_id: str,
                zone: str, progress: Progress | None) -> dict[str, str]:
    """Like :func:`publish` without a registry, for an engine that runs the images itself (the Docker
    runtime of the local cluster): build and tag ``autonomy-local/{cluster_id[:8]}-{zone}/{NAME}:{tag}``,
    return ``{NAME: image id}``. Blocks; raises as :func:`publish` does."""
    dirs = _checked(source_dir, images, LOCAL_REGISTRY, cluster_id, zone)
    built = _build_all(client, dirs, LOCAL_REGISTRY, cluster_id, zone, progress)
    return {name: client.images.get(reference).id for name, reference in built.items()}


def _build_all(client: docker.DockerClient, dirs: dict[str, Path], registry: str, cluster_id: str, zone: str,
               progress: Progress | None) -> dict[str, str]:
    """Build each image folder (the base image first if one needs it); ``{NAME: "repo:tag"}``."""
    salt = ""
    if any(uses_autonomy_base(context) or uses_debian_root(context) for context in dirs.values()):
        salt = ensure_base_image(client, progress=progress).key  # which makes (and tags) the Debian root too
    built: dict[str, str] = {}
    for name, context in dirs.items():
        repository = image_repository(registry, cluster_id, zone, name)
        reference = f"{repository}:{content_tag(context, salt=salt if uses_autonomy_base(context) else '')}"
        report(progress, f"{name}: building {reference}")
        build_image(client, context, [reference], image=name, progress=progress)
        built[name] = reference
    return built


def image_references(source_dir: Path | str, images: Iterable[str], registry: str, cluster_id: str,
                     zone: str) -> dict[str, str]:
    """``{NAME: "repo:tag"}``: where :func:`publish` pushes each local image, computed without building
    or any Docker Engine (for deploys of images built elsewhere from the same files)."""
    dirs = _checked(source_dir, images, registry, cluster_id, zone)
    salt = base_key() if any(uses_autonomy_base(c) for c in dirs.values()) else ""
    return {name: f"{image_repository(registry, cluster_id, zone, name)}:"
                  f"{content_tag(context, salt=salt if uses_autonomy_base(context) else '')}"
            for name, context in dirs.items()}


def uses_autonomy_base(context: Path) -> bool:
    """True if ``context/Dockerfile`` has a ``FROM`` of ``ghcr.io/build-trust/autonomy-python[-dev]``."""
    text = (context / "Dockerfile").read_text(errors="replace")
    return any(split_reference(ref.split("@")[0])[0] in BASE_IMAGES for ref in _FROM.findall(text))


def uses_debian_root(context: Path) -> bool:
    """True if ``context/Dockerfile`` has a ``FROM autonomy/debian-rootfs:...`` (the base image's own root)."""
    text = (context / "Dockerfile").read_text(errors="replace")
    return any(split_reference(ref.split("@")[0])[0] == ROOTFS_REPOSITORY for ref in _FROM.findall(text))


def _checked(source_dir: Path | str, images: Iterable[str], registry: str, cluster_id: str,
             zone: str) -> dict[str, Path]:
    names = list(images)
    if not isinstance(registry, str) or "://" in registry or not _REGISTRY.match(registry):
        raise ConfigError(f"registry {registry!r} must be a host[:port][/path] without a scheme, "
                          "e.g. 127.0.0.1:5000 or ghcr.io/my-org")
    if not isinstance(cluster_id, str) or not _CLUSTER.match(cluster_id):
        raise ConfigError(f"cluster_id {cluster_id!r} must be the cluster's id (lowercase hex, 32 characters)")
    if not isinstance(zone, str) or not _ZONE.match(zone):
        raise ConfigError(f"zone {zone!r} must be at most 10 characters of a-z and 0-9")
    if not Path(source_dir).is_dir():
        raise ConfigError(f"source_dir {str(source_dir)!r} is not a folder: give the zone's folder "
                          "(the one with autonomy.yaml and images/)")
    dirs = local_image_dirs(source_dir, names)
    for name in dirs:
        if not _NAME.match(name):
            raise ConfigError(f"image {name!r} (images/{name}/Dockerfile): an image name must be lowercase "
                              "letters and digits, optionally separated by '.', '_' or '-'")
    return dirs
