"""The one place where an error escaping a node's built-in route becomes an HTTP answer.

Every built-in router of a node (``/agents``, ``/flows``, ``/tools``, ``/workers``, ``/logs``) uses
:class:`ErrorTranslatingRoute`: an :class:`~autonomy.errors.AutonomyError` raised by a handler is
answered with the error's ``http_status`` and ``{"detail": message}`` (FastAPI's own error shape, so
clients see one shape for every refusal). Other exceptions are not caught here: Starlette answers 500
and logs the traceback.

Decision: this lives in ``agents`` (not ``autonomy.http``) because the agents' routes are the main
user of it and ``agents`` must not import ``http`` (``http`` assembles the node's app from the
routers below it). It is deliberately a route class, not an app-wide exception handler: the user's own
routes on the same FastAPI app keep whatever error handling the user gave them.
"""

from __future__ import annotations

from collections.abc import Callable, Coroutine
from typing import Any

from fastapi.routing import APIRoute
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from autonomy.errors import AutonomyError

__all__ = ["ErrorTranslatingRoute", "error_response"]


def error_response(exc: AutonomyError) -> JSONResponse:
    """``{"detail": str(exc)}`` with ``exc.http_status``."""
    return JSONResponse({"detail": str(exc) or type(exc).__name__}, status_code=exc.http_status)


class ErrorTranslatingRoute(APIRoute):
    """An ``APIRoute`` whose handler's AutonomyError becomes :func:`error_response`."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()

        async def translated(request: Request) -> Response:
            try:
                return await handler(request)
            except AutonomyError as exc:
                return error_response(exc)

        return translated
