"""Short-term memory: per-conversation histories, trimming that keeps tool calls with their results."""

from __future__ import annotations

import pytest

from autonomy.memory import Memory, find_safe_trim_count, validate_tool_pairing


def user(text):
    return {"role": "user", "content": {"text": text, "type": "text"}}


def call(call_id):
    return {"role": "assistant", "content": {"text": "", "type": "text"},
            "tool_calls": [{"id": call_id, "function": {"name": "f", "arguments": "{}"}, "type": "function"}]}


def result(call_id):
    return {"role": "tool", "tool_call_id": call_id, "name": "f", "content": {"text": "r", "type": "text"}}


async def test_conversations_are_kept_apart_and_timestamped():
    memory = Memory()
    await memory.add_message("s", "a", user("one"))
    await memory.add_message("s", "b", user("two"))
    assert [m["content"]["text"] for m in await memory.get_messages_only("s", "a")] == ["one"]
    assert (await memory.get_messages_only("s", "a"))[0]["timestamp"] > 0
    assert await memory.get_message_count("s", "b") == 1
    memory.set_instructions({"role": "system", "content": "be nice"})
    assert (await memory.get_messages("s", "a"))[0]["role"] == "system"
    await memory.delete_conversation("s", "a")
    assert await memory.get_message_count("s", "a") == 0


async def test_trimming_by_count_never_splits_a_tool_call_from_its_results():
    memory = Memory(max_messages_in_short_term_memory=3)
    for message in (user("q"), call("1"), result("1")):
        await memory.add_message("s", "c", message)
    await memory.add_message("s", "c", user("next"))  # 4 > 3: dropping "q" alone is enough
    assert [m["role"] for m in await memory.get_messages_only("s", "c")] == ["assistant", "tool", "user"]
    await memory.add_message("s", "c", user("again"))  # dropping the call must drop its result too
    history = await memory.get_messages_only("s", "c")
    assert [m["role"] for m in history] == ["user", "user"]
    assert validate_tool_pairing(history)


async def test_trimming_by_estimated_tokens_keeps_the_newest_message():
    memory = Memory(max_tokens_in_short_term_memory=30)  # each message is ~24
    for i in range(10):
        await memory.add_message("s", "c", user(f"{i} " + "x" * 80))
    history = await memory.get_messages_only("s", "c")
    assert [m["content"]["text"][0] for m in history] == ["9"]


def test_safe_trim_count_and_pairing():
    history = [user("a"), call("1"), result("1"), result("1"), user("b")]
    assert find_safe_trim_count(history, 2) == 4
    assert find_safe_trim_count(history, 0) == 0
    assert not validate_tool_pairing(history[2:])
    with pytest.raises(ValueError, match="max_messages_in_short_term_memory"):
        Memory(max_messages_in_short_term_memory=0)


async def test_trimming_keeps_the_tool_call_of_results_that_are_the_newest_messages():
    # A tool result bigger than the token budget (a large file read) must not be left alone: the
    # model refuses a history starting with a tool result whose call it never saw.
    memory = Memory(max_tokens_in_short_term_memory=100)
    big = {**result("1"), "content": {"text": "x" * 4000, "type": "text"}}
    for message in (user("read it"), call("1"), big):
        await memory.add_message("s", "c", message)
    history = await memory.get_messages_only("s", "c")
    assert [m["role"] for m in history] == ["assistant", "tool"] and validate_tool_pairing(history)
    memory = Memory(max_messages_in_short_term_memory=2)
    for message in (user("q"), call("1"), result("1"), result("1")):
        await memory.add_message("s", "c", message)
    history = await memory.get_messages_only("s", "c")
    assert history[0]["role"] == "assistant" and validate_tool_pairing(history)
