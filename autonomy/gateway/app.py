"""The model gateway's HTTP API: an OpenAI-compatible endpoint for every zone of the cluster.

Routes (all need ``Authorization: Bearer <zone key>``; errors are OpenAI-style JSON)::

    POST /v1/chat/completions   non-streamed, or SSE when "stream": true (tool calls included)
    POST /v1/embeddings         where the model's provider has embeddings (else 400)
    GET  /v1/models             every configured model name and accepted alias
    WS   /v1/realtime           the OpenAI Realtime API, relayed (and /v1/audio/speech|transcriptions): voice.py

Statuses: 401 missing/unknown key; 404 unknown model (lists the configured ones, or says how to add a
provider when there is none); 424 the provider's extra is not installed (names the extra); 429 the model's
queue is full or the provider kept rate limiting (with ``Retry-After``); 502 the provider is down or
refused the gateway (the body names the provider, never its key); an upstream 4xx about the
request itself is passed through unchanged. The ``X-Client-Cluster/Zone/Node`` headers nodes send
are logged; the zone recorded for usage is always the key's.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import AsyncIterator, Callable
from typing import Any

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, Response, StreamingResponse
from starlette.background import BackgroundTask

from autonomy.errors import AutonomyError, GatewayBusy, GatewayError, MissingExtra
from autonomy.gateway.config import GatewayConfig
from autonomy.gateway.keys import ZoneKeys
from autonomy.gateway.providers import Provider, UpstreamError, build_provider
from autonomy.gateway.routing import Route, catalog, resolve
from autonomy.gateway.throttle import Throttles
from autonomy.gateway.usage import UsageRecorder

__all__ = ["Gateway", "create_gateway_app"]

logger = logging.getLogger("autonomy.gateway")


class _HTTPError(AutonomyError):
    """A request the gateway refuses before any provider sees it (answered by ``_on_http_error``)."""

    def __init__(self, status: int, message: str, code: str, type_: str = "invalid_request_error") -> None:
        self.status, self.message, self.code, self.type = status, message, code, type_
        self.http_status = status
        super().__init__(message)


def _error(status: int, message: str, code: str, type_: str, headers: dict[str, str] | None = None) -> JSONResponse:
    body = {"error": {"message": message, "type": type_, "param": None, "code": code}}
    return JSONResponse(body, status_code=status, headers=headers)


class Gateway:
    """The gateway's state: config, one provider object per configured provider, throttles, usage."""

    def __init__(self, config: GatewayConfig, keys: ZoneKeys, usage: UsageRecorder) -> None:
        config.validate()
        self.config = config
        self.keys = keys
        self.usage = usage
        self.throttles = Throttles()
        self.providers: dict[str, Provider] = {p.name: build_provider(p) for p in config.providers}
        # zone -> the addresses its pods send from, or None when they cannot be told apart (host network);
        # set by the cluster's controller so that a key is good only from its own zone's pods.
        self.sources: Callable[[str], set[str] | None] | None = None

    async def reconfigure(self, config: GatewayConfig) -> None:
        """Switch to ``config`` (after ``model add/remove``); unchanged providers are kept as they are."""
        config.validate()
        old = self.providers
        new: dict[str, Provider] = {}
        for p in config.providers:
            kept = old.get(p.name)
            new[p.name] = kept if kept is not None and kept.config == p else build_provider(p)
        self.config, self.providers = config, new
        for name, provider in old.items():
            if new.get(name) is not provider:
                await provider.aclose()

    async def aclose(self) -> None:
        for provider in self.providers.values():
            await provider.aclose()

    def zone_of(self, request: Request) -> str:
        header = request.headers.get("authorization", "")
        scheme, _, key = header.partition(" ")
        zone = self.keys.zone_for(key.strip()) if scheme.lower() == "bearer" else None
        if zone is None:
            raise _HTTPError(401, "Missing or invalid API key: send 'Authorization: Bearer <zone key>' with the "
                             "key in AUTONOMY_EXTERNAL_APIS_GATEWAY_API_KEY", "invalid_api_key")
        allowed = self.sources(zone) if self.sources is not None else None
        client = request.client.host if request.client else "?"
        if allowed is not None and client not in allowed:
            logger.warning("refused the key of zone %s used from %s, not one of its pods", zone, client)
            raise _HTTPError(403, f"This zone key is bound to its zone's pods; {client} is not one of them: "
                             "a zone key is useless outside its zone", "key_not_from_its_zone")
        claimed = request.headers.get("x-client-zone")
        if claimed and claimed != zone:
            logger.warning("request with the key of zone %s claims zone %s (node %s): counted for %s",
                           zone, claimed, request.headers.get("x-client-node", "?"), zone)
        return zone

    def route(self, body: dict[str, Any]) -> Route:
        model = body.get("model")
        if not isinstance(model, str) or not model:
            raise _HTTPError(400, "'model' is required: a model name string", "invalid_model")
        return resolve(self.config, model)

    def provider(self, route: Route) -> Provider:
        return self.providers[route.provider.name]


async def _json_body(request: Request) -> dict[str, Any]:
    try:
        body = await request.json()
    except ValueError as exc:
        raise _HTTPError(400, f"request body is not valid JSON: {exc}", "invalid_json") from exc
    except RecursionError:  # json's C parser recurses: a hostile nesting must not be a 500
        raise _HTTPError(400, "request body nests too deeply", "invalid_json") from None
    if not isinstance(body, dict):
        raise _HTTPError(400, "request body must be a JSON object", "invalid_json")
    return body


def create_gateway_app(config: GatewayConfig, keys: ZoneKeys, usage: UsageRecorder) -> FastAPI:
    """The gateway as a FastAPI app; ``app.state.gateway`` is its :class:`Gateway` (for reconfigure)."""
    gateway = Gateway(config, keys, usage)

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        try:
            yield
        finally:
            await gateway.aclose()

    app = FastAPI(title="autonomy model gateway", lifespan=lifespan, openapi_url=None, docs_url=None,
                  redoc_url=None)
    app.state.gateway = gateway

    @app.exception_handler(_HTTPError)
    async def _on_http_error(request: Request, exc: _HTTPError) -> Response:
        return _error(exc.status, exc.message, exc.code, exc.type)

    @app.exception_handler(GatewayError)
    async def _on_gateway_error(request: Request, exc: GatewayError) -> Response:
        if isinstance(exc, UpstreamError):
            return Response(exc.body, status_code=exc.status, media_type="application/json")
        headers = {"retry-after": f"{max(1, round(exc.retry_after))}"} if isinstance(exc, GatewayBusy) else None
        kind = "invalid_request_error" if exc.status < 500 else "api_error"
        return _error(exc.status, str(exc), exc.code, kind, headers)

    @app.exception_handler(MissingExtra)
    async def _on_missing_extra(request: Request, exc: MissingExtra) -> Response:
        # A provider that cannot run here (e.g. the embedded model without the [local] extra). 424, not
        # 5xx: it is permanent until someone installs the extra, and nodes retry 5xx for ~35 s.
        logger.error("gateway request failed: %s", exc)
        return _error(424, str(exc), "provider_not_installed", "api_error")

    @app.exception_handler(AutonomyError)
    async def _on_autonomy_error(request: Request, exc: AutonomyError) -> Response:
        logger.error("gateway request failed: %s", exc)
        return _error(500, str(exc), "gateway_error", "api_error")

    @app.get("/v1/models")
    async def list_models(request: Request) -> dict[str, Any]:
        gateway.zone_of(request)
        data = [{"id": name, "object": "model", "created": 0, "owned_by": provider.name}
                for name, provider in catalog(gateway.config)]
        return {"object": "list", "data": data}

    @app.post("/v1/chat/completions")
    async def chat_completions(request: Request) -> Response:
        zone = gateway.zone_of(request)
        body = await _json_body(request)
        route = gateway.route(body)
        if not isinstance(body.get("messages"), list):
            raise _HTTPError(400, "'messages' is required: a list of chat messages", "invalid_messages")
        provider = gateway.provider(route)
        throttle = gateway.throttles.get(route.provider.name, route.upstream_model, route.provider.throttle)
        if not body.get("stream"):
            try:
                async with throttle.slot():
                    answer = await provider.complete(route, body)
            except GatewayError:
                usage.record(zone, route.requested, None, failed=True)
                raise
            usage.record(zone, route.requested, answer.usage)
            return Response(answer.body, media_type="application/json")

        slot = throttle.slot()
        await slot.__aenter__()
        try:
            stream = await provider.open_stream(route, body)
        except BaseException as exc:
            await slot.__aexit__(type(exc), exc, exc.__traceback__)
            if isinstance(exc, GatewayError):
                usage.record(zone, route.requested, None, failed=True)
            raise
        done = False

        async def finish(failed: bool) -> None:
            nonlocal done
            if not done:
                done = True
                await slot.__aexit__(None, None, None)
                usage.record(zone, route.requested, stream.usage, failed=failed)

        async def relay() -> AsyncIterator[bytes]:
            failed = True
            try:
                async for chunk in stream:
                    yield chunk
                failed = False
            except (AutonomyError, OSError) as exc:
                logger.warning("stream from provider %s for zone %s broke: %s", route.provider.name, zone, exc)
                raise
            finally:
                await stream.aclose()
                await finish(failed)

        async def cleanup() -> None:  # the client left before the stream started
            if not done:
                await stream.aclose()
                await finish(True)

        return StreamingResponse(relay(), media_type="text/event-stream",
                                 headers={"cache-control": "no-cache", "x-accel-buffering": "no"},
                                 background=BackgroundTask(cleanup))

    @app.post("/v1/embeddings")
    async def embeddings(request: Request) -> Response:
        zone = gateway.zone_of(request)
        body = await _json_body(request)
        route = gateway.route(body)
        provider = gateway.provider(route)
        throttle = gateway.throttles.get(route.provider.name, route.upstream_model, route.provider.throttle)
        try:
            async with throttle.slot():
                answer = await provider.embed(route, body)
        except GatewayError:
            usage.record(zone, route.requested, None, failed=True)
            raise
        usage.record(zone, route.requested, answer.usage)
        return Response(answer.body, media_type="application/json")

    from autonomy.gateway.voice import add_voice_routes

    add_voice_routes(app)
    return app
