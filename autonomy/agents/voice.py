"""Voice: a realtime speech model in front of a text agent (``Agent.start(voice=VoiceConfig)``).

A client opens the node's WebSocket ``/agents/{name}/voice``; a :class:`VoiceSession` opens a realtime
session (the OpenAI Realtime API, through the cluster's model gateway: ``autonomy/models/realtime.py``)
and relays between them. The realtime model talks with the user and handles the ``allowed_actions``
itself (greetings, chitchat...); for anything else it calls the ``delegate_to_primary`` tool, which
sends the request to the text agent (the *primary*) in the session's scope and conversation, and gives
the agent's answer back to the realtime model to speak. Protocol and decisions: docs/voice.md.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import json
import logging
import secrets
import weakref
from typing import Any, TypedDict

from starlette.websockets import WebSocketDisconnect

from autonomy.errors import ConfigError

__all__ = ["VoiceConfig", "VoiceAgent", "VoiceSession", "DEFAULT_VOICE_CONFIG", "DELEGATE_TOOL",
           "register_voice", "unregister_voice", "voice_agent", "check_voice_config"]

logger = logging.getLogger("autonomy.agents.voice")

# what sending to or closing a client socket raises once the client has gone
_GONE: tuple[type[BaseException], ...] = (RuntimeError, OSError, WebSocketDisconnect)

DELEGATE_TOOL = "delegate_to_primary"


class VoiceConfig(TypedDict, total=False):
    """Upstream's voice settings (all optional; defaults in :data:`DEFAULT_VOICE_CONFIG`)."""

    realtime_model: str
    voice: str
    allowed_actions: list[str]
    instructions: str | None
    filler_phrases: list[str]
    input_audio_format: str
    output_audio_format: str
    vad_threshold: float
    vad_prefix_padding_ms: int
    vad_silence_duration_ms: int
    delegation_instructions: str


DEFAULT_VOICE_CONFIG: dict[str, Any] = {
    "realtime_model": "gpt-4o-realtime-preview",
    "voice": "echo",
    "allowed_actions": ["greetings", "chitchat", "collect_information", "clarifications"],
    "instructions": None,
    "filler_phrases": ["Let me check that for you.", "One moment, please.", "Let me look into that."],
    "input_audio_format": "pcm16",
    "output_audio_format": "pcm16",
    "vad_threshold": 0.5,
    "vad_prefix_padding_ms": 300,
    "vad_silence_duration_ms": 500,
    "delegation_instructions": "Be concise: when the primary agent answers, tell the user its answer in a "
                               "sentence or two, in your own words, adding nothing it did not say.",
}
_AUDIO_FORMATS = ("pcm16", "g711_ulaw", "g711_alaw")
#: How long a delegated request may take before the realtime model is told it failed (seconds).
DELEGATION_TIMEOUT = 180.0


def check_voice_config(config: Any) -> dict[str, Any]:
    """``config`` merged over the defaults; ConfigError naming the field for anything wrong."""
    if config is True:
        config = {}
    if not isinstance(config, dict):
        raise ConfigError(f"voice={config!r}: must be a VoiceConfig dict (e.g. {{'voice': 'alloy'}})")
    unknown = sorted(set(config) - set(DEFAULT_VOICE_CONFIG))
    if unknown:
        raise ConfigError(f"voice: unknown key(s) {', '.join(unknown)} (known: {', '.join(DEFAULT_VOICE_CONFIG)})")
    merged = {**DEFAULT_VOICE_CONFIG, **{k: v for k, v in config.items() if v is not None or k == "instructions"}}
    for key in ("realtime_model", "voice", "delegation_instructions"):
        if not isinstance(merged[key], str) or not merged[key].strip():
            raise ConfigError(f"voice.{key} = {merged[key]!r}: must be a non-empty string")
    if merged["instructions"] is not None and not isinstance(merged["instructions"], str):
        raise ConfigError(f"voice.instructions = {merged['instructions']!r}: must be a string")
    for key in ("allowed_actions", "filler_phrases"):
        if not isinstance(merged[key], list) or not all(isinstance(x, str) for x in merged[key]):
            raise ConfigError(f"voice.{key} = {merged[key]!r}: must be a list of strings")
    for key in ("input_audio_format", "output_audio_format"):
        if merged[key] not in _AUDIO_FORMATS:
            raise ConfigError(f"voice.{key} = {merged[key]!r}: must be one of {', '.join(_AUDIO_FORMATS)}")
    threshold = merged["vad_threshold"]
    if not isinstance(threshold, int | float) or isinstance(threshold, bool) or not 0 <= threshold <= 1:
        raise ConfigError(f"voice.vad_threshold = {threshold!r}: must be a number from 0 to 1")
    for key in ("vad_prefix_padding_ms", "vad_silence_duration_ms"):
        if not isinstance(merged[key], int) or isinstance(merged[key], bool) or merged[key] < 0:
            raise ConfigError(f"voice.{key} = {merged[key]!r}: must be a whole number of milliseconds >= 0")
    return merged


class VoiceAgent:
    """The voice of the text agent ``primary`` (an AgentReference): what the realtime session is told."""

    def __init__(self, name: str, primary: Any, config: VoiceConfig | dict[str, Any] | None = None) -> None:
        self.name = name
        self.primary = primary
        self.config = check_voice_config(dict(config or {}))

    def instructions(self) -> str:
        c = self.config
        fillers = " ".join(f'"{phrase}"' for phrase in c["filler_phrases"])
        lines = [
            f"You are the voice of an assistant named {self.name}. Speak naturally, briefly and warmly.",
            f"You may handle these yourself: {', '.join(c['allowed_actions']) or 'nothing'}.",
            f"For every other request, call the tool {DELEGATE_TOOL} with the user's request in full, in "
            "their words; never answer such a request from your own knowledge.",
        ]
        if fillers:
            lines.append(f"While you wait for it, say one short filler phrase such as {fillers}")
        lines.append(c["delegation_instructions"])
        if c["instructions"]:
            lines.append(c["instructions"])
        return "\n".join(lines)

    def session_update(self) -> dict[str, Any]:
        """The Realtime ``session.update`` event that configures a session for this agent."""
        c = self.config
        return {"type": "session.update", "session": {
            "modalities": ["text", "audio"],
            "instructions": self.instructions(),
            "voice": c["voice"],
            "input_audio_format": c["input_audio_format"],
            "output_audio_format": c["output_audio_format"],
            "turn_detection": {"type": "server_vad", "threshold": c["vad_threshold"],
                               "prefix_padding_ms": c["vad_prefix_padding_ms"],
                               "silence_duration_ms": c["vad_silence_duration_ms"]},
            "tools": [{"type": "function", "name": DELEGATE_TOOL,
                       "description": "Ask the primary agent, which has the tools and knowledge, to handle the "
                                      "user's request; returns its answer.",
                       "parameters": {"type": "object", "properties": {"request": {
                           "type": "string", "description": "The user's request, in full"}},
                           "required": ["request"]}}],
            "tool_choice": "auto",
        }}

    async def delegate(self, request: str, scope: str, conversation: str) -> str:
        """The primary agent's answer to ``request`` in ``scope``/``conversation`` (its last message's text)."""
        replies = await self.primary.send(request, scope=scope, conversation=conversation,
                                          timeout=DELEGATION_TIMEOUT)
        if not replies:
            return ""
        content = getattr(replies[-1], "content", "")
        return str(getattr(content, "text", content))


class VoiceSession:
    """One client WebSocket bridged to one realtime session (``run`` returns when either side closes).

    Client frames: text frames are Realtime client events, passed on unchanged; binary frames are audio
    in the input format, sent as ``input_audio_buffer.append``. Every Realtime server event is passed to
    the client as a text frame. ``delegate_to_primary`` calls are answered by the primary agent.
    """

    def __init__(self, agent: VoiceAgent, client: Any, scope: str = "", conversation: str | None = None) -> None:
        self.agent = agent
        self.client = client
        self.scope = scope
        self.conversation = conversation or f"voice-{secrets.token_hex(8)}"
        self._upstream: Any = None
        self._delegations: set[asyncio.Task[None]] = set()

    async def _send_client(self, event: dict[str, Any]) -> None:
        with contextlib.suppress(*_GONE):
            await self.client.send_text(json.dumps(event))

    async def _fail(self, code: str, message: str) -> None:
        await self._send_client({"type": "error", "event_id": None, "error": {
            "type": "server_error", "code": code, "message": message, "param": None}})
        with contextlib.suppress(*_GONE):
            await self.client.close(1011, reason=message[:120])

    async def run(self) -> None:
        from websockets.asyncio.client import connect
        from websockets.exceptions import ConnectionClosed, InvalidHandshake, InvalidStatus

        from autonomy.errors import ModelError
        from autonomy.models.realtime import realtime_endpoint

        model = self.agent.config["realtime_model"]
        try:
            url, headers = realtime_endpoint(model)
            self._upstream = await connect(url, additional_headers=headers, proxy=None, max_size=16 * 1024 * 1024,
                                           open_timeout=30, ping_interval=None, compression=None)
        except ModelError as exc:
            await self._fail("realtime_unavailable", str(exc))
            return
        except InvalidStatus as exc:
            detail = _error_detail(exc)
            await self._fail("realtime_unavailable", f"the realtime endpoint refused the session for model {model!r} "
                                                     f"(HTTP {exc.response.status_code}){detail}")
            return
        except (OSError, TimeoutError, InvalidHandshake) as exc:
            await self._fail("realtime_unavailable", f"the realtime endpoint for model {model!r} cannot be reached: "
                                                     f"{type(exc).__name__}: {exc}")
            return
        try:
            try:
                await self._upstream.send(json.dumps(self.agent.session_update()))
            except ConnectionClosed:
                pass  # the endpoint refused the session: the events it sent (an error) are relayed below
            await self._relay()
        finally:
            for task in self._delegations:
                task.cancel()
            await asyncio.gather(*self._delegations, return_exceptions=True)
            await self._upstream.close()
            # an endpoint's refusal (1008) or failure (1011) is passed on; anything else ends normally
            code = self._upstream.close_code if self._upstream.close_code in (1008, 1011) else 1000
            with contextlib.suppress(*_GONE):
                await self.client.close(code)

    async def _relay(self) -> None:
        tasks = [asyncio.ensure_future(self._from_client()), asyncio.ensure_future(self._from_upstream())]
        try:
            done, _ = await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
            for task in done:
                exc = None if task.cancelled() else task.exception()
                if exc is not None and not _is_disconnect(exc):
                    logger.warning("voice session of agent %s ended: %s: %s", self.agent.name, type(exc).__name__,
                                   exc)
        finally:
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)

    async def _from_client(self) -> None:
        while True:
            message = await self.client.receive()
            if message["type"] == "websocket.disconnect":
                return
            if message.get("text") is not None:
                await self._upstream.send(message["text"])
            elif message.get("bytes") is not None:
                audio = base64.b64encode(message["bytes"]).decode()
                await self._upstream.send(json.dumps({"type": "input_audio_buffer.append", "audio": audio}))

    async def _from_upstream(self) -> None:
        async for frame in self._upstream:
            text = frame if isinstance(frame, str) else frame.decode("utf-8", errors="replace")
            await self.client.send_text(text)
            if DELEGATE_TOOL in text and '"response.function_call_arguments.done"' in text:
                try:
                    event = json.loads(text)
                except ValueError:
                    continue
                if event.get("type") == "response.function_call_arguments.done" and event.get("name") == DELEGATE_TOOL:
                    task = asyncio.ensure_future(self._delegate(event.get("call_id", ""), event.get("arguments")))
                    self._delegations.add(task)
                    task.add_done_callback(self._delegations.discard)

    async def _delegate(self, call_id: str, arguments: Any) -> None:
        try:
            parsed = json.loads(arguments) if isinstance(arguments, str) and arguments.strip() else {}
        except ValueError:
            parsed = {}
        request = parsed.get("request") if isinstance(parsed, dict) else None
        if not isinstance(request, str) or not request.strip():
            output = "Tool execution failed: 'request' is required: the user's request as a string"
        else:
            try:
                output = await self.agent.delegate(request, self.scope, self.conversation)
            except Exception as exc:  # the realtime model tells the user; the session goes on
                logger.warning("voice agent %s: the primary agent failed: %s", self.agent.name, exc)
                output = f"The primary agent could not answer: {type(exc).__name__}: {exc}"
        item = {"type": "conversation.item.create",
                "item": {"type": "function_call_output", "call_id": call_id, "output": output}}
        await self._upstream.send(json.dumps(item))
        await self._upstream.send(json.dumps({"type": "response.create"}))


def _error_detail(exc: Any) -> str:
    body = getattr(exc.response, "body", b"") or b""
    try:
        message = json.loads(body).get("error", {}).get("message")
    except (ValueError, AttributeError):
        message = None
    return f": {message}" if message else ""


def _is_disconnect(exc: BaseException) -> bool:
    from websockets.exceptions import ConnectionClosed

    return isinstance(exc, ConnectionClosed) or type(exc).__name__ == "WebSocketDisconnect"


# --- which agents of a node have a voice ---------------------------------------------------------

_VOICES: weakref.WeakKeyDictionary[Any, dict[str, VoiceAgent]] = weakref.WeakKeyDictionary()


def register_voice(node: Any, name: str, primary: Any, config: Any) -> VoiceAgent:
    """Give agent ``name`` of ``node`` a voice (served at ``/agents/{name}/voice``)."""
    agent = VoiceAgent(name, primary, config)
    _VOICES.setdefault(node, {})[name] = agent
    return agent


def unregister_voice(node: Any, name: str) -> None:
    voices = _VOICES.get(node)
    if voices is not None:
        voices.pop(name, None)


def voice_agent(node: Any, name: str) -> VoiceAgent | None:
    return (_VOICES.get(node) or {}).get(name)
