"""FilesystemTools: roots by visibility, factory mode, virtual paths that cannot leave the root, and
every operation with upstream's argument names (called as the model calls them: JSON arguments)."""

from __future__ import annotations

import json
import os

import pytest

from autonomy.tools import FilesystemTools
from autonomy.tools.filesystem import FilesystemTools as FromUpstreamPath  # upstream's module path


async def call(tools, name, **arguments):
    tool = next(t for t in tools if t.name == name)
    return await tool.invoke(json.dumps(arguments))


def test_upstream_module_path_and_tool_names(tmp_path):
    assert FromUpstreamPath is FilesystemTools
    tools = FilesystemTools(base_dir=tmp_path).create_tools("s", "c", agent_name="a")
    assert [t.name for t in tools] == ["list_directory", "read_file", "write_file", "edit_file", "find_files",
                                       "search_in_files", "remove_file", "remove_directory"]


@pytest.mark.parametrize(("visibility", "root"), [
    ("all", ""), ("agent", "bot"), ("scope", "bot/alice"), ("conversation", "bot/alice/c1")])
def test_each_visibility_has_its_root(tmp_path, visibility, root):
    bound = FilesystemTools(visibility, agent_name="bot", scope="alice", conversation="c1", base_dir=tmp_path)
    assert not bound.is_factory
    assert bound.root == str(tmp_path / root) if root else str(tmp_path)


def test_missing_context_makes_a_factory_whose_tools_fill_in_default(tmp_path):
    factory = FilesystemTools("scope", agent_name="bot", base_dir=tmp_path)
    assert factory.is_factory
    tools = factory.create_tools(None, None)
    assert tools[0].func.__self__.root == str(tmp_path / "bot" / "default")


async def test_conversations_do_not_see_each_others_files_but_a_scope_shares(tmp_path):
    factory = FilesystemTools(base_dir=tmp_path)
    c1 = factory.create_tools("alice", "c1", agent_name="bot")
    c2 = factory.create_tools("alice", "c2", agent_name="bot")
    await call(c1, "write_file", path="/secret.txt", content="mine")
    assert "not a file" in await call(c2, "read_file", path="/secret.txt")
    shared = FilesystemTools("scope", base_dir=tmp_path)
    await call(shared.create_tools("alice", "c1", "bot"), "write_file", path="n.md", content="x")
    assert await call(shared.create_tools("alice", "c2", "bot"), "read_file", path="n.md") == "x"


@pytest.mark.parametrize("path", ["../x", "/../../etc/passwd", "a/../../x", "..\\x"])
async def test_paths_cannot_leave_the_root(tmp_path, path):
    tools = FilesystemTools("all", base_dir=tmp_path / "root").create_tools("s", "c")
    (tmp_path / "x").write_text("outside")
    result = await call(tools, "read_file", path=path)
    assert result.startswith("Tool execution failed: ValueError") and "leaves the root" in result


async def test_a_link_out_of_the_root_is_refused(tmp_path):
    root = tmp_path / "root"
    root.mkdir()
    os.symlink("/etc", root / "etc")
    tools = FilesystemTools("all", base_dir=root).create_tools("s", "c")
    assert "leaves the root" in await call(tools, "read_file", path="etc/hostname")
    assert "No files match" in await call(tools, "find_files", pattern="**/hostname")


async def test_every_operation(tmp_path):
    tools = FilesystemTools("all", base_dir=tmp_path).create_tools("s", "c")
    assert await call(tools, "write_file", path="/notes/a.md", content="one\ntwo\nthree\n") \
        == "Wrote 14 characters to /notes/a.md"
    assert await call(tools, "read_file", path="notes/a.md") == "one\ntwo\nthree\n"
    assert await call(tools, "read_file", path="notes/a.md", start_line=2, end_line=2) == "two\n"
    assert await call(tools, "list_directory") == "notes/"
    assert await call(tools, "list_directory", path="/notes") == "a.md (14 bytes)"
    assert await call(tools, "find_files", pattern="*.md") == "/notes/a.md"
    assert await call(tools, "search_in_files", pattern="T.O", case_sensitive=False) == "/notes/a.md:2: two"
    assert await call(tools, "search_in_files", pattern="two", context_lines=1, show_line_numbers=False) \
        == "/notes/a.md- one\n/notes/a.md: two\n/notes/a.md- three\n--"
    await call(tools, "write_file", path="b.txt", content="x x x")
    assert "occurs 3 times" in await call(tools, "edit_file", path="b.txt", old_string="x", new_string="y")
    assert "Replaced 3" in await call(tools, "edit_file", path="b.txt", old_string="x", new_string="y",
                                      replace_all=True)
    assert await call(tools, "read_file", path="b.txt") == "y y y"
    assert "not found" in await call(tools, "edit_file", path="b.txt", old_string="zzz", new_string="y")
    assert "more than 1 matches" in await call(tools, "search_in_files", pattern="[a-z]", max_results=1)
    assert "not empty" in await call(tools, "remove_directory", path="notes")
    assert await call(tools, "remove_file", path="b.txt") == "Removed /b.txt"
    assert await call(tools, "remove_directory", path="notes", recursive=True) == "Removed directory /notes"
    assert await call(tools, "list_directory") == "/ is empty"


def test_copy_and_move_are_methods_not_tools(tmp_path):
    fs = FilesystemTools("all", base_dir=tmp_path)
    fs.write_file("a", "1")
    fs.copy_file("a", "d/b")
    fs.move_file("d/b", "c")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a", "c", "d"]


@pytest.mark.parametrize(("kwargs", "problem"), [
    ({"visibility": "everyone"}, "visibility 'everyone' is not one of all, agent, scope, conversation"),
    ({"agent_name": "../x"}, "agent_name '../x' cannot name a directory"),
    ({"scope": "a/b"}, "scope 'a/b' cannot name a directory"),
])
def test_bad_configuration_names_the_field(tmp_path, kwargs, problem):
    with pytest.raises(ValueError, match=problem):
        FilesystemTools(base_dir=tmp_path, **kwargs)
