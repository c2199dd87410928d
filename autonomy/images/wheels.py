"""This project's wheel and its dependencies' wheels, built on the host for the base image.

The base image installs autonomy offline (``pip install --no-index``) from the wheels made here, so
its build needs no network at all. The wheel is built from a *copy* of the checkout's files (never
in the checkout: building there would leave ``build/`` and ``*.egg-info`` behind): the files that
git tracks or would track (``git ls-files --cached --others --exclude-standard``), which includes
uncommitted edits, or, outside a git checkout, the package folder with caches left out.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import sys
from collections import deque
from pathlib import Path

from autonomy.images.engine import Progress, report
from autonomy.images.errors import BaseImageError

__all__ = ["project_source", "source_files", "source_hash", "copy_source", "build_wheels"]

# What goes into the wheel (pyproject's package-data and readme included); tests, docs, examples do not.
_WHEEL_INPUTS = ("pyproject.toml", "README.md", "LICENSE", "autonomy")
_SKIPPED = {"__pycache__", ".pytest_cache", ".ruff_cache"}


def project_source(source: Path | str | None = None) -> Path:
    """The checkout to build the wheel from: ``source``, else the one this ``autonomy`` package was
    loaded from (an editable install). BaseImageError if it has no ``pyproject.toml`` of autonomy-runtime."""
    # autonomy/images/wheels.py -> the folder holding the autonomy package (not `import autonomy`:
    # this layer must not load the app-facing top-level package)
    root = Path(source) if source is not None else Path(__file__).resolve().parents[2]
    pyproject = root / "pyproject.toml"
    if not pyproject.is_file() or 'name = "autonomy-runtime"' not in pyproject.read_text(errors="replace"):
        raise BaseImageError(
            f"{root} is not a checkout of autonomy-runtime (no pyproject.toml of it): the base image is built "
            "from this project's source; pass its folder with --source DIR")
    return root


def source_files(root: Path) -> list[str]:
    """Relative paths (sorted) of the files that make the wheel."""
    done = subprocess.run(["git", "-C", str(root), "ls-files", "-z", "--cached", "--others", "--exclude-standard",
                           "--", *_WHEEL_INPUTS], capture_output=True)
    if done.returncode == 0 and done.stdout:
        names = [n for n in done.stdout.decode().split("\0") if n]
        return sorted(n for n in names if (root / n).is_file() and not n.endswith(".pyc"))
    found: list[str] = []
    for entry in _WHEEL_INPUTS:
        path = root / entry
        if path.is_file():
            found.append(entry)
        for dirpath, dirnames, filenames in os.walk(path) if path.is_dir() else ():
            dirnames[:] = [d for d in dirnames if d not in _SKIPPED and not d.endswith(".egg-info")]
            found += [os.path.relpath(os.path.join(dirpath, f), root) for f in filenames if not f.endswith(".pyc")]
    return sorted(found)


def source_hash(root: Path) -> str:
    """A SHA-256 (hex) over the wheel's input files: their paths and bytes."""
    digest = hashlib.sha256()
    for name in source_files(root):
        data = (root / name).read_bytes()
        digest.update(b"%d %s\0" % (len(data), name.encode()))
        digest.update(data)
    return digest.hexdigest()


def copy_source(root: Path, dest: Path) -> Path:
    """Copy the wheel's input files of ``root`` into ``dest`` (created); returns ``dest``."""
    for name in source_files(root):
        target = dest / name
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(root / name, target)
    return dest


def build_wheels(source: Path, wheel_dir: Path, *, python: str, progress: Progress | None = None) -> list[Path]:
    """``pip wheel`` the project copy at ``source`` and every dependency into ``wheel_dir`` with the host
    interpreter ``python`` (which must match the base image's Python version, e.g. ``python3.11``).
    Uses the host's pip configuration (index, proxy, certificates). Returns the wheel files."""
    interpreter = find_python(python)
    argv = [interpreter, "-m", "pip", "wheel", "--quiet", "--disable-pip-version-check", "--wheel-dir",
            str(wheel_dir), str(source)]
    report(progress, f"base: building wheels of autonomy-runtime and its dependencies with {interpreter}")
    tail: deque[str] = deque(maxlen=15)
    env = {**os.environ, "PYTHONWARNINGS": "ignore"}
    with subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env) as proc:
        for raw in proc.stdout or ():
            if raw.strip() and "is ignored: it is neither a file nor a directory" not in raw:
                tail.append(raw.rstrip())
        code = proc.wait()
    wheels = sorted(wheel_dir.glob("*.whl"))
    if code != 0 or not any(w.name.startswith("autonomy_runtime-") for w in wheels):
        shown = "\n  ".join(tail)
        raise BaseImageError(f"pip wheel of autonomy-runtime failed (exit {code}):\n  {shown}\n"
                             "check the host's pip configuration (index, proxy) and that the project builds "
                             "('pip wheel .' in a copy of the checkout)")
    report(progress, f"base: {len(wheels)} wheels built")
    return wheels


def find_python(version: str) -> str:
    """A host interpreter of ``version`` (``major.minor``) with pip: this one if it matches, else
    ``python{version}`` on PATH. BaseImageError names what to install otherwise."""
    if f"{sys.version_info.major}.{sys.version_info.minor}" == version:
        return sys.executable
    found = shutil.which(f"python{version}")
    if found and subprocess.run([found, "-m", "pip", "--version"], capture_output=True).returncode == 0:
        return found
    raise BaseImageError(
        f"The base image runs Python {version} (Debian's), so its wheels must be built with a Python {version} "
        f"on this machine; this is Python {sys.version_info.major}.{sys.version_info.minor} and no "
        f"python{version} with pip is on PATH: install one (e.g. apt-get install python3 python3-pip on Debian "
        "bookworm) and run again")
