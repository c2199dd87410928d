"""Repl: an agent behind a TCP server speaking upstream's framing; real sockets, and real nc."""

from __future__ import annotations

import asyncio
import shutil

import pytest

from autonomy import Agent, Repl


async def read_frame(reader):
    size = int((await reader.readline()).decode())
    return (await reader.readexactly(size)).decode() if size else None


async def read_answer(reader):
    parts = []
    while (frame := await read_frame(reader)) is not None:
        parts.append(frame)
    return "".join(parts)


@pytest.fixture
async def repl(node, model):
    agent = await Agent.start(node, "x", name="helper", model=model)

    async def status():
        return "all good"

    repl = await Repl.start(agent, "127.0.0.1:0", functions={"status": status}, timeout=30)
    yield repl
    await repl.stop()


async def test_welcome_answer_commands_and_multiline_blocks(repl, fake_llm):
    reader, writer = await asyncio.open_connection(*repl.address)
    try:
        welcome = await read_frame(reader)
        assert "Welcome to Autonomy" in welcome and "agents-test/helper" in welcome
        writer.write(b"hello there\n")
        assert await read_answer(reader) == "echo: hello there"
        writer.write(b':s alice\n:c chat1\n:functions\n:run status\n:run nope\n:bogus\n')
        assert [await read_frame(reader) for _ in range(6)] == [
            "Scope set to alice\n\n", "Conversation set to chat1\n\n", "status\n\n", "all good\n\n",
            "Function not found.\n\n", "Unknown command: :bogus\n\n"]
        writer.write(b'"""\nline one\nline two\n"""\n')
        assert await read_answer(reader) == "echo: line one\nline two"
        sent = fake_llm.completion_requests()[-1].json["messages"]
        assert sent[-1] == {"role": "user", "content": "line one\nline two"}
        history = await repl.agent_reference.get_conversations("alice", "chat1")
        assert len(history) == 2
        writer.write(b":q\n")
        assert await reader.read() == b""
    finally:
        writer.close()
        await writer.wait_closed()


async def test_connections_have_their_own_conversations(repl, fake_llm):
    a = await asyncio.open_connection(*repl.address)
    b = await asyncio.open_connection(*repl.address)
    try:
        for reader, _ in (a, b):
            await read_frame(reader)
        a[1].write(b"from a\n")
        await read_answer(a[0])
        b[1].write(b"from b\n")
        await read_answer(b[0])
        first, second = (r.json["messages"] for r in fake_llm.completion_requests())
        assert [m["content"] for m in second[1:]] == ["from b"]  # b does not see a's message
    finally:
        for _, writer in (a, b):
            writer.close()
            await writer.wait_closed()


@pytest.mark.skipif(shutil.which("nc") is None, reason="nc is not installed (Debian package netcat-openbsd)")
async def test_nc_works(repl):
    host, port = repl.address
    process = await asyncio.create_subprocess_exec(
        "nc", "-N", host, str(port), stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE)
    out, _ = await asyncio.wait_for(process.communicate(b"hi from nc\n:q\n"), 60)
    frames = []
    while out:
        size, _, out = out.partition(b"\n")
        frames.append(out[:int(size)].decode())
        out = out[int(size):]
    assert "Welcome to Autonomy" in frames[0]
    assert frames[1:] == [frames[1], *frames[2:-1], ""] and "".join(frames[1:]) == "echo: hi from nc"


def test_a_bad_listen_address_is_refused():
    with pytest.raises(ValueError, match="Invalid listen_address: 'nowhere:port'"):
        Repl(None, "nowhere:port")
