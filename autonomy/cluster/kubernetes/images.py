"""A zone's local images as pinned references (``repo@sha256:...``) for the manifests.

Two ways (``zone deploy`` and ``zone deploy --no-build``):

- build and push each ``images/NAME/Dockerfile`` with :func:`autonomy.images.publish` (imported
  when used; injectable as ``publisher`` so tests run without Docker) and pin the digests it returns;
- ``--no-build``: the images were pushed elsewhere (CI) under the same content tags
  (:func:`autonomy.images.naming.content_tag` of each image folder); their digests are read from the
  registry (:func:`autonomy.cluster.kubernetes.registry.manifest_digest`); a missing image is named.

References use the pull registry (``enroll --pull-registry``) when it differs from the push registry.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from autonomy.cluster.kubernetes.config import KubeCluster
from autonomy.cluster.kubernetes.registry import manifest_digest
from autonomy.errors import ClusterError
from autonomy.zones.spec import ZoneSpec

__all__ = ["Publisher", "local_images", "built_refs", "pushed_refs", "tagged_refs"]

# publish(source_dir, images, registry, cluster_id, zone, progress) -> {image: "repo@sha256:..."}
Publisher = Callable[[Path, list[str], str, str, str, Callable[[str, str], None]], dict[str, str]]


def local_images(zone: ZoneSpec) -> list[str]:
    return sorted({c.image for p in zone.pods for c in p.containers if c.is_local_image})


def _context(source_dir: Path, image: str) -> Path:
    folder = source_dir / "images" / image
    if not (folder / "Dockerfile").is_file():
        raise ClusterError(f"image {image!r}: {folder}/Dockerfile not found (a container's image without '/' "
                           "is built from images/<image>/Dockerfile)")
    return folder


def _for_pull(cluster: KubeCluster, ref: str) -> str:
    push = cluster.registry.rstrip("/") + "/"
    if cluster.pull_registry and ref.startswith(push):
        return cluster.pull_registry.rstrip("/") + "/" + ref[len(push):]
    return ref


def built_refs(cluster: KubeCluster, zone: ZoneSpec, source_dir: Path, progress: Callable[[str, str], None],
               publisher: Publisher | None = None) -> dict[str, str]:
    """Build and push the zone's local images; ``{image: pinned reference}``."""
    images = local_images(zone)
    if not images:
        return {}
    for image in images:
        _context(source_dir, image)
    if publisher is None:
        try:
            from autonomy.images import publish  # the Docker SDK: only on the build path
        except ImportError as exc:
            raise ClusterError(f"building images needs autonomy.images.publish, which this installation lacks "
                               f"({exc}); push the images elsewhere and deploy with --no-build") from exc

        def publisher(source: Path, names: list[str], registry: str, cluster_id: str, zone_name: str,
                      report: Callable[[str, str], None]) -> dict[str, str]:
            return publish(source, names, registry, cluster_id, zone_name, lambda line: report("image", line))
    refs = publisher(source_dir, images, cluster.registry, cluster.id, zone.name, progress)
    missing = [i for i in images if "@sha256:" not in refs.get(i, "")]
    if missing:
        raise ClusterError(f"the image build returned no digest for {', '.join(missing)}")
    return {image: _for_pull(cluster, refs[image]) for image in images}


def _tags(cluster: KubeCluster, zone: ZoneSpec, source_dir: Path) -> dict[str, str]:
    """``{image: repo:tag}`` where the image pipeline pushes each local image (the same tags as
    :func:`autonomy.images.publish`: content tags, salted with the base image's key where it is used)."""
    from autonomy.images import image_references  # pure: needs neither Docker nor its SDK

    images = local_images(zone)
    for image in images:
        _context(source_dir, image)
    return image_references(source_dir, images, cluster.registry, cluster.id, zone.name)


def tagged_refs(cluster: KubeCluster, zone: ZoneSpec, source_dir: Path) -> dict[str, str]:
    """``{image: repo:content-tag}`` (for ``--dry-run``, which contacts nothing)."""
    return {image: _for_pull(cluster, ref) for image, ref in _tags(cluster, zone, source_dir).items()}


def pushed_refs(cluster: KubeCluster, zone: ZoneSpec, source_dir: Path, *,
                digest: Callable[[str, str], str | None] = manifest_digest) -> dict[str, str]:
    """``--no-build``: the digests of images already pushed under their content tags."""
    refs: dict[str, str] = {}
    for image, ref in _tags(cluster, zone, source_dir).items():
        repository, tag = ref.rsplit(":", 1)
        found = digest(repository, tag)
        if found is None:
            raise ClusterError(f"image {image!r}: {repository}:{tag} is not in the registry. --no-build deploys "
                               f"images pushed beforehand under their content tag: build and push "
                               f"images/{image} first (or deploy without --no-build)")
        refs[image] = _for_pull(cluster, f"{repository}@{found}")
    return refs
