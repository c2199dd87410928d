"""A directory seen by an agent as ``/``: virtual paths that cannot leave it (spec §1.5).

The filesystem tools and the workspace give each agent, scope or conversation a root directory on
the host: ``base_dir[/agent[/scope[/conversation]]]`` depending on the visibility. The model names
files by *virtual* paths: ``/notes/a.md``, ``notes/a.md`` and ``./notes/../notes/a.md`` are the same
file. A path that would leave the root (``../x``, ``/../../etc/passwd``, or a symbolic link pointing
outside, e.g. made by a workspace command) is refused with ``ValueError``; the tools turn it into an
error text for the model.
"""

from __future__ import annotations

import os
import posixpath
from pathlib import Path

from autonomy.errors import ConfigError

__all__ = ["VISIBILITIES", "VirtualRoot", "check_part", "root_of"]

VISIBILITIES = ("all", "agent", "scope", "conversation")


def check_part(what: str, value: str) -> str:
    """``value`` if it may be a directory name (agent, scope, conversation), else ConfigError."""
    if not isinstance(value, str) or not value or value in (".", "..") or any(c in value for c in "/\\\0") \
            or ".." in value:
        raise ConfigError(f"{what} {value!r} cannot name a directory: it must be non-empty and must not "
                          "contain '..', '/' or '\\'")
    return value


def needed_parts(visibility: str) -> tuple[str, ...]:
    """Which of agent_name, scope, conversation a visibility needs to know its root."""
    if visibility not in VISIBILITIES:
        raise ConfigError(f"visibility {visibility!r} is not one of {', '.join(VISIBILITIES)}")
    return ("agent_name", "scope", "conversation")[:VISIBILITIES.index(visibility)]


def root_of(base_dir: str | os.PathLike[str], visibility: str, agent_name: str | None, scope: str | None,
            conversation: str | None) -> Path:
    """``base_dir[/agent[/scope[/conversation]]]`` for ``visibility`` (missing parts are ``default``)."""
    values = {"agent_name": agent_name, "scope": scope, "conversation": conversation}
    root = Path(base_dir)
    for part in needed_parts(visibility):
        root = root / check_part(part, values[part] or "default")
    return root


class VirtualRoot:
    """Maps virtual paths to host paths under ``root`` (created on first use, mode 0700)."""

    __slots__ = ("root",)

    def __init__(self, root: str | os.PathLike[str]) -> None:
        self.root = Path(root).absolute()

    def ensure(self) -> Path:
        self.root.mkdir(parents=True, exist_ok=True, mode=0o700)
        return self.root

    def resolve(self, path: str) -> Path:
        """The host path of virtual ``path``; ValueError if it leaves the root (also through links)."""
        if not isinstance(path, str):
            raise ValueError(f"path must be a string, not {type(path).__name__}")
        if "\0" in path:
            raise ValueError("path must not contain a NUL character")
        relative = posixpath.normpath(path.replace("\\", "/").lstrip("/") or ".")
        if relative == ".." or relative.startswith("../"):
            raise ValueError(f"path {path!r} leaves the root directory: use paths inside '/'")
        root = self.ensure()
        host = root if relative == "." else root / relative
        real_root = os.path.realpath(root)
        real = os.path.realpath(host)
        if real != real_root and not real.startswith(real_root + os.sep):
            raise ValueError(f"path {path!r} leaves the root directory (through a link): use paths inside '/'")
        return host

    def virtual(self, host: str | os.PathLike[str]) -> str:
        """The virtual path (``/a/b``) of a host path under the root."""
        relative = os.path.relpath(host, self.root)
        return "/" if relative == "." else "/" + relative.replace(os.sep, "/")
