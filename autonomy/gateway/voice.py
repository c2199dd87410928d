"""The gateway's voice routes: the OpenAI Realtime WebSocket and the audio endpoints, proxied per zone.

``WS /v1/realtime?model=M`` (zone key in ``Authorization: Bearer``, or, for browsers, the subprotocol
``openai-insecure-api-key.<key>``): the model is routed as for chat; its provider must be
OpenAI-compatible. The gateway opens the provider's Realtime WebSocket with the provider's key and
relays every frame both ways unchanged until either side closes. Refusals (bad key: close 1008 before
accepting; unknown model, provider without realtime, provider unreachable) are sent as one Realtime
``error`` event, then the socket is closed (1008, or 1011 for an unreachable provider). Usage: one
request per session, plus the tokens of each ``response.done`` event.

``POST /v1/audio/speech`` (JSON) and ``POST /v1/audio/transcriptions`` (multipart, the file as is): routed
by their ``model`` field and relayed to the provider; answers come back with the provider's content type.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from typing import Any

import httpx
from fastapi import FastAPI, Request, WebSocket
from fastapi.responses import Response
from starlette.datastructures import UploadFile
from starlette.websockets import WebSocketDisconnect, WebSocketState

from autonomy.errors import AutonomyError, GatewayError
from autonomy.gateway.providers.base import NotSupported
from autonomy.gateway.routing import Route

__all__ = ["add_voice_routes"]

logger = logging.getLogger("autonomy.gateway")

_SUBPROTOCOL_KEY = "openai-insecure-api-key."
_MAX_FRAME = 16 * 1024 * 1024  # a Realtime event with audio can be large; OpenAI's own limit is ~15 MiB


def _bad_request(message: str) -> AutonomyError:
    """A voice request the gateway refuses before any provider sees it (400, naming the field)."""
    from autonomy.gateway.app import _HTTPError  # the app's own refusal (app.py imports this module lazily)

    return _HTTPError(400, message, "invalid_request")


def _zone_for_websocket(gateway: Any, websocket: WebSocket) -> tuple[str | None, str | None]:
    """The zone of the socket's key and the subprotocol to accept with (when the key came in one)."""
    scheme, _, key = websocket.headers.get("authorization", "").partition(" ")
    if scheme.lower() == "bearer" and key.strip():
        return gateway.keys.zone_for(key.strip()), None
    offered = websocket.scope.get("subprotocols") or []
    for protocol in offered:
        if protocol.startswith(_SUBPROTOCOL_KEY):
            # answered with "realtime" when offered (as OpenAI does), never with the key itself
            answer = "realtime" if "realtime" in offered else None
            return gateway.keys.zone_for(protocol[len(_SUBPROTOCOL_KEY):]), answer
    return None, None


async def _refuse(websocket: WebSocket, code: str, message: str, close_code: int) -> None:
    event = {"type": "error", "event_id": None, "error": {"type": "invalid_request_error", "code": code,
                                                          "message": message, "param": None}}
    with contextlib.suppress(RuntimeError, WebSocketDisconnect):
        await websocket.send_text(json.dumps(event))
        await websocket.close(close_code, reason=message[:120])


def _realtime_usage(frame: str) -> dict[str, int] | None:
    if '"response.done"' not in frame:
        return None
    try:
        usage = (json.loads(frame).get("response") or {}).get("usage") or {}
    except (ValueError, AttributeError):
        return None
    if not usage:
        return None
    return {"prompt_tokens": int(usage.get("input_tokens") or 0),
            "completion_tokens": int(usage.get("output_tokens") or 0)}


async def _relay_realtime(gateway: Any, websocket: WebSocket, zone: str, route: Route, url: str,
                          headers: dict[str, str]) -> None:
    from websockets.asyncio.client import connect
    from websockets.exceptions import ConnectionClosed, InvalidHandshake, InvalidStatus

    name = route.provider.name
    try:
        upstream = await connect(url, additional_headers=headers, proxy=None, max_size=_MAX_FRAME,
                                 open_timeout=route.provider.timeout, ping_interval=None, compression=None)
    except InvalidStatus as exc:
        status = exc.response.status_code
        gateway.usage.record(zone, route.requested, None, failed=True)
        why = "refused the gateway's API key" if status in (401, 403) else f"answered HTTP {status}"
        await _refuse(websocket, "provider_unavailable", f"Model provider {name!r} {why} for the realtime "
                      "session", 1011)
        return
    except (OSError, TimeoutError, InvalidHandshake) as exc:
        gateway.usage.record(zone, route.requested, None, failed=True)
        await _refuse(websocket, "provider_unavailable", f"Model provider {name!r} cannot be reached for the "
                      f"realtime session: {type(exc).__name__}", 1011)
        return
    gateway.usage.record(zone, route.requested, None)

    async def client_to_upstream() -> None:
        while True:
            message = await websocket.receive()
            if message["type"] == "websocket.disconnect":
                return
            if message.get("text") is not None:
                await upstream.send(message["text"])
            elif message.get("bytes") is not None:
                await upstream.send(message["bytes"])

    async def upstream_to_client() -> None:
        async for frame in upstream:
            if isinstance(frame, str):
                usage = _realtime_usage(frame)
                if usage:
                    total = {"prompt_tokens": usage["prompt_tokens"], "completion_tokens": usage["completion_tokens"]}
                    gateway.usage.record(zone, route.requested, total)
                await websocket.send_text(frame)
            else:
                await websocket.send_bytes(frame)

    tasks = [asyncio.ensure_future(client_to_upstream()), asyncio.ensure_future(upstream_to_client())]
    try:
        done, _ = await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
        for task in done:
            failure = None if task.cancelled() else task.exception()
            if failure is not None and not isinstance(failure, ConnectionClosed | WebSocketDisconnect | RuntimeError):
                logger.warning("realtime session of zone %s with provider %s broke: %s", zone, name, failure)
    finally:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        await upstream.close()
        if websocket.client_state == WebSocketState.CONNECTED:
            with contextlib.suppress(RuntimeError, WebSocketDisconnect):
                code = upstream.close_code if upstream.close_code and upstream.close_code != 1005 else 1000
                await websocket.close(code)


def add_voice_routes(app: FastAPI) -> None:
    """Add ``/v1/realtime`` (WebSocket) and ``/v1/audio/speech|transcriptions`` to the gateway's app."""
    gateway = app.state.gateway

    @app.websocket("/v1/realtime")
    async def realtime(websocket: WebSocket) -> None:
        zone, subprotocol = _zone_for_websocket(gateway, websocket)
        if zone is None:
            await websocket.close(1008, reason="Missing or invalid API key")
            return
        await websocket.accept(subprotocol=subprotocol)
        model = websocket.query_params.get("model", "")
        try:
            if not model:
                raise _bad_request("'model' is required: /v1/realtime?model=NAME")
            route = gateway.route({"model": model})
            provider = gateway.provider(route)
            opener = getattr(provider, "realtime", None)
            if opener is None:
                raise NotSupported(route.provider.name, "Realtime API (only OpenAI-compatible providers have one)")
            url, headers = opener(route)
        except (GatewayError, AutonomyError) as exc:
            await _refuse(websocket, getattr(exc, "code", "gateway_error"), str(exc), 1008)
            return
        await _relay_realtime(gateway, websocket, zone, route, url, headers)

    async def forward(request: Request, path: str, model: Any, content: bytes, content_type: str) -> Response:
        zone = gateway.zone_of(request)
        route = gateway.route({"model": model})
        provider = gateway.provider(route)
        if getattr(provider, "forward", None) is None:
            raise NotSupported(route.provider.name, f"{path} endpoint (only OpenAI-compatible providers have one)")
        try:
            answer: httpx.Response = await provider.forward(path, route, content, content_type)
        except GatewayError:
            gateway.usage.record(zone, route.requested, None, failed=True)
            raise
        gateway.usage.record(zone, route.requested, None)
        return Response(answer.content, status_code=answer.status_code,
                        media_type=answer.headers.get("content-type", "application/octet-stream"))

    @app.post("/v1/audio/speech")
    async def speech(request: Request) -> Response:
        gateway.zone_of(request)
        try:
            body = await request.json()
        except ValueError:
            body = None
        if not isinstance(body, dict):
            raise _bad_request("request body must be a JSON object {model, input, voice}")
        route = gateway.route(body)
        content = json.dumps({**body, "model": route.upstream_model}).encode()
        return await forward(request, "/audio/speech", body.get("model"), content, "application/json")

    @app.post("/v1/audio/transcriptions")
    async def transcriptions(request: Request) -> Response:
        gateway.zone_of(request)
        try:
            form = await request.form(max_part_size=64 * 1024 * 1024)
        except (AssertionError, ValueError, KeyError) as exc:
            raise _bad_request(f"request body must be multipart/form-data with 'model' and 'file' ({exc})") from exc
        try:
            model = form.get("model")
            route = gateway.route({"model": model})
            fields: dict[str, Any] = {}
            files: dict[str, Any] = {}
            for key, value in form.multi_items():
                if isinstance(value, UploadFile):
                    files[key] = (value.filename or "audio", await value.read(),
                                  value.content_type or "application/octet-stream")
                else:
                    fields[key] = route.upstream_model if key == "model" else value
            if "file" not in files:
                raise _bad_request("'file' is required: a multipart part with the audio")
            encoded = httpx.Request("POST", "http://upstream/", data=fields, files=files)
            content = encoded.read()
            return await forward(request, "/audio/transcriptions", model, content, encoded.headers["content-type"])
        finally:
            await form.close()
