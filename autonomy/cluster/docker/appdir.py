"""The app directory of a Docker runtime container: writable by its zone, private to the container.

The process runtime promises each container "a private writable /tmp and app directory" (a copy per
instance). Under Docker the same holds this way (docs/security.md, "Docker runtime"):

- the container's root filesystem is its own **writable layer** (``read_only=False``), discarded with the
  container: what one clone writes no other clone, zone or later deploy sees;
- before the container starts, the controller (root) gives the image's app directory (its ``WORKDIR``)
  to the zone's uid **in that layer**: the directory is created in the container's overlay upper
  directory, owned by the uid; overlayfs takes a merged directory's owner and mode from the upper one,
  so the image's files stay visible and the app may add, replace and remove files beside them (Next.js
  writes ``.next/cache``, upstream apps write beside ``main.py``). Nothing is copied: the cost is one
  ``mkdir``. The image's files themselves stay root's: the system (``/usr``, ``/etc``, the venv) is not
  writable by the zone (PermissionError rather than a read-only file system);
- where that cannot be done (a storage driver other than ``overlay2``, a controller that is not root,
  an image whose ``WORKDIR`` is ``/``), the root filesystem stays read-only as a whole, ``/tmp`` is the
  place to write, and :func:`app_dirs_available` says why (``zone status`` shows it).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

__all__ = ["app_dirs_available", "app_directory", "own_app_directory"]


def app_dirs_available(driver: str) -> tuple[bool, str]:
    """Whether app directories can be made writable with the engine's storage ``driver``, and if not, why."""
    if driver != "overlay2":
        return False, f"the Docker Engine's storage driver is {driver!r}, not overlay2"
    if os.geteuid() != 0:
        return False, "the controller does not run as root"
    return True, ""


def app_directory(image_attrs: dict[str, Any]) -> str | None:
    """The image's app directory (its ``WORKDIR``), or None when it has none (``/`` or unset)."""
    workdir = str((image_attrs.get("Config") or {}).get("WorkingDir") or "").rstrip("/")
    return workdir if workdir.startswith("/") and len(workdir) > 1 else None


def own_app_directory(container_attrs: dict[str, Any], workdir: str, uid: int) -> bool:
    """Give ``workdir`` to ``uid`` in the (created, not started) container's writable layer; False when
    the container's layer is not an overlay2 upper directory (nothing is changed then)."""
    driver = container_attrs.get("GraphDriver") or {}
    upper = (driver.get("Data") or {}).get("UpperDir")
    if driver.get("Name") != "overlay2" or not upper or not Path(upper).is_dir():
        return False
    target = Path(upper) / workdir.lstrip("/")
    if Path(os.path.normpath(target)) != target or not target.is_relative_to(upper):
        return False  # a WORKDIR with ".." in it: nothing outside the layer is touched
    # parents in the layer keep the usual owner and mode (root, 0755); only the app directory is the zone's
    target.parent.mkdir(mode=0o755, parents=True, exist_ok=True)
    target.mkdir(mode=0o755, exist_ok=True)
    os.chown(target, uid, uid, follow_symlinks=False)
    os.chmod(target, 0o755)
    return True
