"""``Workspace``: a directory an agent works in, with a sandboxed terminal (spec §1.5).

``Workspace(visibility="conversation", mode=WorkspaceMode.STANDARD, agent_name=None, scope=None,
conversation=None, base_dir=None, command_timeout=60)``. Roots, visibility and factory mode are
those of :class:`~autonomy.tools.filesystem.FilesystemTools`. ``base_dir`` defaults to
``/workspace`` when the node runs in a zone (``CLUSTER`` or ``ZONE`` set) and it is writable, else
``/tmp/workspace``.

Tools: ``list_directory``, ``read_file``, ``find_files``, ``search_in_files``; in
``WorkspaceMode.STANDARD`` also ``write_file``, ``edit_file(path, old_str, new_str)``,
``remove_file``, ``remove_directory`` and ``terminal(command, timeout=None)``, which runs
``bash -c command`` in a bubblewrap sandbox whose only writable directory is the workspace (see
``sandbox.py``); ``timeout`` seconds default to ``command_timeout``. Where no sandbox can run,
``terminal`` answers with the reason instead of running the command.
"""

from __future__ import annotations

import os
from enum import StrEnum

from autonomy.errors import ConfigError
from autonomy.tools.filesystem import FilesystemTools
from autonomy.tools.sandbox import SandboxUnavailable, run_sandboxed

__all__ = ["Workspace", "WorkspaceMode", "default_base_dir"]

_READ_TOOLS = ("list_directory", "read_file", "find_files", "search_in_files")
_WRITE_TOOLS = ("write_file", "edit_file", "remove_file", "remove_directory", "terminal")


class WorkspaceMode(StrEnum):
    READ_ONLY = "read-only"
    STANDARD = "standard"


def default_base_dir() -> str:
    """``/workspace`` in a zone when writable, else ``/tmp/workspace`` (as upstream)."""
    if (os.environ.get("CLUSTER") or os.environ.get("ZONE")) and os.access("/workspace", os.W_OK):
        return "/workspace"
    return "/tmp/workspace"


class Workspace(FilesystemTools):
    """A workspace directory with file tools and a sandboxed terminal (see the module docstring)."""

    def __init__(self, visibility: str = "conversation", mode: WorkspaceMode | str = WorkspaceMode.STANDARD,
                 agent_name: str | None = None, scope: str | None = None, conversation: str | None = None,
                 base_dir: str | os.PathLike[str] | None = None, command_timeout: float = 60) -> None:
        try:
            self.mode = WorkspaceMode(mode)
        except ValueError:
            raise ConfigError(f"Workspace: mode {mode!r} is not one of "
                              f"{', '.join(m.value for m in WorkspaceMode)}") from None
        if isinstance(command_timeout, bool) or not isinstance(command_timeout, (int, float)) \
                or not command_timeout > 0:
            raise ConfigError(f"Workspace: command_timeout must be positive seconds, not {command_timeout!r}")
        self.command_timeout = float(command_timeout)
        self.tool_names = _READ_TOOLS + (_WRITE_TOOLS if self.mode is WorkspaceMode.STANDARD else ())
        super().__init__(visibility, agent_name, scope, conversation,
                         base_dir if base_dir is not None else default_base_dir())

    def _bound(self, scope: str | None, conversation: str | None, agent_name: str | None) -> Workspace:
        return Workspace(self.visibility, self.mode, self.agent_name or agent_name or "default",
                         self.scope or scope or "default", self.conversation or conversation or "default",
                         self.base_dir, self.command_timeout)

    def edit_file(self, path: str, old_str: str, new_str: str) -> str:  # type: ignore[override]
        """Replace old_str by new_str in a file; old_str must occur exactly once."""
        return super().edit_file(path, old_str, new_str)

    async def terminal(self, command: str, timeout: float | None = None) -> str:
        """Run a bash command in the workspace (a sandbox: no network, only the workspace is writable).
        Returns its output (stdout and stderr)."""
        if timeout is not None and not timeout > 0:
            raise ValueError(f"timeout must be positive seconds, not {timeout!r}")
        try:
            return await run_sandboxed(self.files.ensure(), command, timeout or self.command_timeout)
        except SandboxUnavailable as exc:
            return f"Command not run: {exc}"

    def __repr__(self) -> str:
        return f"Workspace(mode={self.mode.value!r}, visibility={self.visibility!r}, root={self.root!r})"
