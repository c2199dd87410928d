"""The agent loop over a model served on real HTTP: tools, limits, memory, human in the loop."""

from __future__ import annotations

import asyncio
import json

import pytest

from autonomy import Node
from autonomy.agents import Agent, AgentError, AgentReference
from autonomy.errors import InvalidName, WorkerStopped
from autonomy.nodes.message import AssistantMessage, Phase, ToolCallResponseMessage, UserMessage
from tests.agents.conftest import AddTool
from tests.support.fake_llm import Reply
from tests.support.until import until


async def test_agent_answers_and_the_model_sees_instructions_and_message(node, model, fake_llm):
    fake_llm.reply("Hello there")
    agent = await Agent.start(node, "You are terse.", name="henry", model=model)
    messages = await agent.send("hi", scope="alice", conversation="c1")
    assert [type(m) for m in messages] == [AssistantMessage]
    assert messages[0].content.text == "Hello there"
    sent = fake_llm.completion_requests()[0].json["messages"]
    assert sent[0] == {"role": "system", "content": "You are terse."}
    assert sent[-1] == {"role": "user", "content": "hi"}


async def test_tool_calls_run_in_order_and_results_go_back_to_the_model(node, model, fake_llm):
    add = AddTool()
    fake_llm.reply(tool_calls=[("add", {"a": 1, "b": 2}), ("add", {"a": 3, "b": 4})])
    fake_llm.reply("The sums are 3 and 7")
    agent = await Agent.start(node, "Add numbers.", model=model, tools=[add])
    messages = await agent.send("add please")
    assert add.calls == [{"a": 1, "b": 2}, {"a": 3, "b": 4}]
    assert [m.role.value for m in messages] == ["assistant", "tool", "tool", "assistant"]
    assert [c.function.name for c in messages[0].tool_calls] == ["add", "add"]
    assert [m.content.text for m in messages[1:3]] == ["3", "7"]
    assert messages[1].tool_call_id == messages[0].tool_calls[0].id
    second = fake_llm.completion_requests()[1].json
    assert [m["role"] for m in second["messages"]] == ["system", "user", "assistant", "tool", "tool"]
    assert second["messages"][-1]["content"] == "7"
    assert {t["function"]["name"] for t in second["tools"]} >= {"add", "get_current_time_utc", "get_current_time"}


async def test_unknown_tool_and_failing_tool_are_reported_to_the_model(node, model, fake_llm):
    class Broken:
        name = "broken"

        async def spec(self):
            return {"type": "function", "function": {"name": "broken", "description": "fails",
                                                     "parameters": {"type": "object", "properties": {}}}}

        async def invoke(self, json_argument):
            raise RuntimeError("disk full")

    fake_llm.reply(tool_calls=[("nope", {}), ("broken", {})])
    fake_llm.reply("done")
    agent = await Agent.start(node, "x", model=model, tools=[Broken()])
    messages = await agent.send("go")
    results = [m.content.text for m in messages if isinstance(m, ToolCallResponseMessage)]
    assert results == ["Tool 'nope' not found", "Tool execution failed: RuntimeError: disk full"]
    assert messages[-1].content.text == "done"


async def test_builtin_time_tools_answer_iso_times(node, model, fake_llm):
    fake_llm.reply(tool_calls=[("get_current_time_utc", {}), ("get_current_time", {"timezone": "Asia/Tokyo"})])
    fake_llm.reply("ok")
    agent = await Agent.start(node, "x", model=model)
    messages = await agent.send("time?")
    utc, tokyo = (m.content.text for m in messages if isinstance(m, ToolCallResponseMessage))
    assert utc.endswith("+00:00") and tokyo.endswith("+09:00")


async def test_max_iterations_stops_a_model_that_keeps_calling_tools(node, model, fake_llm):
    fake_llm.respond_with(lambda body: Reply(tool_calls=[("add", {"a": 1, "b": 1})]))
    agent = await Agent.start(node, "x", model=model, tools=[AddTool()], max_iterations=3)
    with pytest.raises(AgentError, match="Reached max_iterations"):
        await agent.send("loop")
    assert len(fake_llm.completion_requests()) == 3


async def test_max_execution_time_fails_a_slow_turn(node, model, fake_llm):
    fake_llm.reply("late", delay=5)
    agent = await Agent.start(node, "x", model=model, max_execution_time=0.2)
    with pytest.raises(AgentError, match=r"Agent exceeded maximum execution time \(0.2s\)"):
        await agent.send("hi")


async def test_model_failure_is_an_error_reply_naming_the_model_failure(node, model, fake_llm):
    fake_llm.fail(500)
    agent = await Agent.start(node, "x", model=model)
    with pytest.raises(AgentError, match="Model completion failed"):
        await agent.send("hi")
    fake_llm.reply("recovered")
    assert (await agent.send("again"))[-1].content.text == "recovered"


async def test_conversations_have_separate_memories(node, model, fake_llm):
    agent = await Agent.start(node, "x", model=model)
    await agent.send("I am Alice", scope="u", conversation="a")
    await agent.send("I am Bob", scope="u", conversation="b")
    await agent.send("who am I?", scope="u", conversation="a")
    last = fake_llm.completion_requests()[-1].json["messages"]
    texts = [m["content"] for m in last if m["role"] == "user"]
    assert texts == ["I am Alice", "who am I?"]
    state = await agent.get_conversation_state("u", "a")
    assert (state.message_count, state.phase, state.is_paused) == (4, "done", False)
    workers = (await node.list_agents())[0]["workers"]
    assert sorted(workers) == [f"{agent.name}/u/a", f"{agent.name}/u/b"]


async def test_streamed_and_plain_requests_of_a_conversation_reach_the_same_worker(node, model, fake_llm):
    agent = await Agent.start(node, "x", model=model)
    await agent.send("one", scope="s", conversation="c")
    parts = [p async for p in agent.send_stream("two", scope="s", conversation="c")]
    assert parts[-1].finished
    assert (await node.list_agents())[0]["workers"] == [f"{agent.name}/s/c"]
    assert (await agent.get_conversation_state("s", "c")).message_count == 4


async def test_streaming_sends_numbered_parts_then_a_finished_one(node, model, fake_llm):
    fake_llm.reply(tool_calls=[("add", {"a": 2, "b": 2})])
    fake_llm.reply("The answer is four, as computed.")
    agent = await Agent.start(node, "x", model=model, tools=[AddTool()])
    parts = [p async for p in agent.send_stream("2+2?", scope="s", conversation="c")]
    assert [p.part_nb for p in parts] == list(range(1, len(parts) + 1))
    assert [p.finished for p in parts] == [False] * (len(parts) - 1) + [True]
    messages = [m for p in parts for m in p.snippet.messages]
    assert messages[0].tool_calls[0].function.name == "add"
    assert isinstance(messages[1], ToolCallResponseMessage) and messages[1].content.text == "4"
    text = "".join(m.content.text for m in messages[2:])
    assert text == "The answer is four, as computed."
    assert len(parts) > 4  # the answer came in several deltas


async def test_long_streamed_answers_are_not_truncated(node, model, fake_llm):
    answer = "word " * 3000
    fake_llm.reply(answer)
    agent = await Agent.start(node, "x", model=model)
    parts = [p async for p in agent.send_stream("talk")]
    assert "".join(m.content.text for p in parts for m in p.snippet.messages) == answer


async def test_ask_user_for_input_pauses_and_the_next_message_is_the_answer(node, model, fake_llm):
    fake_llm.reply(tool_calls=[("ask_user_for_input", {"question": "Which city?"})])
    fake_llm.reply("Weather in Paris: sunny")
    agent = await Agent.start(node, "x", model=model, enable_ask_for_user_input=True)
    first = await agent.send("weather?", scope="s", conversation="c")
    assert first[-1].content.text == "Which city?" and first[-1].phase is Phase.WAITING_FOR_INPUT
    assert await agent.is_paused("s", "c")
    assert (await agent.get_conversation_state("s", "c")).phase == "waiting_for_input"
    second = await agent.send("Paris", scope="s", conversation="c")
    assert second[-1].content.text == "Weather in Paris: sunny"
    assert not await agent.is_paused("s", "c")
    seen = fake_llm.completion_requests()[-1].json["messages"]
    assert seen[-1]["role"] == "tool" and seen[-1]["content"] == "Paris"
    assert [m["role"] for m in seen] == ["system", "user", "assistant", "tool"]


async def test_ask_user_for_input_streamed_ends_with_the_question_as_finished_part(node, model, fake_llm):
    fake_llm.reply(tool_calls=[("ask_user_for_input", {"question": "Sure?"})])
    fake_llm.reply("Done")
    agent = await Agent.start(node, "x", model=model, enable_ask_for_user_input=True)
    parts = [p async for p in agent.send_stream("delete it", scope="s", conversation="c")]
    last = parts[-1]
    assert last.finished and last.snippet.messages[0].phase is Phase.WAITING_FOR_INPUT
    assert last.snippet.messages[0].content.text == "Sure?"
    resumed = [p async for p in agent.send_stream("yes", scope="s", conversation="c")]
    assert resumed[0].part_nb == 1
    assert "".join(m.content.text for p in resumed for m in p.snippet.messages) == "Done"


async def test_many_conversations_in_parallel_each_keeps_its_order(node, model, fake_llm):
    agent = await Agent.start(node, "x", model=model)

    async def talk(i: int) -> list[str]:
        return [(await agent.send(f"{i}-{k}", scope="s", conversation=f"c{i}"))[-1].content.text
                for k in range(3)]

    results = await asyncio.gather(*(talk(i) for i in range(20)))
    assert results == [[f"echo: {i}-{k}" for k in range(3)] for i in range(20)]
    for i in (0, 19):
        history = await agent.get_conversations("s", f"c{i}")
        assert [m["content"]["text"] for m in history if m["role"] == "user"] == [f"{i}-{k}" for k in range(3)]


async def test_agent_reference_as_tool_of_another_agent(node, model, fake_llm):
    def respond(body):
        messages = body["messages"]
        if messages[0]["content"] == "helper":
            return "from helper"
        if messages[-1]["role"] == "tool":
            return "thanks"
        return Reply(tool_calls=[("helper", {"prompt": "help me"})])

    fake_llm.respond_with(respond)
    helper = await Agent.start(node, "helper", name="helper", model=model, exposed_as="Helps with things")
    boss = await Agent.start(node, "boss", model=model, tools=[AgentReference("helper", node, "Helps")])
    messages = await boss.send("go")
    assert [m.content.text for m in messages[1:]] == ["from helper", "thanks"]
    assert (await helper.spec())["function"]["description"] == "Helps with things"


async def test_identifier_send_message_and_stop(node, model, fake_llm):
    agent = await Agent.start(node, "x", name="My-Agent", model=model)
    assert await agent.identifier() == "my-agent"
    receiver = await agent.send_message([UserMessage("hello")])
    assert (await receiver.receive_message(timeout=10))[-1].content.text == "echo: hello"
    await Agent.stop(node, "My-Agent")
    assert await node.list_agents() == []


async def test_start_validates_names_and_subagent_configs(node, model):
    with pytest.raises(InvalidName, match="Invalid agent name"):
        await Agent.start(node, "x", name="bad name", model=model)
    with pytest.raises(ValueError, match=r"subagents\['r'\]\['instructions'\] is required"):
        await Agent.start(node, "x", model=model, subagents={"r": {}})
    refs = await Agent.start_many(node, "x", 3, model=model)
    assert len({r.name for r in refs}) == 3
    ref = await Agent.start_from_config(node, {"instructions": "x", "name": "cfg", "model": model})
    assert ref.name == "cfg"
    with pytest.raises(KeyError):
        await Agent.start_from_config(node, {"name": "nope"})


async def test_agent_without_model_fails_at_its_first_turn_not_at_start(node):
    agent = await Agent.start(node, "x", name="nomodel")
    with pytest.raises(AgentError):
        await agent.send("hi", timeout=30)


async def test_bad_json_to_an_agent_gets_an_error_reply(node, model):
    agent = await Agent.start(node, "x", name="strict", model=model)
    reply = await node.send_and_receive("strict", "{not json", timeout=10)
    assert '"type": "error"' in reply and "Invalid agent message" in reply
    reply = await node.send_and_receive("strict", '{"type": "conversation_snippet", "messages": 5}', timeout=10)
    assert "messages is 5" in reply
    assert (await agent.send("still alive"))[-1].content.text == "echo: still alive"


async def test_stopping_a_node_fails_a_turn_in_progress_and_ends_every_task(model, fake_llm):
    in_tool, never = asyncio.Event(), asyncio.Event()

    class Hangs:
        name = "hangs"

        async def spec(self):
            return {"type": "function", "function": {"name": "hangs", "description": "waits",
                                                     "parameters": {"type": "object", "properties": {}}}}

        async def invoke(self, json_argument):
            in_tool.set()
            await never.wait()
            return "never"

    fake_llm.reply(tool_calls=[("hangs", {})])
    node = await Node.create("stopper")
    try:
        agent = await Agent.start(node, "x", name="a1", model=model, tools=[Hangs()])
        turn = asyncio.ensure_future(agent.send("go", scope="s", conversation="c", timeout=60))
        await asyncio.wait_for(in_tool.wait(), 30)
    finally:
        await node.stop()
    # The caller is told at once (not after its 60 s timeout), the agent is gone, nothing is left running.
    with pytest.raises(WorkerStopped):
        await asyncio.wait_for(turn, 30)
    assert await node.list_agents() == [] and await node.list_workers() == []
    assert node._background == set()


async def test_a_turn_cut_during_a_tool_call_leaves_a_history_the_model_accepts(node, model, fake_llm):
    # OpenAI and Anthropic refuse a history where an assistant tool call has no result: after a turn
    # that ran out of time inside a tool, the next message of the conversation must still work.
    never = asyncio.Event()

    class Hangs:
        name = "hangs"

        async def spec(self):
            return {"type": "function", "function": {"name": "hangs", "description": "waits",
                                                     "parameters": {"type": "object", "properties": {}}}}

        async def invoke(self, json_argument):
            await never.wait()
            return "never"

    fake_llm.reply(tool_calls=[("hangs", {}), ("get_current_time_utc", {})])
    agent = await Agent.start(node, "x", model=model, tools=[Hangs()], max_execution_time=0.3)
    with pytest.raises(AgentError, match="maximum execution time"):
        await agent.send("go", scope="s", conversation="c")
    fake_llm.reply("fine")
    assert (await agent.send("again", scope="s", conversation="c"))[-1].content.text == "fine"
    sent = fake_llm.completion_requests()[-1].json["messages"]
    called = [c["id"] for m in sent if m["role"] == "assistant" for c in m.get("tool_calls") or []]
    answered = [m["tool_call_id"] for m in sent if m["role"] == "tool"]
    assert called and answered == called
    assert sent[-1] == {"role": "user", "content": "again"}


async def test_get_current_time_with_a_bad_timezone_answers_an_error_text():
    from autonomy.agents.builtin_tools import GetCurrentTime

    for timezone in ("America", "Nowhere/City", "../etc", ""):
        result = await GetCurrentTime().invoke(json.dumps({"timezone": timezone}))
        assert result.startswith("Tool execution failed") or timezone == ""


async def test_conversation_state_is_answered_while_a_turn_is_running(node, model, fake_llm):
    fake_llm.reply("slow answer", delay=30)
    agent = await Agent.start(node, "x", name="slowpoke", model=model)
    turn = asyncio.ensure_future(agent.send("hi", scope="s", conversation="c"))
    try:
        await until(fake_llm.completion_requests, what="the turn to wait on the model")
        state = await agent.get_conversation_state("s", "c", timeout=5)
        assert (state.phase, state.is_paused) == ("thinking", False)
        assert await agent.identifier("s", "c") == "slowpoke"
        conversations = await asyncio.wait_for(node.send_and_receive(
            "slowpoke", json.dumps({"type": "get_conversations_request", "scope": "s", "conversation": "c"})), 5)
        assert json.loads(conversations)["type"] == "get_conversations_response"
    finally:
        turn.cancel()
        await asyncio.gather(turn, return_exceptions=True)
