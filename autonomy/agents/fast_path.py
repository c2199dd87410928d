"""``POST /agents/{name}`` without FastAPI's routing: an ASGI middleware in front of the node's app.

Profiled (docs/benchmarks.md, scale): an agent turn over HTTP made ~1,700 Python calls per request
against ~750 for a FastAPI echo endpoint; the agent turn itself (decode, memory, model call, encode)
was ~11% of the server's time, and most of the rest was FastAPI's per-request machinery (matching
the path against every route in turn, solving dependencies, exit stacks, the route wrappers). The
turn needs none of it: the path names the agent, the body is read once and handed to the same
handler the route uses (:func:`autonomy.agents.routes.handle_post`), and its errors become the same
responses (``error_response`` for AutonomyError, ``{"detail"}`` for HTTPException).

The fast path is only installed when it cannot change behaviour: no user route under ``/agents``
(the user's routes win) and no app-wide dependencies (``API_KEY``'s check is one). Anything else
(other paths, other methods, ``/agents/{name}/...``) goes to the app unchanged.
"""

from __future__ import annotations

import re
from typing import Any

from fastapi import HTTPException
from fastapi.responses import JSONResponse
from starlette.requests import Request

from autonomy.agents.http_errors import error_response
from autonomy.agents.routes import handle_post
from autonomy.errors import AutonomyError

__all__ = ["AgentTurnFastPath", "can_install"]

_AGENT_PATH = re.compile(r"/agents/([A-Za-z0-9_-]+)")


def can_install(app: Any) -> bool:
    """True when the fast path answers exactly as ``app``'s routes would (see the module docstring)."""
    if app.router.dependencies:
        return False
    return not any(str(getattr(route, "path", "")).startswith("/agents") for route in app.routes)


class AgentTurnFastPath:
    """ASGI middleware: serves ``POST /agents/{name}`` itself, passes everything else to ``app``."""

    def __init__(self, app: Any) -> None:
        self.app = app

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http" or scope["method"] != "POST":
            await self.app(scope, receive, send)
            return
        match = _AGENT_PATH.fullmatch(scope["path"])
        if match is None:
            await self.app(scope, receive, send)
            return
        request = Request(scope, receive)
        try:
            response = await handle_post(request.state.node, match.group(1), request)
        except AutonomyError as exc:
            response = error_response(exc)
        except HTTPException as exc:
            response = JSONResponse({"detail": exc.detail}, status_code=exc.status_code, headers=exc.headers)
        await response(scope, receive, send)
