"""Bytecode for the ``autonomy`` package before its node processes start.

Every container of the process runtime imports ``autonomy`` from the controller's own environment. When
that package has no ``__pycache__`` (an editable install, a checkout, or an environment where
``PYTHONDONTWRITEBYTECODE`` is set, as on this project's CI machines), each node process compiles its
modules from source at every start (~65 ms of CPU per process here, a quarter of a bare runner's start),
and sandboxed processes cannot write the cache themselves (the package is read-only inside). The
deployer calls :func:`ensure_bytecode` before it starts a zone's pods: the first call compiles what is
missing or stale (``compileall``, the same ``.pyc`` files Python writes itself, valid for every uid that
can read the sources); later calls only compare timestamps. A package in a read-only location (a system
install) is left as it is: its installer wrote the bytecode.
"""

from __future__ import annotations

import compileall
import os
from pathlib import Path

__all__ = ["ensure_bytecode"]


def ensure_bytecode(package: Path | None = None) -> bool:
    """Compile the missing or stale ``.pyc`` files of ``package`` (default: ``autonomy``'s own directory).

    Returns False when the directory cannot be written (nothing to do there) or a file did not compile
    (that module will be compiled by the process that imports it, as before: never an error here)."""
    root = package if package is not None else Path(__file__).resolve().parents[2]  # autonomy/
    if not os.access(root, os.W_OK):
        return False
    return bool(compileall.compile_dir(root, quiet=2, workers=1))
