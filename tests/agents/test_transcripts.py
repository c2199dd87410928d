"""Transcripts: each model call of a conversation appended as a JSON line when AUTONOMY_TRANSCRIPTS_DIR is set."""

from __future__ import annotations

import json
import stat

from autonomy import Agent
from tests.agents.conftest import AddTool


async def test_each_model_call_is_recorded_per_conversation(node, model, fake_llm, tmp_path, monkeypatch):
    directory = tmp_path / "transcripts"
    monkeypatch.setenv("AUTONOMY_TRANSCRIPTS_DIR", str(directory))
    fake_llm.reply(tool_calls=[("add", {"a": 1, "b": 2})])
    fake_llm.reply("3")
    agent = await Agent.start(node, "Add.", name="adder", model=model, tools=[AddTool()])
    await agent.send("1+2?", scope="alice", conversation="c/1")
    await agent.send_stream("again", conversation="c2").__anext__()
    path = directory / "adder_alice_c_1.jsonl"
    lines = [json.loads(line) for line in path.read_text().splitlines()]
    assert len(lines) == 2
    assert lines[0]["request"]["messages"][-1] == {"role": "user", "content": "1+2?"}
    assert lines[0]["response"]["tool_calls"][0]["function"] == {"name": "add", "arguments": '{"a": 1, "b": 2}'}
    assert lines[1]["response"]["content"] == "3" and lines[1]["error"] is None
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert stat.S_IMODE(directory.stat().st_mode) == 0o700


async def test_a_failed_call_is_recorded_with_its_error(node, model, fake_llm, tmp_path, monkeypatch):
    monkeypatch.setenv("AUTONOMY_TRANSCRIPTS_DIR", str(tmp_path))
    fake_llm.fail(400)
    agent = await Agent.start(node, "x", name="failing", model=model)
    try:
        await agent.send("hi")
    except Exception:
        pass
    line = json.loads((tmp_path / "failing_none_none.jsonl").read_text())
    assert line["response"] is None and "Model completion failed" in line["error"]
