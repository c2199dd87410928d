"""Upstream's planners (autonomy.planning) against a real Model talking to the fake LLM endpoint."""

from __future__ import annotations

import pytest

from autonomy.models import Model
from autonomy.nodes.message import AssistantMessage, Phase, SystemMessage, UserMessage
from autonomy.planning import CoTPlanner, DynamicPlanner, Plan, Planner, ReActPlanner


@pytest.fixture
def model(fake_llm, monkeypatch):
    monkeypatch.setenv("OPENAI_BASE_URL", fake_llm.base_url)
    monkeypatch.setenv("OPENAI_API_KEY", fake_llm.api_key)
    return Model("deepseek-r1")


async def steps_of(plan, messages):
    return [m async for m in plan.next_step(messages, None)]


async def test_react_planner_hands_out_the_models_steps_one_by_one(fake_llm, model):
    fake_llm.reply("<think>hmm</think>Overview\n<step>Find the flour</step>\n<step>Bake it</step>\nDone.")
    conversation = [SystemMessage("be brief"), UserMessage("Bake a cake")]
    planner = ReActPlanner(model)
    assert isinstance(planner, Planner)
    plan = await planner.plan(conversation, "flour is in the cupboard")
    assert isinstance(plan, Plan)
    first = await steps_of(plan, conversation)
    second = await steps_of(plan, conversation)
    assert [m.content.text for m in first + second] == ["Find the flour", "Bake it"]
    assert all(m.phase == Phase.PLANNING for m in first + second)
    assert await steps_of(plan, conversation) == []  # done: nothing more (upstream raises IndexError)
    sent = fake_llm.requests[-1].json["messages"]
    assert "flour is in the cupboard" in sent[0]["content"] and sent[-1] == {"role": "user", "content": "Bake a cake"}


async def test_react_planner_falls_back_to_the_task_when_the_model_writes_no_steps(fake_llm, model):
    for _ in range(3):
        fake_llm.reply("I would just do it.")
    plan = await ReActPlanner(model).plan([UserMessage("Bake a cake")], None)
    assert [m.content.text for m in await steps_of(plan, [])] == ["Bake a cake"]


async def test_cot_planner_yields_the_whole_plan_once_streamed_or_not(fake_llm, model):
    for stream in (False, True):
        fake_llm.reply("1. Gather. 2. Bake.")
        plan = await CoTPlanner(model).plan([UserMessage("Bake a cake")], None, stream=stream)
        messages = await steps_of(plan, [UserMessage("Bake a cake")])
        assert "".join(m.content.text for m in messages) == "1. Gather. 2. Bake."
        assert await steps_of(plan, []) == []
    assert fake_llm.requests[-1].json["stream"] is True


async def test_dynamic_planner_asks_whether_done_before_each_step(fake_llm, model):
    fake_llm.reply("no")
    fake_llm.reply("Find the flour")
    fake_llm.reply("yes")
    conversation = [UserMessage("Bake a cake")]
    plan = await DynamicPlanner(model).plan(conversation, None)
    assert [m.content.text for m in await steps_of(plan, conversation)] == ["Find the flour"]
    conversation.append(AssistantMessage("The cake is baked."))
    assert await steps_of(plan, conversation) == []
    assert await steps_of(plan, conversation) == []  # completed: the model is not asked again
    assert len(fake_llm.requests) == 3


async def test_a_plan_needs_the_users_task_last(model):
    with pytest.raises(ValueError, match=r"messages\[-1\].role .* must be the user's task"):
        await CoTPlanner(model).plan([UserMessage("hi"), AssistantMessage("hello")], None)
    with pytest.raises(ValueError, match="at least one message"):
        await ReActPlanner(model).plan([], None)
