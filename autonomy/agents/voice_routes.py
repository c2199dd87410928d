"""``WS /agents/{name}/voice``: a client's voice session with an agent started with ``voice=...``.

Query parameters ``scope`` and ``conversation`` choose the primary agent's conversation (default: a
new conversation per session). An agent without a voice gets one Realtime ``error`` event and the
socket is closed with 1008.
"""

from __future__ import annotations

import contextlib
import json

from fastapi import FastAPI, WebSocket
from starlette.websockets import WebSocketDisconnect

from autonomy.agents.voice import VoiceSession, voice_agent

__all__ = ["add_voice_routes"]


def add_voice_routes(app: FastAPI) -> None:
    @app.websocket("/agents/{name}/voice")
    async def voice(websocket: WebSocket, name: str) -> None:
        await websocket.accept()
        agent = voice_agent(websocket.state.node, name)
        if agent is None:
            message = (f"Agent {name!r} has no voice on this node: start it with "
                       "Agent.start(..., voice={'voice': 'alloy'}) (a VoiceConfig)")
            with contextlib.suppress(RuntimeError, WebSocketDisconnect):
                await websocket.send_text(json.dumps({"type": "error", "event_id": None, "error": {
                    "type": "invalid_request_error", "code": "voice_not_found", "message": message, "param": None}}))
                await websocket.close(1008, reason=f"agent {name!r} has no voice"[:120])
            return
        params = websocket.query_params
        await VoiceSession(agent, websocket, params.get("scope", ""), params.get("conversation") or None).run()
