"""Subagents: the five tools, and parallel delegation spread over the zone's runner nodes (real NATS)."""

from __future__ import annotations

import asyncio
import json

from autonomy import Agent, Zone
from tests.support.fake_llm import Reply


class WhereAmI:
    """A tool answering the name of the node its agent runs on (the agent gives it ``node``)."""

    name = "where_am_i"

    def __init__(self) -> None:
        self.node = None

    async def spec(self):
        return {"type": "function", "function": {"name": self.name, "description": "node name",
                                                 "parameters": {"type": "object", "properties": {}}}}

    async def invoke(self, json_argument=None):
        return self.node.name


def scripted(parent_call):
    """Workers answer from where they run; the parent makes ``parent_call`` then reports the result."""

    def respond(request):
        messages = request["messages"]
        last = messages[-1]
        if "You are a worker" in messages[0]["content"]:
            if last["role"] == "tool":
                return f"did {messages[1]['content']} on {last['content']}"
            return Reply(tool_calls=[("where_am_i", {})])
        if last["role"] == "tool":
            return "all done"
        return Reply(tool_calls=[parent_call])
    return respond


def worker(**extra):
    return {"instructions": "You are a worker.", "tools": [WhereAmI()], **extra}


async def tool_result(messages):
    return next(m.content.text for m in messages if m.role.value == "tool")


async def test_delegate_to_one_subagent_which_is_started_once_and_reused(node, model, fake_llm):
    fake_llm.respond_with(scripted(("delegate_to_subagent", {"role": "worker", "task": "t1"})))
    boss = await Agent.start(node, "You are the boss.", name="boss", model=model, subagents={"worker": worker()})
    messages = await boss.send("go")
    assert await tool_result(messages) == "did t1 on agents-test"
    assert messages[-1].content.text == "all done"
    names = [a["name"] for a in await node.list_agents()]
    subagent = [n for n in names if n.startswith("boss__subagent__worker__")]
    assert len(subagent) == 1
    await boss.send("again")
    assert [n for n in (a["name"] for a in await node.list_agents()) if "__subagent__" in n] == subagent
    await Agent.stop(node, "boss")  # its subagents stop with it
    assert [a["name"] for a in await node.list_agents()] == []
    tools = {t["function"]["name"] for t in fake_llm.completion_requests()[0].json["tools"]}
    assert {"start_subagent", "delegate_to_subagent", "delegate_to_subagents_parallel", "list_subagents",
            "stop_subagent"} <= tools


async def test_list_and_stop_subagents(node, model, fake_llm):
    fake_llm.reply(tool_calls=[("start_subagent", {"role": "worker"}), ("list_subagents", {}),
                               ("stop_subagent", {"role": "worker"}), ("list_subagents", {}),
                               ("delegate_to_subagent", {"role": "nobody", "task": "x"})])
    fake_llm.reply("ok")
    boss = await Agent.start(node, "boss", model=model, subagents={"worker": worker()})
    results = [m.content.text for m in await boss.send("go") if m.role.value == "tool"]
    assert results[0].startswith(f"{boss.name}__subagent__worker__")
    assert json.loads(results[1])["running"] == ["worker"]
    assert results[2].startswith("stopped subagent 'worker'")
    assert json.loads(results[3]) | {"details": None} == {"configured": ["worker"], "running": [], "details": None}
    assert "no subagent role 'nobody'" in results[4]


async def test_a_subagent_without_auto_start_must_be_started(node, model, fake_llm):
    fake_llm.reply(tool_calls=[("delegate_to_subagent", {"role": "worker", "task": "x"})])
    fake_llm.reply("ok")
    boss = await Agent.start(node, "boss", model=model, subagents={"worker": worker(auto_start=False)})
    assert "is not running: call start_subagent first" in await tool_result(await boss.send("go"))


async def test_parallel_delegation_spreads_over_the_zones_runner_nodes(fabric, model, fake_llm):
    main = await fabric.node("main")
    runners = [await fabric.node("runner"), await fabric.node("runner")]
    try:
        deadline = asyncio.get_running_loop().time() + 30
        while len(await Zone.nodes(main, filter="runner")) < 2:
            assert asyncio.get_running_loop().time() < deadline, "the runners did not join the zone"
            await asyncio.sleep(0.05)
        fake_llm.respond_with(scripted(("delegate_to_subagents_parallel",
                                        {"role": "worker", "tasks": ["t0", "t1", "t2", "t3"]})))
        boss = await Agent.start(main, "You are the boss.", model=model, subagents={"worker": worker()},
                                 subagent_runner_filter="runner")
        results = json.loads(await tool_result(await boss.send("go", timeout=60)))
        assert [r["task"] for r in results] == ["t0", "t1", "t2", "t3"]
        assert all(r["success"] for r in results), results
        names = sorted(r.name for r in runners)
        assert [r["result"] for r in results] == [f"did t{i} on {names[i % 2]}" for i in range(4)]
        for runner in runners:  # every subagent was stopped after its task
            assert not [a for a in await runner.list_agents() if "__subagent__" in a["name"]]
        fake_llm.reset()
        fake_llm.respond_with(scripted(("delegate_to_subagent", {"role": "worker", "task": "local"})))
        assert await tool_result(await boss.send("here", timeout=60)) == f"did local on {main.name}"
        fake_llm.respond_with(scripted(("delegate_to_subagents_parallel", {"role": "worker", "tasks": ["t"]})))
        results = json.loads(await tool_result(await boss.send("there", timeout=60)))  # tools still travel
        assert results[0]["result"] == f"did t on {names[0]}"
        fake_llm.respond_with(scripted(("delegate_to_subagents_parallel",
                                        {"role": "worker", "tasks": ["t"], "runner_filter": "gpu"})))
        results = await tool_result(await boss.send("again", timeout=60))
        assert "no node of this zone matches the runner filter 'gpu'" in results
    finally:
        for n in (main, *runners):
            await n.stop()
