"""Names and tags of a zone's images: pure functions of the zone's files, shared by every backend.

A local image ``image: NAME`` of ``autonomy.yaml`` is built from the folder ``images/NAME/`` (its
Dockerfile and build context). Its tag is a hash of that folder's content, so the same files give the
same tag on every workstation and in CI (``zone deploy --no-build`` relies on that), and a rollout
happens only when the content changed.
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

__all__ = ["BASE_IMAGES", "content_tag", "image_repository", "local_image_dirs"]

# Upstream Dockerfiles start FROM these; our own base image is tagged with these names locally.
BASE_IMAGES = ("ghcr.io/build-trust/autonomy-python", "ghcr.io/build-trust/autonomy-python-dev")

_SKIPPED_DIRS = {"__pycache__", ".git", ".venv", "node_modules", ".pytest_cache", ".ruff_cache"}
_TAG_LENGTH = 20


def content_tag(context: Path | str, *, salt: str = "") -> str:
    """The tag of the image built from the folder ``context``: 20 hex characters of a SHA-256 over
    every file's relative path, executable bit and bytes (sorted; caches and VCS folders skipped).

    ``salt`` enters the hash too: pass the base image's identity when it should cause a rebuild.
    Symbolic links are hashed by their target text, not followed. Raises FileNotFoundError if
    ``context`` is not a folder.
    """
    root = Path(context)
    if not root.is_dir():
        raise FileNotFoundError(f"image build context {str(root)!r} is not a folder")
    digest = hashlib.sha256(salt.encode())
    for path in sorted(_files(root)):
        relative = path.relative_to(root).as_posix()
        if path.is_symlink():
            kind, body = b"l", os.readlink(path).encode()
        else:
            kind, body = (b"x" if os.access(path, os.X_OK) else b"f"), path.read_bytes()
        digest.update(b"%s %d %s\0" % (kind, len(body), relative.encode()))
        digest.update(body)
    return digest.hexdigest()[:_TAG_LENGTH]


def image_repository(registry: str, cluster_id: str, zone: str, image: str) -> str:
    """``{registry}/{cluster_id[:8]}-{zone}/{image}``: where zone ``zone``'s image ``image`` is pushed."""
    return f"{registry.rstrip('/')}/{cluster_id[:8]}-{zone}/{image}"


def local_image_dirs(source_dir: Path | str, images: list[str]) -> dict[str, Path]:
    """``{name: source_dir/images/name}`` for each image name that has a Dockerfile there."""
    base = Path(source_dir) / "images"
    return {name: base / name for name in images if (base / name / "Dockerfile").is_file()}


def _files(root: Path) -> list[Path]:
    found: list[Path] = []
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames[:] = [d for d in dirnames if d not in _SKIPPED_DIRS]
        for name in filenames:
            if not name.endswith(".pyc"):
                found.append(Path(dirpath) / name)
    return found
