"""Workspace: read-only and standard modes, and terminal commands in a real bubblewrap sandbox."""

from __future__ import annotations

import json
import shutil

import pytest

from autonomy.tools import Workspace, WorkspaceMode
from autonomy.tools import sandbox as sandbox_module
from autonomy.tools.sandbox import sandbox_problem

needs_sandbox = pytest.mark.skipif(sandbox_problem() is not None,
                                   reason=f"no bubblewrap sandbox here: {sandbox_problem()}")


async def call(tools, name, **arguments):
    tool = next(t for t in tools if t.name == name)
    return await tool.invoke(json.dumps(arguments))


def test_modes_offer_upstreams_tools(tmp_path):
    read_only = Workspace(mode=WorkspaceMode.READ_ONLY, base_dir=tmp_path).create_tools("s", "c", "a")
    assert [t.name for t in read_only] == ["list_directory", "read_file", "find_files", "search_in_files"]
    standard = Workspace(mode="standard", base_dir=tmp_path).create_tools("s", "c", "a")
    assert [t.name for t in standard][4:] == ["write_file", "edit_file", "remove_file", "remove_directory",
                                             "terminal"]
    edit = next(t for t in standard if t.name == "edit_file")
    assert list(edit.parameters["properties"]) == ["path", "old_str", "new_str"]


def test_default_base_dir_outside_a_zone(monkeypatch):
    monkeypatch.delenv("CLUSTER", raising=False)
    monkeypatch.delenv("ZONE", raising=False)
    assert Workspace("all").root == "/tmp/workspace"


def test_bad_mode_and_timeout_are_refused(tmp_path):
    with pytest.raises(ValueError, match="mode 'write' is not one of read-only, standard"):
        Workspace(mode="write", base_dir=tmp_path)
    with pytest.raises(ValueError, match="command_timeout must be positive"):
        Workspace(base_dir=tmp_path, command_timeout=0)


@needs_sandbox
async def test_terminal_runs_in_the_workspace_and_only_the_workspace_is_writable(tmp_path):
    tools = Workspace(base_dir=tmp_path).create_tools("alice", "c1", "bot")
    out = await call(tools, "terminal", command="echo hello > note.txt; pwd; echo $HOME; cat note.txt; "
                     "touch /etc/x 2>&1; touch /usr/x 2>&1; echo err >&2")
    lines = out.splitlines()
    assert lines[:3] == ["/workspace", "/workspace", "hello"]
    assert "Read-only file system" in lines[3] and "Read-only file system" in lines[4]
    assert lines[5] == "err"
    assert (tmp_path / "bot" / "alice" / "c1" / "note.txt").read_text() == "hello\n"
    assert await call(tools, "read_file", path="/note.txt") == "hello\n"


@needs_sandbox
async def test_terminal_sees_neither_the_hosts_files_nor_its_environment_nor_the_network(tmp_path, monkeypatch):
    monkeypatch.setenv("SOME_SECRET", "s3cr3t")
    (tmp_path / "private").mkdir()
    (tmp_path / "private" / "key").write_text("k")
    tools = Workspace("all", base_dir=tmp_path / "ws").create_tools("s", "c")
    out = await call(tools, "terminal", command=f"env; ls {tmp_path}/private 2>&1; ls /root /home 2>&1 | head -3; "
                     "(exec 3<>/dev/tcp/127.0.0.1/22) 2>&1 | head -1")
    assert "s3cr3t" not in out and "SOME_SECRET" not in out
    assert "No such file or directory" in out
    assert "Network is unreachable" in out or "Connection refused" in out or "Cannot assign" in out


@needs_sandbox
async def test_terminal_timeout_kills_the_command_and_exit_status_is_reported(tmp_path):
    ws = Workspace("all", base_dir=tmp_path, command_timeout=30)
    tools = ws.create_tools("s", "c")
    out = await call(tools, "terminal", command="echo started; sleep 60 & sleep 60", timeout=0.5)
    assert out == "started\n[command timed out after 0.5 s and was killed]"
    assert await call(tools, "terminal", command="echo no; exit 3") == "no\n[exit status 3]"
    # a link made by a command cannot be used to read outside the workspace
    await call(tools, "terminal", command="ln -s /etc/passwd p")
    assert "leaves the root" in await call(tools, "read_file", path="p")


async def test_terminal_is_refused_with_the_reason_where_no_sandbox_can_run(tmp_path, monkeypatch):
    monkeypatch.setattr(sandbox_module, "_problem", [])
    monkeypatch.setattr(shutil, "which", lambda name, *a, **k: None)
    tools = Workspace("all", base_dir=tmp_path).create_tools("s", "c")
    out = await call(tools, "terminal", command="touch ran")
    assert out.startswith("Command not run:") and "install the Debian package bubblewrap" in out
    assert not (tmp_path / "ran").exists()
