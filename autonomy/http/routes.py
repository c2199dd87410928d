"""Built-in routes of a node's HTTP API (spec §2): workers, log levels, and the agents' routes."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Body, FastAPI, HTTPException

from autonomy import logs
from autonomy.agents.http_errors import ErrorTranslatingRoute
from autonomy.agents.routes import add_agent_routes
from autonomy.agents.voice_routes import add_voice_routes
from autonomy.http.deps import NodeDep

__all__ = ["add_builtin_routes"]

router = APIRouter(route_class=ErrorTranslatingRoute)


@router.get("/workers")
async def list_workers(node: NodeDep) -> dict[str, Any]:
    return {"workers": await node.list_workers()}


@router.get("/logs/levels")
async def get_log_levels() -> dict[str, Any]:
    return {"levels": logs.get_log_levels(), "available_levels": logs.AVAILABLE_LEVELS}


@router.post("/logs/levels")
async def set_log_level(body: dict[str, Any] = Body(...)) -> dict[str, Any]:
    level, module = body.get("level"), body.get("module")
    if not isinstance(level, str):
        raise HTTPException(400, f"'level' is required: one of {', '.join(logs.AVAILABLE_LEVELS)}")
    if module is not None and not isinstance(module, str):
        raise HTTPException(400, "'module' must be a string")
    try:
        logs.set_log_level(module, level)
    except ValueError as exc:
        raise HTTPException(400, str(exc)) from None
    return {"status": "ok", "module": module or "default", "level": level.upper(), "levels": logs.get_log_levels()}


def add_builtin_routes(app: FastAPI) -> None:
    """Add the node's built-in routes to ``app`` (after the user's own, which win on conflicts)."""
    app.include_router(router)
    add_agent_routes(app)
    add_voice_routes(app)
