"""Preparing a zone's images on this machine: copies of ``images/NAME/`` and virtualenvs.

A deploy copies every local image the zone uses into ``AUTONOMY_HOME/zones/<zone>/source/images/NAME``
(so the zone runs, and comes back after a controller restart, from its stored copy even if the user's
directory changes). An image with requirements gets a virtualenv layered on the one autonomy runs in
(``python -m venv --system-site-packages --without-pip``, then this interpreter's pip installs into
it with ``pip --python``; a ``.pth`` adds autonomy's own site-packages after the venv's). Venvs are
keyed by the requirements file's hash, so a redeploy with the same requirements reuses them.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import os
import shutil
import signal
import site
import sys
from pathlib import Path
from typing import Any

from autonomy.errors import ClusterError

__all__ = ["copy_images", "ensure_venv", "IGNORED"]

IGNORED = shutil.ignore_patterns("__pycache__", "*.pyc", ".venv", "venv", ".git", "secrets.yaml", "secrets.yml")


def copy_images(source_dir: Path, zone: Any, dest: Path) -> Path:
    """Copy ``autonomy.yaml`` and each used ``images/NAME/`` of ``source_dir`` into ``dest`` (replaced)."""
    if dest.exists():
        shutil.rmtree(dest)
    (dest / "images").mkdir(parents=True)
    for name in ("autonomy.yaml", "autonomy.yml"):
        if (source_dir / name).is_file():
            shutil.copy2(source_dir / name, dest / name)
    images = sorted({c.image for p in zone.pods for c in p.containers if c.is_local_image})
    for image in images:
        src = source_dir / "images" / image
        if not src.is_dir():
            raise ClusterError(f"image {image!r}: {src} is not a directory: "
                               f"create images/{image}/ (with a Dockerfile) next to autonomy.yaml")
        shutil.copytree(src, dest / "images" / image, symlinks=True, ignore=IGNORED)
    return dest


async def ensure_venv(requirements: Path, venvs_dir: Path) -> Path:
    """A virtualenv with ``requirements`` installed over autonomy's environment; returns its python."""
    venv, ready = await asyncio.to_thread(_venv_dir, requirements, venvs_dir)
    python = venv / "bin" / "python"
    if ready:
        return python
    await _run([sys.executable, "-m", "venv", "--system-site-packages", "--without-pip", str(venv)],
               f"creating the virtualenv for {requirements}")
    await asyncio.to_thread(_layer_on_this_environment, venv)
    await _run([sys.executable, "-m", "pip", "--python", str(python), "install", "--disable-pip-version-check",
                "-q", "-r", str(requirements)], f"installing {requirements}")
    await asyncio.to_thread(_make_readable, venv)
    await asyncio.to_thread((venv / ".complete").write_text, str(requirements) + "\n")
    return python


def _make_readable(root: Path) -> None:
    """Let every user read ``root``'s tree (sandboxed containers run it as their zone's uid, read-only),
    whatever the controller's umask was when pip wrote it."""
    for directory, _dirs, files in os.walk(root):
        os.chmod(directory, os.stat(directory).st_mode | 0o555)
        for name in files:
            path = os.path.join(directory, name)
            if not os.path.islink(path):
                mode = os.stat(path).st_mode
                os.chmod(path, mode | 0o444 | (0o111 if mode & 0o100 else 0))


def _layer_on_this_environment(venv: Path) -> None:
    """Make this interpreter's packages (autonomy and its dependencies) visible in ``venv``, after its own.

    ``venv --system-site-packages`` made from inside a virtualenv layers on the *base* interpreter, not on
    the virtualenv autonomy is installed in; a ``.pth`` that calls ``site.addsitedir`` adds this
    environment's site-packages (processing its own ``.pth`` files, e.g. editable installs).
    """
    layers = [p for p in site.getsitepackages() if Path(p).is_dir()]
    for target in (venv / "lib").glob("python*/site-packages"):
        lines = [f"import site; site.addsitedir({p!r})" for p in layers]
        (target / "_autonomy_layer.pth").write_text("\n".join(lines) + "\n")


def _venv_dir(requirements: Path, venvs_dir: Path) -> tuple[Path, bool]:
    """The venv for this requirements file and whether it is complete (a partial one is removed)."""
    venv = venvs_dir / hashlib.sha256(requirements.read_bytes()).hexdigest()[:16]
    if (venv / ".complete").exists():
        return venv, True
    if venv.exists():
        shutil.rmtree(venv)
    venvs_dir.mkdir(parents=True, exist_ok=True)
    return venv, False


async def _run(argv: list[str], what: str) -> None:
    proc = await asyncio.create_subprocess_exec(*argv, stdout=asyncio.subprocess.PIPE,
                                                stderr=asyncio.subprocess.STDOUT, start_new_session=True)
    try:
        out, _ = await proc.communicate()
    except BaseException:  # cancelled (the controller stops, the deploy is abandoned): leave no process
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(proc.pid, signal.SIGKILL)  # pip's own children (build backends) too
        await asyncio.shield(proc.wait())
        raise
    if proc.returncode != 0:
        raise ClusterError(f"{what} failed (exit {proc.returncode}):\n{out.decode(errors='replace')[-2000:]}")
