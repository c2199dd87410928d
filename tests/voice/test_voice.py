"""Voice through the cluster's model gateway, over real WebSockets: the gateway's /v1/realtime relay and
audio routes, Model.text_to_speech/speech_to_text, and an agent's /agents/{name}/voice session whose
realtime model delegates to the text agent."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from dataclasses import dataclass

import httpx
import pytest
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed, InvalidStatus

from autonomy import Agent, HttpServer, Model, Node
from autonomy.errors import ConfigError
from autonomy.gateway import (
    GatewayConfig,
    GatewayServer,
    ProviderConfig,
    UsageRecorder,
    ZoneKeys,
    create_gateway_app,
    offline_config,
)
from tests.agents.conftest import MODEL_ENV
from tests.support.fake_llm import FakeLLM
from tests.support.fake_realtime import FakeRealtime

UPSTREAM_KEY_ENV = "VOICE_TEST_UPSTREAM_KEY"
REALTIME = "gpt-4o-realtime-preview"


@dataclass
class Cluster:
    """The gateway (with the fake LLM for chat and the fake realtime/audio provider) and the zone's env."""

    url: str
    key: str
    usage: UsageRecorder
    llm: FakeLLM
    realtime: FakeRealtime

    @property
    def ws(self) -> str:
        return self.url.replace("http://", "ws://") + "/v1/realtime"


@pytest.fixture
async def cluster(fake_llm: FakeLLM, monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[Cluster]:
    realtime = await FakeRealtime().start()
    for name in MODEL_ENV:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv(UPSTREAM_KEY_ENV, realtime.api_key)
    config = GatewayConfig((
        ProviderConfig(name="fake", kind="openai", url=fake_llm.base_url, models=("fake-model",)),
        ProviderConfig(name="voice", kind="openai", url=realtime.base_url, api_key_env=UPSTREAM_KEY_ENV,
                       models=(REALTIME, "tts-1", "whisper-1")),
        *offline_config().providers,
    ))
    keys, usage = ZoneKeys(), UsageRecorder()
    server = GatewayServer(create_gateway_app(config, keys, usage))
    url = await server.start()
    key = keys.issue("voicezone")
    monkeypatch.setenv("AUTONOMY_USE_EXTERNAL_APIS_GATEWAY", "1")
    monkeypatch.setenv("AUTONOMY_EXTERNAL_APIS_GATEWAY_URL", url)
    monkeypatch.setenv("AUTONOMY_EXTERNAL_APIS_GATEWAY_API_KEY", key)
    try:
        yield Cluster(url, key, usage, fake_llm, realtime)
    finally:
        await server.stop()
        await realtime.stop()


async def _until(ws, kind: str, seen: list[dict] | None = None) -> dict:
    async with asyncio.timeout(60):
        while True:
            event = json.loads(await ws.recv())
            if seen is not None:
                seen.append(event)
            if event["type"] == kind:
                return event


async def test_models_speak_and_transcribe_through_the_gateway(cluster: Cluster):
    audio = await Model("tts-1").text_to_speech("Hello there", voice="alloy")
    assert audio == b"FAKE-AUDIO:Hello there"
    text = await Model("whisper-1").speech_to_text(("clip.wav", b"RIFF" + b"\0" * 96, "audio/wav"), language="en")
    assert text == "heard 100 bytes (language en)"
    assert cluster.realtime.requests == [
        ("speech", {"model": "tts-1", "voice": "alloy", "input": "Hello there", "response_format": "mp3"}),
        ("transcriptions", {"model": "whisper-1", "language": "en"}),
    ]
    usage = cluster.usage.snapshot()["voicezone"]
    assert usage["tts-1"]["requests"] == 1 and usage["whisper-1"]["requests"] == 1


async def test_the_gateway_relays_realtime_sessions_with_the_providers_key(cluster: Cluster):
    async with connect(f"{cluster.ws}?model={REALTIME}", proxy=None,
                       additional_headers={"Authorization": f"Bearer {cluster.key}"}) as ws:
        await ws.send(json.dumps({"type": "session.update", "session": {"voice": "verse"}}))
        updated = await _until(ws, "session.updated")
        assert updated["session"] == {"voice": "verse"}
    # the provider saw its own key, never the zone's, and the model it serves
    assert cluster.realtime.headers[-1]["authorization"] == f"Bearer {cluster.realtime.api_key}"
    assert cluster.key not in json.dumps(cluster.realtime.headers)
    assert cluster.realtime.query[-1] == {"model": REALTIME}

    # browsers cannot set headers: the key may come as OpenAI's subprotocol
    async with connect(f"{cluster.ws}?model={REALTIME}", proxy=None,
                       subprotocols=["realtime", f"openai-insecure-api-key.{cluster.key}"]) as ws:
        await ws.send(json.dumps({"type": "session.update", "session": {}}))
        await _until(ws, "session.updated")


async def test_audio_refusals_name_the_field(cluster: Cluster):
    auth = {"authorization": f"Bearer {cluster.key}"}
    async with httpx.AsyncClient(base_url=cluster.url + "/v1", headers=auth) as http:
        not_json = await http.post("/audio/speech", content=b"hello")
        assert not_json.status_code == 400 and "JSON object" in not_json.json()["error"]["message"]
        no_file = await http.post("/audio/transcriptions", data={"model": "whisper-1"},
                                  files={"other": ("a.txt", b"x")})
        assert no_file.status_code == 400 and "'file' is required" in no_file.json()["error"]["message"]
        embedded = await http.post("/audio/speech", json={"model": "smollm2", "input": "hi", "voice": "alloy"})
        assert embedded.status_code == 400 and "'local'" in embedded.json()["error"]["message"]
        unauthorized = await http.post("/audio/speech", json={"model": "tts-1", "input": "hi"},
                                       headers={"authorization": "Bearer nope"})
        assert unauthorized.status_code == 401
    assert cluster.realtime.requests == []  # nothing refused reached the provider


async def test_realtime_refusals_say_why(cluster: Cluster):
    with pytest.raises(InvalidStatus) as refused:
        async with connect(f"{cluster.ws}?model={REALTIME}", proxy=None,
                           additional_headers={"Authorization": "Bearer wrong"}):
            pass
    assert refused.value.response.status_code == 403

    auth = {"Authorization": f"Bearer {cluster.key}"}
    for query, says in (("", "'model' is required"), ("?model=smollm2", "no Realtime API")):
        async with connect(cluster.ws + query, proxy=None, additional_headers=auth) as ws:
            event = json.loads(await ws.recv())
            assert event["type"] == "error" and says in event["error"]["message"]
            with pytest.raises(ConnectionClosed):
                await ws.recv()
            assert ws.close_code == 1008


async def test_an_agents_voice_delegates_to_the_agent_and_speaks_its_answer(cluster: Cluster):
    cluster.llm.reply("Paris is the capital of France.")
    async with Node.open("voice-node", http_server=HttpServer("127.0.0.1:0")) as node:
        await Agent.start(node, "You answer geography questions.", name="guide", model=Model("fake-model"),
                          voice={"voice": "alloy", "instructions": "Be cheerful."})
        host, port = node.http_server.address
        seen: list[dict] = []
        async with connect(f"ws://{host}:{port}/agents/guide/voice?scope=s1&conversation=c1", proxy=None) as ws:
            updated = await _until(ws, "session.updated", seen)
            assert updated["session"]["voice"] == "alloy"
            await ws.send(b"\x01\x02" * 800)  # binary frame: pcm16 audio
            await ws.send(json.dumps({"type": "input_audio_buffer.commit"}))
            spoken = await _until(ws, "response.audio_transcript.done", seen)
            assert spoken["transcript"] == "Here is what I found: Paris is the capital of France."
            await _until(ws, "response.done", seen)
        state = await node.list_workers()  # the agent is still there after the session
        assert any("guide" in str(worker) for worker in state)

    session = cluster.realtime.events[0]["session"]
    assert session["tools"][0]["name"] == "delegate_to_primary"
    assert "Be cheerful." in session["instructions"] and session["turn_detection"]["type"] == "server_vad"
    assert cluster.realtime.audio == b"\x01\x02" * 800
    assert [e["type"] for e in seen][:2] == ["session.updated", "input_audio_buffer.committed"]
    # the text agent got the request the realtime model heard, in the session's conversation
    (chat,) = cluster.llm.completion_requests()
    assert chat.json["messages"][-1] == {"role": "user", "content": "What is the capital of France?"}
    assert cluster.usage.snapshot()["voicezone"][REALTIME] == {
        "requests": 2, "failed_requests": 0, "requests_without_usage": 1, "prompt_tokens": 11,
        "completion_tokens": 7}


async def test_voice_refusals(cluster: Cluster):
    async with Node.open("voice-node2", http_server=HttpServer("127.0.0.1:0")) as node:
        await Agent.start(node, "Text only.", name="mute", model=Model("fake-model"))
        with pytest.raises(ConfigError, match="voice.vad_threshold"):
            await Agent.start(node, "x", name="bad", model=Model("fake-model"), voice={"vad_threshold": 3})
        with pytest.raises(ConfigError, match="unknown key"):
            await Agent.start(node, "x", name="bad", model=Model("fake-model"), voice={"voices": "alloy"})
        host, port = node.http_server.address
        async with connect(f"ws://{host}:{port}/agents/mute/voice", proxy=None) as ws:
            event = json.loads(await ws.recv())
            assert event["error"]["code"] == "voice_not_found" and "voice=" in event["error"]["message"]
            with pytest.raises(ConnectionClosed):
                await ws.recv()
            assert ws.close_code == 1008

        await Agent.start(node, "Talks.", name="talker", model=Model("fake-model"), voice={"realtime_model": "nope"})
        async with connect(f"ws://{host}:{port}/agents/talker/voice", proxy=None) as ws:
            event = json.loads(await ws.recv())  # the gateway's refusal, relayed: 'nope' goes to the default
            assert event["type"] == "error" and "no Realtime API" in event["error"]["message"]
            with pytest.raises(ConnectionClosed):
                await ws.recv()
            assert ws.close_code == 1008
        await Agent.stop(node, "talker")
        async with connect(f"ws://{host}:{port}/agents/talker/voice", proxy=None) as ws:
            assert json.loads(await ws.recv())["error"]["code"] == "voice_not_found"
