"""Fault: the connection to the model endpoint (the zone's model gateway) drops before an answer.
The call is retried with backoff; when every attempt fails, the error names the cause."""

from __future__ import annotations

import asyncio
from urllib.parse import urlsplit

import pytest

from autonomy.errors import ModelError
from autonomy.models import Model


async def _dropping_proxy(target: str, drops: int):
    """Closes the first ``drops`` connections at once (after reading the request), then forwards bytes."""
    parts = urlsplit(target)
    seen = 0

    async def pipe(reader, writer):
        try:
            while data := await reader.read(65536):
                writer.write(data)
                await writer.drain()
        except ConnectionError:
            pass
        finally:
            writer.close()

    async def serve(reader, writer):
        nonlocal seen
        seen += 1
        if seen <= drops:
            await reader.read(1024)
            writer.transport.abort()  # a reset, no answer
            return
        up_reader, up_writer = await asyncio.open_connection(parts.hostname, parts.port)
        await asyncio.gather(pipe(reader, up_writer), pipe(up_reader, writer))

    server = await asyncio.start_server(serve, "127.0.0.1", 0)
    return server, f"http://127.0.0.1:{server.sockets[0].getsockname()[1]}{parts.path}"


@pytest.mark.parametrize("drops", [2])
async def test_a_dropped_connection_is_retried(fake_llm, monkeypatch, drops):
    server, url = await _dropping_proxy(fake_llm.base_url, drops)
    monkeypatch.setenv("OPENAI_BASE_URL", url)
    monkeypatch.setenv("OPENAI_API_KEY", fake_llm.api_key)
    fake_llm.reply("made it")
    try:
        model = Model("fake-model", throttle_max_retry_attempts=3, throttle_initial_seconds_between_retry_attempts=0.01)
        result = await model.complete_chat([{"role": "user", "content": "x"}])
        assert result.choices[0].message.content == "made it"
    finally:
        server.close()
        await server.wait_closed()


async def test_when_every_attempt_fails_the_error_names_the_cause(fake_llm, monkeypatch):
    server, url = await _dropping_proxy(fake_llm.base_url, 100)
    monkeypatch.setenv("OPENAI_BASE_URL", url)
    monkeypatch.setenv("OPENAI_API_KEY", fake_llm.api_key)
    try:
        model = Model("fake-model", throttle_max_retry_attempts=2, throttle_initial_seconds_between_retry_attempts=0.01)
        with pytest.raises(ModelError) as caught:
            await model.complete_chat([{"role": "user", "content": "x"}])
        text = str(caught.value)
        assert "Cannot reach" in text and url.rsplit("/", 1)[0] in text
        assert text.split("Cannot reach", 1)[1].split(": ", 1)[1][:1] not in ("", ".")  # a named cause
    finally:
        server.close()
        await server.wait_closed()
