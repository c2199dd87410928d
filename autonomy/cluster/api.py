"""The controller's HTTP API, served on ``AUTONOMY_HOME/controller.sock`` (see :mod:`.controller`).

Errors are ``{"message": ...}`` with the error's ``http_status`` (:mod:`autonomy.errors`), translated in
one place (the two handlers of :func:`build_app`): a refused request 400, an unknown zone 404, a controller
that is starting or stopping 503, an unexpected failure 500 naming ``controller.log`` (where its
traceback is; never in the body). ``POST /zones`` streams JSON lines of progress events
and ends with a ``done`` or an ``error`` event. ``GET /models``, ``POST /models`` (``{"name", "url",
"kind", "api_key_env", "api_key_value", "api_key_file", "models", "default"}``) and
``DELETE /models/{name}`` are ``autonomy cluster model list|add|remove``. ``POST /zones/{name}/repl``
(``{"pod", "clone"}``) opens a one-use socket to a pod's REPL (:mod:`.repl_bridge`).
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, StreamingResponse

from autonomy.cluster.console_view import provider_of
from autonomy.cluster.deployer import Deployer
from autonomy.cluster.logs import follow_logs
from autonomy.cluster.model_gateway import ClusterModelGateway
from autonomy.cluster.repl_bridge import ReplTargets, open_repl
from autonomy.errors import AutonomyError, ClusterError, ClusterUnavailable, ConfigError

if TYPE_CHECKING:
    from autonomy.cluster.controller import Controller

__all__ = ["build_app"]


def build_app(controller: Controller) -> FastAPI:
    app = FastAPI(title="autonomy cluster controller", openapi_url=None, docs_url=None, redoc_url=None)

    @app.exception_handler(AutonomyError)
    async def refused(request: Request, exc: AutonomyError) -> JSONResponse:
        return JSONResponse({"message": str(exc)}, status_code=exc.http_status)

    @app.exception_handler(Exception)
    async def failed(request: Request, exc: Exception) -> JSONResponse:
        # Starlette re-raises after this answer, so uvicorn logs the traceback to controller.log.
        return JSONResponse({"message": f"the controller failed on {request.method} {request.url.path} "
                             f"({type(exc).__name__}): see {controller.home / 'controller.log'}"}, status_code=500)

    async def json_body(request: Request) -> Any:
        try:
            return await request.json()
        except ValueError:
            raise ConfigError("the request body must be JSON") from None
        except RecursionError:  # json's C parser recurses: a hostile nesting must not be a 500
            raise ConfigError("the request body nests too deeply") from None

    def deployer() -> Deployer:
        if controller.deployer is None:
            raise ClusterUnavailable("the controller is starting or stopping: retry in a moment")
        return controller.deployer

    def models() -> ClusterModelGateway:
        if controller.models is None:
            raise ClusterUnavailable("the controller is starting or stopping: retry in a moment")
        return controller.models

    @app.get("/health")
    async def health() -> dict[str, Any]:
        return {"ok": True}

    @app.get("/cluster")
    async def show() -> dict[str, Any]:
        return controller.show()

    @app.post("/stop")
    async def stop() -> dict[str, Any]:
        zones = len(deployer().zones())
        controller.stop()
        return {"zones": zones}

    @app.get("/zones")
    async def zones() -> dict[str, Any]:
        return {"zones": deployer().zones()}

    @app.post("/zones")
    async def deploy(request: Request) -> StreamingResponse:
        from pydantic import ValidationError

        from autonomy.zones.spec import ZoneSpec

        body = await json_body(request)
        try:
            zone = ZoneSpec.model_validate(body["zone"])
            secrets = {str(k): str(v) for k, v in dict(body.get("secrets") or {}).items()}
            source = Path(body["source_dir"])
        except (KeyError, TypeError, ValueError, ValidationError) as exc:
            raise ConfigError(f"deploy request refused: {exc}") from exc
        queue: asyncio.Queue[dict[str, Any]] = asyncio.Queue()

        async def run() -> None:
            try:
                result = await deployer().deploy(
                    zone, secrets, source,
                    lambda step, detail: queue.put_nowait({"event": "progress", "step": step, "detail": detail}))
                await controller.sync_routes()  # the gateway daemon serves the zone's URL before "done"
                queue.put_nowait({"event": "done", "result": result})
            except AutonomyError as exc:
                queue.put_nowait({"event": "error", "message": str(exc)})
            except Exception as exc:
                queue.put_nowait({"event": "error", "message": f"deploy failed: {exc!r} (see controller.log)"})
                raise

        # The deploy is the controller's task, not the request's: a client that goes away does not
        # leave a half-started zone behind.
        controller.spawn(run(), f"deploy {zone.name}")

        async def events() -> AsyncIterator[str]:
            while True:
                event = await queue.get()
                yield json.dumps(event) + "\n"
                if event["event"] != "progress":
                    return
        return StreamingResponse(events(), media_type="application/x-ndjson")

    @app.delete("/zones/{name}")
    async def delete(name: str) -> dict[str, Any]:
        result = await deployer().delete(name)
        models().forget_zone(name)
        await controller.sync_routes()
        return result

    @app.get("/zones/{name}/status")
    async def status(name: str) -> dict[str, Any]:
        usage = models().usage(name)
        providers = {m: provider_of(models().config, m) for m in (usage.get("models") or {})}
        # which runtime runs the zone (the controller's: runtime_choice.py), unless the deployer says it
        return {"runtime": controller.runtime, **deployer().status(name), "usage": {**usage, "providers": providers}}

    @app.get("/models")
    async def list_models() -> dict[str, Any]:
        return {**models().list_models(), "gateway_url": models().url}

    @app.post("/models")
    async def add_model(request: Request) -> dict[str, Any]:
        body = await json_body(request)
        fields = {"url": str, "kind": str, "api_key_env": str, "api_key_value": str, "api_key_file": str,
                  "models": list, "default": bool}
        if not isinstance(body, dict) or not isinstance(body.get("name"), str):
            raise ConfigError("name: a provider name is required")
        for key, value in body.items():
            if key != "name" and (key not in fields or not (value is None or isinstance(value, fields[key]))):
                raise ConfigError(f"{key}: unknown field or wrong type ({value!r})" if key != "api_key_value"
                                  else "api_key_value: must be a string")
        kwargs = {k: v for k, v in body.items() if k != "name" and v is not None}
        return await models().add_model(body["name"], **kwargs)

    @app.delete("/models/{name}")
    async def remove_model(name: str) -> dict[str, Any]:
        return await models().remove_model(name)

    @app.post("/zones/{name}/repl")
    async def repl(name: str, request: Request) -> dict[str, Any]:
        body = await json_body(request)
        pod, clone = (body.get("pod"), body.get("clone", 0)) if isinstance(body, dict) else (None, None)
        if not (pod is None or isinstance(pod, str)) or not isinstance(clone, int) or clone < 0:
            raise ConfigError('zone repl: the body must be {"pod": <pod name> or null, "clone": <index from 0>}')
        runtime = deployer()
        if not isinstance(runtime, ReplTargets):
            raise ClusterError("this cluster's runtime does not offer `zone repl` (the local runtimes do)")
        return await open_repl(controller.home, runtime.repl_target(name, pod, clone), controller.spawn)

    @app.get("/zones/{name}/logs")
    async def logs(name: str, pod: str | None = None, container: str | None = None, follow: bool = False,
                   tail: int = 100) -> StreamingResponse:
        files = deployer().log_files(name, pod, container)

        def alive() -> bool:
            return follow and not controller.stopping and name in {z["zone"] for z in deployer().zones()}

        async def lines() -> AsyncIterator[str]:
            async for line in follow_logs(files, tail, alive):
                yield line + "\n"
        return StreamingResponse(lines(), media_type="text/plain; charset=utf-8")

    return app
