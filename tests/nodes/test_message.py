"""The agent message protocol's JSON (spec §1.14, §3.1): exact shapes and lenient decoding."""

from __future__ import annotations

import json

import pytest

from autonomy.errors import InvalidMessage
from autonomy.nodes.message import (
    AssistantMessage,
    ConversationSnippet,
    Error,
    FunctionToolCall,
    GetConversationsRequest,
    GetConversationStateResponse,
    ImageContent,
    Phase,
    StreamedConversationSnippet,
    SystemMessage,
    TextContent,
    ToolCall,
    ToolCallResponseMessage,
    UserMessage,
    from_json,
    message_to_openai,
    to_json,
)


def test_conversation_messages_encode_exactly_as_upstream():
    snippet = ConversationSnippet("s", "c", [
        UserMessage("hi"),
        AssistantMessage("", tool_calls=[ToolCall("call_1", FunctionToolCall("add", '{"a": 1}'))]),
        ToolCallResponseMessage("call_1", "add", "3"),
        SystemMessage("be brief"),
    ])
    assert to_json(snippet) == json.dumps({"scope": "s", "conversation": "c", "messages": [
        {"content": {"text": "hi", "type": "text"}, "phase": "executing", "thinking": False, "role": "user"},
        {"content": {"text": "", "type": "text"}, "phase": "executing", "thinking": False,
         "tool_calls": [{"id": "call_1", "function": {"name": "add", "arguments": '{"a": 1}'}, "type": "function"}],
         "role": "assistant"},
        {"tool_call_id": "call_1", "name": "add", "content": {"text": "3", "type": "text"}, "phase": "executing",
         "role": "tool"},
        {"content": {"text": "be brief", "type": "text"}, "phase": "system", "role": "system"},
    ], "type": "conversation_snippet"})
    assert from_json(to_json(snippet)) == snippet


def test_assistant_without_tool_calls_encodes_an_empty_list():
    assert json.loads(to_json(AssistantMessage("x")))["tool_calls"] == []


def test_streamed_and_other_messages_round_trip():
    for message in (StreamedConversationSnippet(ConversationSnippet("s", "c", [UserMessage("x")]), 3, True),
                    GetConversationsRequest(None, None), GetConversationsRequest("s", "c"),
                    GetConversationStateResponse(True, "waiting_for_input", 4, "s", "c"), Error("boom")):
        assert from_json(to_json(message)) == message
    assert json.loads(to_json(Error("boom"))) == {"message": "boom", "type": "error"}
    assert json.loads(to_json(StreamedConversationSnippet(ConversationSnippet()))) == {
        "snippet": {"scope": "", "conversation": "", "messages": [], "type": "conversation_snippet"},
        "part_nb": 0, "finished": False, "type": "streamed_conversation_snippet"}


def test_decoding_is_lenient_about_content_and_missing_fields():
    decoded = from_json('{"type":"conversation_snippet","messages":[{"role":"user","content":"hey"},'
                        '{"role":"assistant","content":null},{"content":{"text":"t"}}]}')
    assert decoded.scope == decoded.conversation == ""
    assert [m.content.text for m in decoded.messages] == ["hey", "", "t"]
    assert isinstance(decoded.messages[2], UserMessage)
    call = from_json('{"type":"conversation_snippet","messages":[{"role":"assistant","tool_calls":'
                     '[{"id":"1","function":{"name":"f","arguments":{"x":1}}}]}]}').messages[0].tool_calls[0]
    assert call.function.arguments == '{"x": 1}' and call.type == "function"


@pytest.mark.parametrize("text,where", [
    ("not json", "message"),
    ("[1]", "message"),
    ('{"type":"bogus"}', "type"),
    ('{"type":"conversation_snippet","messages":"x"}', "messages"),
    ('{"type":"conversation_snippet","messages":[{"role":"wizard"}]}', "messages[0].role"),
    ('{"type":"streamed_conversation_snippet","part_nb":"x"}', "part_nb"),
    ('{"type":"conversation_snippet","messages":[{"content":[{"type":"text","text":5}]}]}',
     "messages[0].content"),
    ('{"type":"conversation_snippet","messages":[{"content":{"type":"image","encoded":5}}]}',
     "messages[0].content.encoded"),
    ('{"type":"get_conversation_state_response","message_count":"many"}', "message_count"),
])
def test_bad_messages_raise_invalid_message_naming_the_field(text, where):
    with pytest.raises(InvalidMessage) as info:
        from_json(text)
    assert info.value.field == where and "Invalid agent message" in str(info.value)


def test_strings_become_text_content_which_adds_and_prints_as_text():
    message = UserMessage("a")
    assert message.content == TextContent("a") and message.phase is Phase.EXECUTING
    assert (TextContent("a") + "b").text == "ab" and str(TextContent("a") + TextContent("c")) == "ac"


def test_openai_form_of_messages():
    call = ToolCall("c1", FunctionToolCall("f", "{}"))
    assert message_to_openai(AssistantMessage("x", tool_calls=[call])) == {
        "role": "assistant", "content": "x",
        "tool_calls": [{"id": "c1", "function": {"name": "f", "arguments": "{}"}, "type": "function"}]}
    assert message_to_openai({"role": "tool", "tool_call_id": "c1", "name": "f", "content": {"text": "r"}}) == {
        "role": "tool", "tool_call_id": "c1", "content": "r"}
    image = message_to_openai(UserMessage(ImageContent(binary=b"\x89PNG")))
    assert image["content"][0]["image_url"]["url"].startswith("data:image/png;base64,")
