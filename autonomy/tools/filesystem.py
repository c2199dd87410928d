"""``FilesystemTools``: files an agent reads and writes, seen through a virtual root (spec §1.5).

``FilesystemTools(visibility="conversation", agent_name=None, scope=None, conversation=None,
base_dir="/tmp/agent-files")``. The visibility says who shares the files:

==============  ============================================  ==========================================
visibility      root directory                                shared by
==============  ============================================  ==========================================
``all``         ``base_dir``                                  every agent using this base_dir
``agent``       ``base_dir/agent``                            all conversations of one agent
``scope``       ``base_dir/agent/scope``                      the conversations of one scope (a user)
``conversation````base_dir/agent/scope/conversation``         one conversation
==============  ============================================  ==========================================

When the values the visibility needs are given, the instance is bound to its root; otherwise it is
a *factory*: an agent calls ``create_tools(scope, conversation, agent_name)`` for each conversation
(missing values become ``"default"``), which is what ``Agent.start(tools=[FilesystemTools()])`` and
``enable_filesystem=True`` do. Paths are virtual and cannot leave the root (``virtual_root.py``).

The tools: ``list_directory``, ``read_file``, ``write_file``, ``edit_file``, ``find_files``,
``search_in_files``, ``remove_file``, ``remove_directory`` (``copy_file`` and ``move_file`` are
methods, not tools, as upstream).
"""

from __future__ import annotations

import copy
import os
from typing import Any

from autonomy.tools.file_operations import FileOperations
from autonomy.tools.tool import Tool
from autonomy.tools.virtual_root import VirtualRoot, check_part, needed_parts, root_of

__all__ = ["FilesystemTools", "DEFAULT_BASE_DIR", "TOOL_NAMES"]

DEFAULT_BASE_DIR = "/tmp/agent-files"
_TEMPLATES: dict[tuple[type, str], Tool] = {}
TOOL_NAMES = ("list_directory", "read_file", "write_file", "edit_file", "find_files", "search_in_files",
              "remove_file", "remove_directory")


class FilesystemTools(FileOperations):
    """File tools on a root chosen by ``visibility`` (see the module docstring)."""

    tool_names: tuple[str, ...] = TOOL_NAMES

    def __init__(self, visibility: str = "conversation", agent_name: str | None = None, scope: str | None = None,
                 conversation: str | None = None, base_dir: str | os.PathLike[str] = DEFAULT_BASE_DIR) -> None:
        needed = needed_parts(visibility)  # ConfigError naming the visibility
        values = {"agent_name": agent_name, "scope": scope, "conversation": conversation}
        for part, value in values.items():
            if value is not None:
                check_part(part, value)
        self.visibility = visibility
        self.agent_name, self.scope, self.conversation = agent_name, scope, conversation
        self.base_dir = str(base_dir)
        self.is_factory = any(values[part] is None for part in needed)
        super().__init__(VirtualRoot(root_of(self.base_dir, visibility, agent_name, scope, conversation)))

    def _bound(self, scope: str | None, conversation: str | None, agent_name: str | None) -> FilesystemTools:
        return type(self)(self.visibility, self.agent_name or agent_name or "default", self.scope or scope or "default",
                          self.conversation or conversation or "default", self.base_dir)

    def create_tools(self, scope: str | None, conversation: str | None, agent_name: str | None = None) -> list[Any]:
        """The tools of one conversation: on this instance's root when it is bound, else on the root of
        ``(agent_name, scope, conversation)`` (missing values are ``"default"``)."""
        bound = self if not self.is_factory else self._bound(scope, conversation, agent_name)
        return bound.tools()

    def tools(self) -> list[Tool]:
        """This instance's operations as tools (on its root; for a factory, the ``default`` one)."""
        return [self._tool(name) for name in self.tool_names]

    def _tool(self, name: str) -> Tool:
        # A Tool's schema comes from the method's signature, the same for every instance: it is built
        # once per class and operation (pydantic schemas cost milliseconds), then bound to this instance.
        template = _TEMPLATES.get((type(self), name))
        if template is None:
            template = _TEMPLATES[(type(self), name)] = Tool(getattr(self, name))
        tool = copy.copy(template)
        tool.func = getattr(self, name)
        tool.__wrapped__ = tool.func  # type: ignore[attr-defined]  # what inspect/FastAPI unwrap to
        return tool

    @property
    def root(self) -> str:
        """The host directory the virtual ``/`` is."""
        return str(self.files.root)

    def __repr__(self) -> str:
        return f"{type(self).__name__}(visibility={self.visibility!r}, root={self.root!r}, factory={self.is_factory})"
