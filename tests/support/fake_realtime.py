"""A fake OpenAI Realtime + audio endpoint on 127.0.0.1, served in the test's event loop over real WebSockets.

* ``WS /v1/realtime?model=M``: answers ``session.update`` with ``session.updated``; on
  ``input_audio_buffer.commit`` it "hears" the audio appended so far and asks for the tool
  ``delegate_to_primary`` with ``{"request": FakeRealtime.heard}``; when given that call's output and a
  ``response.create``, it "speaks" it: ``response.audio_transcript.done`` with ``"Here is what I found: "
  + output``, then ``response.done`` with usage (11 input, 7 output tokens).
* ``POST /v1/audio/speech``: ``b"FAKE-AUDIO:" + input`` as ``audio/mpeg``.
* ``POST /v1/audio/transcriptions``: ``{"text": "heard N bytes (language L)"}``.

Every route requires ``Authorization: Bearer <api_key>`` (a WebSocket without it is refused with 403).
What it received is recorded: ``events`` (Realtime client events), ``audio`` (decoded appended audio),
``headers`` and ``requests``.
"""

from __future__ import annotations

import asyncio
import base64
import json
import threading
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route, WebSocketRoute
from starlette.websockets import WebSocket, WebSocketDisconnect

from autonomy.serving import ServedApp, bind_tcp

__all__ = ["FakeRealtime", "ThreadedFakeRealtime"]


class FakeRealtime:
    def __init__(self, api_key: str = "upstream-secret", heard: str = "What is the capital of France?") -> None:
        self.api_key = api_key
        self.heard = heard
        self.events: list[dict[str, Any]] = []
        self.audio = b""
        self.headers: list[dict[str, str]] = []
        self.requests: list[tuple[str, Any]] = []
        self.query: list[dict[str, str]] = []
        self._served: ServedApp | None = None

    @property
    def base_url(self) -> str:
        assert self._served is not None
        return self._served.url + "/v1"

    async def start(self) -> FakeRealtime:
        app = Starlette(routes=[WebSocketRoute("/v1/realtime", self._realtime),
                                Route("/v1/audio/speech", self._speech, methods=["POST"]),
                                Route("/v1/audio/transcriptions", self._transcriptions, methods=["POST"])])
        self._served = await ServedApp.start(app, bind_tcp("127.0.0.1", 0, "fake realtime", "-"), lifespan="off",
                                             ws="websockets-sansio")
        return self

    async def stop(self) -> None:
        if self._served is not None:
            await self._served.stop()

    def _authorized(self, headers: Any) -> bool:
        return headers.get("authorization") == f"Bearer {self.api_key}"

    async def _realtime(self, websocket: WebSocket) -> None:
        self.headers.append(dict(websocket.headers))
        self.query.append(dict(websocket.query_params))
        if not self._authorized(websocket.headers):
            await websocket.close(1008)
            return
        await websocket.accept()
        pending_output: dict[str, Any] | None = None
        try:
            while True:
                event = json.loads(await websocket.receive_text())
                self.events.append(event)
                kind = event.get("type")
                if kind == "session.update":
                    await websocket.send_text(json.dumps({"type": "session.updated", "session": event["session"]}))
                elif kind == "input_audio_buffer.append":
                    self.audio += base64.b64decode(event["audio"])
                elif kind == "input_audio_buffer.commit":
                    await websocket.send_text(json.dumps({"type": "input_audio_buffer.committed"}))
                    await websocket.send_text(json.dumps({
                        "type": "response.function_call_arguments.done", "response_id": "resp_1", "item_id": "item_1",
                        "output_index": 0, "call_id": "call_1", "name": "delegate_to_primary",
                        "arguments": json.dumps({"request": self.heard})}))
                elif kind == "conversation.item.create" and event["item"].get("type") == "function_call_output":
                    pending_output = event["item"]
                elif kind == "response.create" and pending_output is not None:
                    transcript = "Here is what I found: " + pending_output["output"]
                    await websocket.send_text(json.dumps({"type": "response.audio_transcript.done",
                                                          "transcript": transcript}))
                    await websocket.send_text(json.dumps({"type": "response.done", "response": {
                        "status": "completed", "usage": {"input_tokens": 11, "output_tokens": 7}}}))
                    pending_output = None
        except WebSocketDisconnect:
            return

    async def _speech(self, request: Request) -> Response:
        if not self._authorized(request.headers):
            return JSONResponse({"error": {"message": "bad key"}}, status_code=401)
        body = await request.json()
        self.requests.append(("speech", body))
        return Response(b"FAKE-AUDIO:" + body["input"].encode(), media_type="audio/mpeg")

    async def _transcriptions(self, request: Request) -> Response:
        if not self._authorized(request.headers):
            return JSONResponse({"error": {"message": "bad key"}}, status_code=401)
        async with request.form() as form:
            audio = await form["file"].read()
            fields = {k: v for k, v in form.multi_items() if isinstance(v, str)}
        self.requests.append(("transcriptions", fields))
        return JSONResponse({"text": f"heard {len(audio)} bytes (language {fields.get('language', '?')})"})


class ThreadedFakeRealtime:
    """A :class:`FakeRealtime` served from its own thread and event loop, for synchronous tests::

        with ThreadedFakeRealtime() as fake:
            fake.base_url, fake.events ...
    """

    def __init__(self, **kwargs: Any) -> None:
        self.fake = FakeRealtime(**kwargs)
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None

    def __enter__(self) -> FakeRealtime:
        ready = threading.Event()
        failure: list[BaseException] = []

        def run() -> None:
            loop = asyncio.new_event_loop()
            self._loop = loop
            try:
                loop.run_until_complete(self.fake.start())
            except BaseException as exc:  # reported to the test's thread
                failure.append(exc)
                ready.set()
                loop.close()
                return
            ready.set()
            loop.run_forever()
            loop.run_until_complete(self.fake.stop())
            loop.close()

        self._thread = threading.Thread(target=run, name="fake-realtime", daemon=True)
        self._thread.start()
        ready.wait(30)
        if failure:
            raise failure[0]
        return self.fake

    def __exit__(self, *exc: object) -> None:
        if self._loop is not None and self._thread is not None:
            self._loop.call_soon_threadsafe(self._loop.stop)
            self._thread.join(30)
