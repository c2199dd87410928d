"""Agents on another node of the zone, over the real NATS fabric (embedded nats-server)."""

from __future__ import annotations

import pytest

from autonomy import RemoteNode
from autonomy.agents import Agent, AgentError, AgentReference
from autonomy.nodes.message import ToolCallResponseMessage
from tests.agents.conftest import AddTool


@pytest.fixture
async def pair(fabric):  # noqa: F811
    a = await fabric.node("main")
    b = await fabric.node("runner")
    try:
        yield a, b
    finally:
        await a.stop()
        await b.stop()


async def test_remote_node_starts_an_agent_and_a_reference_talks_to_it(pair, model, fake_llm):
    a, b = pair
    runner = RemoteNode(a, b.name)
    fake_llm.reply(tool_calls=[("add", {"a": 20, "b": 22})])
    fake_llm.reply("It is 42")
    name = await runner.start_agent("You add.", name="adder", model=model, tools=[AddTool()])
    assert name == "adder"
    assert [agent["name"] for agent in await b.list_agents()] == ["adder"]
    agent = AgentReference("adder", runner)
    assert agent.node is a and agent.node_name == b.name
    messages = await agent.send("20+22?", scope="s", conversation="c", timeout=30)
    assert isinstance(messages[1], ToolCallResponseMessage) and messages[1].content.text == "42"
    assert messages[-1].content.text == "It is 42"
    assert (await agent.get_conversation_state("s", "c")).message_count == 4


async def test_streaming_from_a_remote_agent_keeps_the_parts_in_order(pair, model, fake_llm):
    a, b = pair
    runner = RemoteNode(a, b.name)
    fake_llm.reply("a fairly long answer that the fake model splits into several chunks")
    agent = await Agent.start(runner, "You talk.", name="talker", model=model)  # forwarded to start_agent
    parts = [p async for p in agent.send_stream("talk", scope="s", conversation="c", timeout=30)]
    assert [p.part_nb for p in parts] == list(range(1, len(parts) + 1)) and parts[-1].finished
    text = "".join(m.content.text for p in parts for m in p.snippet.messages)
    assert text == "a fairly long answer that the fake model splits into several chunks"
    assert (await runner.list_agents())[0]["workers"] == ["talker/s/c"]


async def test_remote_start_agents_and_errors_come_back(pair, model, fake_llm):
    a, b = pair
    runner = RemoteNode(a, b.name)
    names = await runner.start_agents("You help.", 2, model=model)
    assert sorted(names) == sorted(agent["name"] for agent in await b.list_agents())
    fake_llm.fail(500)
    with pytest.raises(AgentError, match="Model completion failed"):
        await AgentReference(names[0], runner).send("hi", timeout=30)


async def test_agent_start_on_a_remote_node_keeps_all_its_settings(pair, model, fake_llm):
    a, b = pair
    runner = RemoteNode(a, b.name)
    fake_llm.reply("late", delay=5)
    agent = await Agent.start(runner, "You talk.", name="quick", model=model, max_execution_time=0.3)
    with pytest.raises(AgentError, match=r"maximum execution time \(0.3s\)"):
        await agent.send("hi", timeout=30)
    fake_llm.reset()
    fake_llm.reply(tool_calls=[("ask_user_for_input", {"question": "Which city?"})])
    asking = await Agent.start(runner, "You ask.", name="asker", model=model, enable_ask_for_user_input=True)
    reply = await asking.send("weather?", scope="s", conversation="c", timeout=30)
    assert reply[-1].content.text == "Which city?" and reply[-1].phase.value == "waiting_for_input"
