"""The agent message protocol is importable from upstream's path and from its own home, as one thing."""

import autonomy
import autonomy.agents.codec as codec
import autonomy.agents.protocol as protocol
import autonomy.nodes.message as upstream
from autonomy.agents.reference import AgentReference


def test_upstream_message_path_reexports_the_protocol_and_codec_objects_themselves():
    for name in upstream.__all__:
        home = protocol if hasattr(protocol, name) else codec if hasattr(codec, name) else None
        if home is not None:
            assert getattr(upstream, name) is getattr(home, name), name
    assert upstream.AgentReference is AgentReference
    assert autonomy.UserMessage is protocol.UserMessage


def test_a_stored_text_message_and_its_dataclass_give_the_same_openai_message():
    call = protocol.ToolCall("c1", protocol.FunctionToolCall("f", '{"x": 1}'))
    message = protocol.AssistantMessage("thinking aloud", tool_calls=[call])
    stored = codec.to_dict(message)  # what memory keeps
    assert codec.message_to_openai(stored) == codec.message_to_openai(message) == {
        "role": "assistant", "content": "thinking aloud",
        "tool_calls": [{"id": "c1", "function": {"name": "f", "arguments": '{"x": 1}'}, "type": "function"}]}


def test_an_image_message_becomes_an_openai_image_part_from_either_form():
    message = protocol.UserMessage(protocol.ImageContent(binary=b"\x89PNG"))
    url = "data:image/png;base64,iVBORw=="
    expected = {"role": "user", "content": [{"type": "image_url", "image_url": {"url": url}}]}
    assert codec.message_to_openai(message) == expected
    assert codec.message_to_openai(codec.to_dict(message)) == expected
