"""The console's ASGI app: pages, live fragments, the chat stream, the log stream, static files.

    GET  /                                  the cluster: zones, model usage per provider and zone
    GET  /zones/{zone}                      a zone: pods, nodes, chat, conversations, usage, logs
    GET  /fragments/...                     the parts htmx refreshes (HTML)
    GET  /zones/{zone}/logs?pod=&tail=      the zone's logs, streamed as written (text/plain)
    POST /zones/{zone}/chat                 {"target": ["pod/clone", "agent"], "message", "conversation"}
                                            -> the answer as it streams (JSON lines, see nodes.chat_events)
    GET  /static/{file}                     htmx.min.js, console.js

Every request passes :func:`autonomy.console.access.refusal` first. Bad input gets a 4xx naming the field.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import AsyncIterator
from importlib.resources import files
from typing import Any

import httpx
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, PlainTextResponse, Response, StreamingResponse
from starlette.routing import Route

from autonomy.console import views
from autonomy.console.access import refusal
from autonomy.console.nodes import NodeInventory, chat_events, conversation_messages, inventory
from autonomy.console.render import e, page
from autonomy.console.source import ClusterView
from autonomy.errors import AutonomyError

__all__ = ["build_console_app"]

STATIC = {"htmx.min.js": "text/javascript", "console.js": "text/javascript", "console.css": "text/css"}
MAX_MESSAGE = 100_000


class _Refused(AutonomyError):
    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


def build_console_app(view: ClusterView, token: str) -> Any:
    """The console for the cluster seen through ``view``; ``token`` lets non-loopback clients in."""
    client: httpx.AsyncClient | None = None

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        nonlocal client
        # trust_env=False: pods are reached directly, never through a proxy from the environment.
        client = httpx.AsyncClient(trust_env=False)
        try:
            yield
        finally:
            await client.aclose()

    def http() -> httpx.AsyncClient:
        assert client is not None, "the console app runs with its lifespan"
        return client

    def status_of(name: str) -> dict[str, Any]:
        try:
            return view.zone_status(name)
        except AutonomyError as exc:
            raise _Refused(404, str(exc)) from None

    def port() -> int:
        return int(view.cluster().get("public_port") or 0)

    async def cluster_page(request: Request) -> Response:
        return HTMLResponse(views.cluster_page(view.cluster()))

    async def zone_page(request: Request) -> Response:
        name = request.path_params["zone"]
        status = status_of(name)
        return HTMLResponse(views.zone_page(name, status, await inventory(http(), status), port()))

    async def zones_fragment(request: Request) -> Response:
        zones = view.zones()
        statuses: dict[str, dict[str, Any]] = {}
        for z in zones:
            with contextlib.suppress(AutonomyError):
                statuses[str(z.get("zone"))] = view.zone_status(str(z.get("zone")))
        return HTMLResponse(views.zones_fragment(zones, statuses, port()))

    async def usage_fragment(request: Request) -> Response:
        return HTMLResponse(views.usage_fragment(view.usage(), request.query_params.get("zone")))

    async def pods_fragment(request: Request) -> Response:
        return HTMLResponse(views.pods_fragment(status_of(request.path_params["zone"])))

    async def nodes_fragment(request: Request) -> Response:
        return HTMLResponse(views.nodes_fragment(await inventory(http(), status_of(request.path_params["zone"]))))

    async def conversations_fragment(request: Request) -> Response:
        nodes = await inventory(http(), status_of(request.path_params["zone"]))

        async def of(n: NodeInventory, agent: str) -> tuple[str, str, list[dict[str, Any]] | str]:
            try:
                return n.key, agent, await conversation_messages(http(), n, agent)
            except (httpx.HTTPError, ValueError) as exc:
                return n.key, agent, f"could not read its conversations: {type(exc).__name__} {exc}"
        found = await asyncio.gather(*(of(n, a.get("name", "")) for n in nodes for a in n.agents))
        return HTMLResponse(views.conversations_fragment(list(found)))

    async def traces_fragment(request: Request) -> Response:
        name = request.path_params["zone"]
        status_of(name)
        return HTMLResponse(views.traces_fragment(view.traces(name)))

    async def traces_json(request: Request) -> Response:
        """The zone's recent traces as the collector holds them (newest first), for scripts and tests."""
        name = request.path_params["zone"]
        status_of(name)
        traces = view.traces(name)
        if traces is None:
            raise _Refused(404, "this cluster collects no traces: pip install 'autonomy-runtime[traces]'")
        return JSONResponse(traces, headers={"Cache-Control": "no-store"})

    async def logs(request: Request) -> Response:
        name = request.path_params["zone"]
        pod = request.query_params.get("pod") or None
        try:
            tail = int(request.query_params.get("tail", "200"))
        except ValueError:
            raise _Refused(400, "tail: must be a number of lines") from None
        status_of(name)
        lines = view.log_lines(name, pod, None, max(0, min(tail, 5000)), True)
        try:
            first = await anext(lines, None)
        except AutonomyError as exc:
            raise _Refused(404, str(exc)) from None

        async def stream() -> AsyncIterator[str]:
            try:
                if first is not None:
                    yield first + "\n"
                async for line in lines:
                    yield line + "\n"
            finally:
                await lines.aclose()  # type: ignore[attr-defined]
        return StreamingResponse(stream(), media_type="text/plain; charset=utf-8",
                                 headers={"Cache-Control": "no-store"})

    async def chat(request: Request) -> Response:
        name = request.path_params["zone"]
        try:
            body = json.loads(await request.body())
        except ValueError:
            raise _Refused(400, "the request body must be JSON: {\"target\", \"message\", \"conversation\"}") from None
        if not isinstance(body, dict):
            raise _Refused(400, "the request body must be a JSON object")
        target, message = body.get("target"), body.get("message")
        conversation = body.get("conversation") or "console"
        if not (isinstance(target, list) and len(target) == 2 and all(isinstance(t, str) for t in target)):
            raise _Refused(400, 'target: must be ["pod/clone", "agent"] (as the page\'s agent list gives)')
        if not isinstance(message, str) or not message.strip():
            raise _Refused(400, "message: say something to the agent")
        if len(message) > MAX_MESSAGE:
            raise _Refused(400, f"message: at most {MAX_MESSAGE} characters")
        if not isinstance(conversation, str) or len(conversation) > 200:
            raise _Refused(400, "conversation: must be a name of at most 200 characters")
        nodes = {n.key: n for n in await inventory(http(), status_of(name))}
        node = nodes.get(target[0])
        if node is None or not any(a.get("name") == target[1] for a in node.agents):
            known = ", ".join(f"{a.get('name')} on {k}" for k, n in nodes.items() for a in n.agents) or "none"
            raise _Refused(404, f"target: no agent {target[1]!r} on {target[0]!r} in zone {name!r} (it has: {known})")

        async def events() -> AsyncIterator[str]:
            async for event in chat_events(http(), node, target[1], message, "console", conversation):
                yield json.dumps(event) + "\n"
        return StreamingResponse(events(), media_type="application/x-ndjson",
                                 headers={"Cache-Control": "no-store", "X-Accel-Buffering": "no"})

    async def static(request: Request) -> Response:
        name = request.path_params["file"]
        if name not in STATIC:
            raise _Refused(404, f"no static file {name!r}")
        data = files("autonomy.console").joinpath("static", name).read_bytes()
        return Response(data, media_type=STATIC[name], headers={"Cache-Control": "max-age=300"})

    routes = [
        Route("/", cluster_page), Route("/zones/{zone}", zone_page),
        Route("/fragments/zones", zones_fragment), Route("/fragments/usage", usage_fragment),
        Route("/fragments/zones/{zone}/pods", pods_fragment), Route("/fragments/zones/{zone}/nodes", nodes_fragment),
        Route("/fragments/zones/{zone}/conversations", conversations_fragment),
        Route("/fragments/zones/{zone}/traces", traces_fragment),
        Route("/zones/{zone}/traces", traces_json),
        Route("/zones/{zone}/logs", logs), Route("/zones/{zone}/chat", chat, methods=["POST"]),
        Route("/static/{file}", static),
    ]
    async def refused(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, _Refused)
        if request.method == "GET" and not request.headers.get("hx-request") \
                and request.url.path.startswith("/zones/") and request.url.path.count("/") == 2:
            return HTMLResponse(page("not found", f'<section class="wide"><p class="error">{e(exc.message)}</p>'
                                                  '<p><a href="/">back to the console</a></p></section>'),
                                status_code=exc.status)
        return PlainTextResponse(exc.message + "\n", status_code=exc.status)

    app = Starlette(routes=routes, lifespan=lifespan, exception_handlers={_Refused: refused})
    return _Guard(app, token)


class _Guard:
    """ASGI middleware: :func:`refusal` before anything else; safe headers on every response."""

    def __init__(self, app: Any, token: str) -> None:
        self.app = app
        self.token = token

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        refused = refusal(Request(scope), self.token)
        if refused is not None:
            await PlainTextResponse(refused[1] + "\n", status_code=refused[0])(scope, receive, send)
            return

        async def send_with_headers(message: Any) -> None:
            if message["type"] == "http.response.start":
                message.setdefault("headers", [])
                message["headers"] = [*message["headers"], (b"x-frame-options", b"DENY"),
                                      (b"referrer-policy", b"no-referrer"), (b"x-content-type-options", b"nosniff")]
            await send(message)
        await self.app(scope, receive, send_with_headers)
