"""The small-model adapter on canned texts and requests: no model needed."""

from __future__ import annotations

import json

import pytest

from autonomy.gateway import adapter

TOOLS = [{"type": "function", "function": {"name": "get_time", "description": "Current time",
                                            "parameters": {"type": "object",
                                                           "properties": {"timezone": {"type": "string"}}}}}]


@pytest.mark.parametrize("text", [
    '{"name": "get_time", "arguments": {"timezone": "Asia/Tokyo"}}',
    'Sure! {"name": "get_time", "arguments": {"timezone": "Asia/Tokyo"}} is what I will call.',
    '```json\n{"name": "get_time", "arguments": {"timezone": "Asia/Tokyo"}}\n```',
    '<tool_call>\n{"name": "get_time", "arguments": "{\\"timezone\\": \\"Asia/Tokyo\\"}"}\n</tool_call>',
    '{"note": {"x": 1}} then {"name": "get_time", "parameters": {"timezone": "Asia/Tokyo"}}',
])
def test_first_json_object_with_a_known_name_is_the_call(text: str) -> None:
    assert adapter.parse_tool_call(text, ["get_time"]) == ("get_time", {"timezone": "Asia/Tokyo"})


@pytest.mark.parametrize("text", [
    "It is 3 pm in Tokyo.",
    '{"name": "multiply", "arguments": {"a": 2}}',  # an invented tool is refused
    '{"name": "get_time", "arguments": {"timezone": ',  # truncated JSON
    '{"answer": "42"}',
])
def test_text_without_a_valid_call_is_an_answer(text: str) -> None:
    assert adapter.parse_tool_call(text, ["get_time"]) is None


def test_tool_results_are_restated_as_plain_user_turns() -> None:
    messages = [
        {"role": "user", "content": "Time in Tokyo?"},
        {"role": "assistant", "content": None, "tool_calls": [
            {"id": "c1", "type": "function",
             "function": {"name": "get_time", "arguments": '{"timezone": "Asia/Tokyo"}'}}]},
        {"role": "tool", "tool_call_id": "c1", "content": "15:00"},
    ]
    restated = adapter.restate_messages(messages)
    assert [m["role"] for m in restated] == ["user", "assistant", "user"]
    assert json.loads(restated[1]["content"]) == {"name": "get_time", "arguments": {"timezone": "Asia/Tokyo"}}
    assert restated[2]["content"].startswith("The tool get_time returned: 15:00")
    assert all(isinstance(m["content"], str) for m in restated)


def test_auto_tools_go_into_the_system_prompt_at_temperature_0() -> None:
    plan = adapter.plan({"messages": [{"role": "system", "content": "Be brief."},
                                      {"role": "user", "content": "hi"}], "tools": TOOLS})
    assert plan.mode == "auto" and "tools" not in plan.kwargs and plan.kwargs["temperature"] == 0.0
    system = plan.kwargs["messages"][0]
    assert system["role"] == "system" and system["content"].startswith("Be brief.")
    assert "get_time(timezone: string)" in system["content"]


def test_forced_tool_choice_is_passed_to_llama_with_only_that_tool() -> None:
    plan = adapter.plan({"messages": [{"role": "user", "content": "hi"}], "tools": TOOLS,
                         "tool_choice": {"type": "function", "function": {"name": "get_time"}}})
    assert plan.mode == "forced" and [t["function"]["name"] for t in plan.kwargs["tools"]] == ["get_time"]
    with pytest.raises(ValueError, match="'nope'"):
        adapter.plan({"messages": [], "tools": TOOLS, "tool_choice": {"type": "function",
                                                                        "function": {"name": "nope"}}})


def test_a_parsed_call_becomes_openai_tool_calls_and_streams_as_chunks() -> None:
    plan = adapter.plan({"messages": [{"role": "user", "content": "time?"}], "tools": TOOLS})
    raw = {"id": "x", "created": 1, "usage": {"prompt_tokens": 3, "completion_tokens": 4},
           "choices": [{"message": {"content": '{"name": "get_time", "arguments": {"timezone": "UTC"}}'},
                        "finish_reason": "stop"}]}
    completion = adapter.to_completion(raw, plan, "claude-sonnet-4-v1")
    choice = completion["choices"][0]
    assert choice["finish_reason"] == "tool_calls" and choice["message"]["content"] is None
    assert json.loads(choice["message"]["tool_calls"][0]["function"]["arguments"]) == {"timezone": "UTC"}
    chunks = adapter.completion_chunks(completion, include_usage=True)
    arguments = "".join(c["choices"][0]["delta"].get("tool_calls", [{}])[0].get("function", {}).get("arguments", "")
                        for c in chunks if c["choices"])
    assert json.loads(arguments) == {"timezone": "UTC"}
    assert chunks[-1]["usage"] == {"prompt_tokens": 3, "completion_tokens": 4}
