"""Long-term memory: conversations kept in SQLite survive a new Memory / a restarted agent."""

from __future__ import annotations

import stat

from autonomy import Agent
from autonomy.memory import Memory


async def test_messages_survive_and_tenants_are_separate(tmp_path):
    path = tmp_path / "data" / "memory.sqlite"
    first = Memory(enable_long_term_memory=True, tenant="bot", store_path=str(path))
    for i in range(5):
        await first.add_message("s", "c", {"role": "user", "content": f"m{i}"})
    await first.add_message("s", "other", {"role": "user", "content": "x"})
    again = Memory(max_messages_in_short_term_memory=3, enable_long_term_memory=True, tenant="bot",
                   store_path=str(path))
    assert [m["content"] for m in await again.get_messages_only("s", "c")] == ["m2", "m3", "m4"]
    assert await Memory(enable_long_term_memory=True, tenant="other", store_path=str(path)) \
        .get_messages_only("s", "c") == []
    await again.delete_conversation("s", "c")
    assert await Memory(enable_long_term_memory=True, tenant="bot", store_path=str(path)) \
        .get_message_count("s", "c") == 0
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert stat.S_IMODE(path.parent.stat().st_mode) == 0o700
    assert (await again.health_check())["long_term_memory"] is True


async def test_a_restarted_agent_remembers_the_conversation(node, model, fake_llm, tmp_path, monkeypatch):
    monkeypatch.setenv("AUTONOMY_MEMORY_DB", str(tmp_path / "memory.sqlite"))
    agent = await Agent.start(node, "x", name="rememberer", model=model, enable_long_term_memory=True)
    await agent.send("my name is Ada", scope="u", conversation="c")
    await Agent.stop(node, "rememberer")
    agent = await Agent.start(node, "x", name="rememberer", model=model, enable_long_term_memory=True)
    await agent.send("what is my name?", scope="u", conversation="c")
    sent = fake_llm.completion_requests()[-1].json["messages"]
    assert [m["content"] for m in sent[1:]] == ["my name is Ada", "echo: my name is Ada", "what is my name?"]
