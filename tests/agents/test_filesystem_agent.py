"""Agents with files: FilesystemTools per conversation, enable_filesystem, and a Workspace agent."""

from __future__ import annotations

import pytest

from autonomy import Agent, FilesystemTools, Workspace
from autonomy.tools.sandbox import sandbox_problem


async def test_agent_writes_files_in_its_conversations_root(node, model, fake_llm, tmp_path):
    fake_llm.reply(tool_calls=[("write_file", {"path": "/memory.md", "content": "likes tea"})])
    fake_llm.reply("noted")
    fake_llm.reply(tool_calls=[("read_file", {"path": "/memory.md"})])
    fake_llm.reply("done")
    agent = await Agent.start(node, "Remember things.", name="keeper", model=model,
                              tools=[FilesystemTools(base_dir=tmp_path)])
    await agent.send("I like tea", scope="alice", conversation="c1")
    assert (tmp_path / "keeper" / "alice" / "c1" / "memory.md").read_text() == "likes tea"
    messages = await agent.send("what do I like?", scope="alice", conversation="c2")
    assert "is not a file" in messages[1].content.text  # c2 has its own root


async def test_enable_filesystem_gives_the_tools_and_tells_the_model(node, model, fake_llm):
    fake_llm.reply("ok")
    agent = await Agent.start(node, "x", model=model, enable_filesystem=True, filesystem_visibility="agent")
    await agent.send("hi")
    request = fake_llm.completion_requests()[0].json
    names = {t["function"]["name"] for t in request["tools"]}
    assert {"list_directory", "read_file", "write_file", "edit_file", "find_files", "search_in_files",
            "remove_file", "remove_directory"} <= names
    assert "memory.md" in request["messages"][0]["content"]


@pytest.mark.skipif(sandbox_problem() is not None, reason=f"no bubblewrap sandbox here: {sandbox_problem()}")
async def test_workspace_agent_runs_a_command_in_its_sandbox(node, model, fake_llm, tmp_path):
    fake_llm.reply(tool_calls=[("terminal", {"command": "printf 'print(6*7)' > a.py && python3 a.py"})])
    fake_llm.reply("42")
    agent = await Agent.start(node, "Code.", model=model, tools=[Workspace(base_dir=tmp_path)])
    messages = await agent.send("compute", scope="s", conversation="c")
    assert messages[1].content.text == "42"
    assert (tmp_path / agent.name / "s" / "c" / "a.py").exists()
