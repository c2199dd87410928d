"""Flows: conversations routed through agents by the answers' first lines; flows reply (unlike upstream)."""

from __future__ import annotations

import json

import pytest

from autonomy import END, START, Agent, Flow, FlowOperation, FlowReference
from autonomy.agents import AgentError


def by_role():
    """The writer writes numbered drafts; the reviewer approves draft 2."""
    drafts = []

    def respond(request):
        messages = request["messages"]
        system, last = messages[0]["content"], messages[-1]["content"]
        if system == "writer":
            drafts.append(f"draft {len(drafts) + 1}")
            return drafts[-1]
        return "Approved!" if last == "draft 2" else "REVISE\nmake it better"
    return respond


async def review_flow(node, model, name="review"):
    writer = await Agent.start(node, "writer", name="writer", model=model)
    reviewer = await Agent.start(node, "reviewer", name="reviewer", model=model)
    flow = Flow(name, iteration_limit=10)
    flow.add(START, writer)
    flow.add(writer, reviewer, operation=FlowOperation.EVALUATE)
    flow.add(reviewer, END, condition="approved")
    flow.add(reviewer, writer)
    return await Flow.start(node, flow)


async def test_a_flow_loops_until_the_condition_and_replies_with_the_last_message(node, model, fake_llm):
    fake_llm.respond_with(by_role())
    reference = await review_flow(node, model)
    assert isinstance(reference, FlowReference) and reference.unstructure()["type"] == "flow"
    messages = await reference.send("write a haiku", scope="s", conversation="c", timeout=60)
    assert [m.content.text for m in messages] == ["draft 2"]
    reviewer_saw = [r.json["messages"] for r in fake_llm.completion_requests()
                    if r.json["messages"][0]["content"] == "reviewer"]
    assert [m[1:] for m in reviewer_saw] == [[{"role": "user", "content": "draft 1"}],
                                             [{"role": "user", "content": "draft 2"}]]


async def test_a_flow_answers_over_http_and_streams(node, http, model, fake_llm):
    fake_llm.respond_with(by_role())
    await review_flow(node, model)
    response = await http.post("/flows/review", json={"message": "write"})
    assert response.status_code == 200
    assert [m["content"]["text"] for m in response.json()] == ["draft 2"]
    fake_llm.respond_with(by_role())
    response = await http.post("/flows/review?stream=true", json={"message": "write"})
    lines = [json.loads(line) for line in response.text.splitlines()]
    assert [m["content"]["text"] for line in lines for m in line["messages"]] == ["draft 2"]


async def test_a_flow_without_a_way_on_and_a_flow_that_never_ends_reply_errors(node, model, fake_llm):
    echo = await Agent.start(node, "echo", name="echo", model=model)
    stuck = Flow("stuck")
    stuck.add(START, echo)
    stuck.add(echo, END, condition="done")
    with pytest.raises(AgentError, match="no edge from .*echo.* for the answer 'echo: hi'"):
        await (await Flow.start(node, stuck)).send("hi", timeout=30)
    loop = Flow("loop", iteration_limit=3)
    loop.add(START, echo)
    loop.add(echo, echo)
    with pytest.raises(AgentError, match="did not reach END in 3 iterations"):
        await (await Flow.start(node, loop)).send("hi", timeout=30)


async def test_try_again_drops_the_last_answer(node, model, fake_llm):
    fake_llm.reply("bad")
    fake_llm.reply("good")
    agent = await Agent.start(node, "x", name="retry", model=model)
    flow = Flow("retry_flow")
    flow.add(START, agent)
    flow.add(agent, agent, condition="bad", operation=FlowOperation.TRY_AGAIN)
    flow.add(agent, END)
    assert [m.content.text for m in await (await Flow.start(node, flow)).send("go", timeout=30)] == ["good"]


def test_bad_flow_definitions_are_refused():
    with pytest.raises(ValueError, match="Invalid flow name"):
        Flow("bad name")
    with pytest.raises(ValueError, match="iteration_limit must be a positive integer"):
        Flow(iteration_limit=0)
    with pytest.raises(ValueError, match="cannot leave END"):
        Flow().add(END, START)
    with pytest.raises(TypeError, match="a flow vertex is START, END or an agent/flow reference"):
        Flow().add(START, 42)
