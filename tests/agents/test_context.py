"""Context templates: what the model sees, built from sections; summaries of long conversations."""

from __future__ import annotations

import asyncio

import pytest

from autonomy import AdditionalContextSection, Agent, SummarizedHistorySection
from autonomy.agents.context import (
    ContextTemplate,
    ConversationHistorySection,
    FrameworkInstructionsSection,
    SystemInstructionsSection,
)
from autonomy.memory import Memory


def summarizing(request):
    text = request["messages"][-1]["content"]
    if "Summarize this conversation" in text:
        return "SUMMARY: the user likes tea"
    return f"ok: {text}"


async def test_a_template_orders_sections_and_additional_context_reaches_the_model(node, model, fake_llm):
    seen = []

    async def facts(scope, conversation, params):
        seen.append((scope, conversation, params["agent_name"]))
        return [{"role": "system", "content": {"text": "The shop opens at 9.", "type": "text"}}]

    extra = AdditionalContextSection(name="facts", provider_fn=facts)
    extra.add_message({"role": "system", "content": "Be polite."})
    template = ContextTemplate([SystemInstructionsSection([{"role": "system", "content": "You sell tea."}]),
                                extra, ConversationHistorySection(max_messages=1)])
    fake_llm.reply("first")
    fake_llm.reply("second")
    agent = await Agent.start(node, "ignored when a template is given", name="shop", model=model,
                              context_template=template)
    await agent.send("hello", scope="u", conversation="c")
    await agent.send("when do you open?", scope="u", conversation="c")
    sent = fake_llm.completion_requests()[1].json["messages"]
    assert sent == [{"role": "system", "content": "You sell tea."}, {"role": "system", "content": "Be polite."},
                    {"role": "system", "content": "The shop opens at 9."},
                    {"role": "user", "content": "when do you open?"}]
    assert seen[0] == ("shop/u", "c", "shop")
    assert template.get_section_names() == ["system_instructions", "facts", "conversation_history"]


async def test_history_filter_and_transform():
    memory = Memory()
    for text in ("a", "b", "c"):
        await memory.add_message("s", "c", {"role": "user", "content": text})
    section = ConversationHistorySection(filter_fn=lambda m: m["content"] != "b",
                                         transform_fn=lambda m: {**m, "content": m["content"].upper()})
    params = {}
    assert [m["content"] for m in await section.get_messages(memory, "s", "c", params)] == ["A", "C"]
    assert params["conversation_message_count"] == 2


async def test_template_management():
    template = ContextTemplate([SystemInstructionsSection([{"role": "system", "content": "x"}])])
    template.add_section(FrameworkInstructionsSection(enable_filesystem=True), index=0)
    assert template.get_section_names() == ["framework_instructions", "system_instructions"]
    template.get_section("framework_instructions").set_enabled(False)
    assert await template.build_context(Memory(), "s", "c") == [{"role": "system", "content": "x"}]
    assert template.remove_section("framework_instructions") and not template.remove_section("nope")


async def test_summarized_history_summarizes_in_the_background_and_keeps_recent_messages(node, model, fake_llm):
    fake_llm.respond_with(summarizing)
    section = SummarizedHistorySection(model, floor=2, ceiling=4)
    template = ContextTemplate([SystemInstructionsSection([{"role": "system", "content": "x"}]), section])
    agent = await Agent.start(node, "x", model=model, context_template=template)
    for i in range(3):
        await agent.send(f"m{i}", scope="s", conversation="c")
    # the third turn saw 5 messages (> ceiling): all of them, while a summary was made in the background
    await section.wait_idle()
    assert section.last_error is None
    summary_request = [r for r in fake_llm.completion_requests()
                       if "Summarize" in r.json["messages"][-1]["content"]][0]
    assert summary_request.json["max_tokens"] == 2048
    assert "User: m0" in summary_request.json["messages"][-1]["content"]
    await agent.send("m3", scope="s", conversation="c")
    sent = fake_llm.completion_requests()[-1].json["messages"]
    assert sent[0] == {"role": "system", "content": "x"}
    assert sent[1]["role"] == "system" and "SUMMARY: the user likes tea" in sent[1]["content"]
    assert [m["content"] for m in sent[2:]] == ["ok: m1", "m2", "ok: m2", "m3"]


async def test_a_failed_summary_keeps_every_message(model, fake_llm):
    memory = Memory()
    for i in range(6):
        await memory.add_message("s", "c", {"role": "user", "content": f"m{i}"})
    fake_llm.fail(500, times=5)
    section = SummarizedHistorySection(model, floor=2, ceiling=4)
    assert len(await section.get_messages(memory, "s", "c", {})) == 6
    await section.wait_idle()
    assert "500" in section.last_error
    assert len(await section.get_messages(memory, "s", "c", {})) == 6


async def test_context_summary_uses_the_agents_model(node, model, fake_llm):
    fake_llm.respond_with(summarizing)
    agent = await Agent.start(node, "x", model=model, context_summary={"floor": 1, "ceiling": 2})
    for i in range(2):
        await agent.send(f"m{i}", scope="s", conversation="c")
    deadline = asyncio.get_running_loop().time() + 30
    while not any("Summarize" in r.json["messages"][-1]["content"] for r in fake_llm.completion_requests()):
        assert asyncio.get_running_loop().time() < deadline, "no summary was requested"
        await asyncio.sleep(0.05)


@pytest.mark.parametrize(("kwargs", "problem"), [
    ({"context_summary": True, "context_template": ContextTemplate([])}, "cannot both be given"),
    ({"context_summary": {"floors": 1}}, "unknown key"),
    ({"context_summary": {"floor": 5, "ceiling": 5}}, r"floor \(5\) must be less than ceiling \(5\)"),
    ({"context_summary": {"instructions": "no placeholder"}}, "must be a prompt containing '{conversation}'"),
    ({"context_summary": "yes"}, "must be True or a dict"),
    ({"context_template": [1]}, "must be a ContextTemplate"),
])
async def test_bad_context_arguments_are_refused_naming_them(node, model, kwargs, problem):
    with pytest.raises(ValueError, match=problem):
        await Agent.start(node, "x", model=model, **kwargs)
