"""The cluster's gateway daemon: the public gateway, the model gateway and the trace collector in a process of
their own, which keeps serving while the controller is down (killed, crashed, restarting).

    python -m autonomy.cluster.gateways --home DIR --host ADDR --public-port N --controller-pid PID

Started detached (its own session, output appended to ``DIR/gateways.log``) by the controller
(:mod:`.gateways_link`), never by hand. One per home (``DIR/gateways.lock``). Decisions:

- **What it needs of the controller survives it.** The public routes (zone -> main pod address, or the
  message saying why not) and the addresses each zone's pods send from (a model-gateway key is accepted
  only from them) are pushed by the controller (``PUT /routes``) and kept in ``DIR/gateways/routes.json``
  (0600, written atomically), read again at a restart. The models config, the zone keys' digests, the
  trace keys' digests and the usage are in ``state.db`` (SQLite in WAL mode: both processes open it; the
  controller writes the settings, this daemon the usage and the trace keys). The model gateway and the
  trace collector keep their ports across restarts (``DIR/gateways/ports.json``): nodes keep their URLs.
- **Channel.** An HTTP API on the Unix socket ``DIR/gateways.sock`` (mode 0600, this user only): the
  controller pushes routes, asks for zones' trace keys, tells it to reload the model config and keys from
  ``state.db`` (with provider key values, ``{"env": {...}}``: they travel on the socket and live in this
  process's memory only, never in argv, logs or files).
- **The console** stays in the controller (``DIR/console.sock``); while the controller is down the public
  port answers the console's URLs with 503 saying so.
- **Who restarts the controller.** This daemon: it watches the controller's pid (a pidfd: an event, no
  polling) and, when a controller that was ready dies, starts a new one exactly as the CLI does
  (:class:`~.client.ClusterClient`, under ``DIR/client.lock``, so a CLI command at the same time waits for
  it instead of starting a second one), retrying with a backoff (0.5 s doubling to 10 s). A controller
  that dies before it was ever ready (a failed start) is not restarted: this daemon then stops too, so a
  failed start leaves nothing behind. The controller in turn restarts this daemon when it dies.
- **Repair.** The process started is a supervisor (:mod:`.fork_supervisor`) that imported the code and forks
  the daemon; a daemon killed or crashed is forked again at once (no interpreter start: its repair takes
  a fraction of a second), reads its routes and ports again, and the controller registers with it again.
  If the supervisor itself dies, the daemon dies with it and the controller starts a new one.
- **Version.** ``GET /health`` gives :func:`code_version` (a digest of the code it runs); a controller of
  another code version replaces the daemon instead of adopting it.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import errno
import hashlib
import json
import logging
import os
import signal
import socket
import sys
import time
from functools import lru_cache
from pathlib import Path
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from autonomy.cluster.fork_supervisor import supervise
from autonomy.cluster.gateway_spans import GatewayTracer, gateway_tracing_settings
from autonomy.cluster.home_lock import exclusive
from autonomy.cluster.identity import load_or_create_identity
from autonomy.cluster.model_gateway import ClusterModelGateway
from autonomy.cluster.owned_tasks import OwnedTasks
from autonomy.cluster.pid_process import PidProcess
from autonomy.cluster.public_gateway import PublicGateway
from autonomy.cluster.public_port import busy_message
from autonomy.cluster.state import ClusterState
from autonomy.cluster.trace_collector import TraceCollector
from autonomy.cluster.trace_collector import available as traces_available
from autonomy.errors import AutonomyError, ClusterError
from autonomy.serving import ServedApp

__all__ = ["GatewayDaemon", "code_version", "main", "SOCKET", "LOG"]

log = logging.getLogger("autonomy.cluster")

SOCKET = "gateways.sock"
LOG = "gateways.log"
# The code the daemon runs: a controller of another version replaces it.
_CODE = ("gateways.py", "public_gateway.py", "model_gateway.py", "trace_collector.py", "request_heads.py",
         "gateway_routes.py", "response_frames.py", "gateway_spans.py", "state.py", "pid_process.py",
         "fork_supervisor.py")


@lru_cache(maxsize=1)
def code_version() -> str:
    """A digest of this daemon's code (its modules and the gateway package) and of the interpreter."""
    digest = hashlib.sha256(sys.executable.encode())
    here = Path(__file__).parent
    files = [here / name for name in _CODE] + sorted((here.parent / "gateway").glob("*.py"))
    for path in files:
        with contextlib.suppress(OSError):
            digest.update(path.name.encode() + b"\0" + path.read_bytes())
    return digest.hexdigest()[:16]


def write_private(path: Path, text: str) -> None:
    """Write ``text`` to ``path`` atomically, mode 0600."""
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as f:
        f.write(text)
    os.replace(tmp, path)


def _read_json(path: Path) -> dict[str, Any]:
    try:
        data = json.loads(path.read_text())
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


class GatewayDaemon:
    """The gateways of the cluster in ``home``, served until :meth:`stop`."""

    def __init__(self, home: Path, host: str, public_port: int, controller_pid: int | None = None,
                 controller_ready: bool = False) -> None:
        self.home = home
        self.host = host
        self.public_port = public_port
        self.dir = home / "gateways"
        self.state: ClusterState | None = None
        self.models: ClusterModelGateway | None = None
        self.traces: TraceCollector | None = None
        self.gateway: PublicGateway | None = None
        self.public: dict[str, Any] = {}  # zone -> [host, port] or the reason it is not served
        self.sources: dict[str, list[str] | None] = {}  # zone -> its pods' addresses (None: not told apart)
        self.controller_pid = controller_pid
        self.controller_ready = False  # the watched controller said it was ready (a failed start is not restarted)
        self._controller_ready_at_start = controller_ready
        self.controller_restarts = 0
        self.last_controller_repair: float | None = None
        self._controller: PidProcess | None = None
        self._died_at: float | None = None
        self._stopping = asyncio.Event()
        self._tasks = OwnedTasks()

    # --- life cycle ------------------------------------------------------------------------------
    async def run(self) -> None:
        self.dir.mkdir(parents=True, exist_ok=True, mode=0o700)
        with exclusive(self.home / "gateways.lock", f"another gateway daemon is already running for {self.home}"):
            served: ServedApp | None = None
            try:
                await self._start()
                served = await ServedApp.start(self._app(), _bind_unix(self.home / SOCKET), lifespan="off")
                loop = asyncio.get_running_loop()
                for sig in (signal.SIGTERM, signal.SIGINT):
                    loop.add_signal_handler(sig, self._stopping.set)
                if self.controller_pid is not None:
                    self._watch(self.controller_pid, ready=self._controller_ready_at_start)
                log.info("gateway daemon %s ready: public port %d, model gateway %s", code_version(),
                         self.public_port, self.models.url if self.models else "-")
                await self._stopping.wait()
                log.info("gateway daemon stopping")
            finally:
                if served is not None:
                    await served.stop()
                with contextlib.suppress(FileNotFoundError):
                    (self.home / SOCKET).unlink()
                await self._shutdown()
            log.info("gateway daemon stopped")

    async def _start(self) -> None:
        identity = load_or_create_identity(self.home)
        self.state = state = ClusterState(self.home / "state.db")
        ports = _read_json(self.dir / "ports.json")
        same_host = ports.get("host") == self.host
        self.models = ClusterModelGateway(state)
        self.models.zone_sources = self._zone_sources
        await _start_on(lambda port: self.models.start(self.host, port),
                        ports.get("model_port", 0) if same_host else 0, "model gateway")
        if traces_available():
            self.traces = TraceCollector()
            with contextlib.suppress(ValueError):
                self.traces.load_keys(state.get_setting("trace_keys") or "{}")
            self.traces.on_keys = lambda text: state.set_setting("trace_keys", text)
            await _start_on(lambda port: self.traces.start(self.host, port),
                            ports.get("traces_port", 0) if same_host else 0, "trace collector")
        routes = _read_json(self.dir / "routes.json")
        self.public, self.sources = dict(routes.get("public") or {}), dict(routes.get("sources") or {})
        self.gateway = PublicGateway(identity.id, self._resolve, port=self.public_port,
                                     console_socket=self.home / "console.sock")
        traced, keep_parent = gateway_tracing_settings()
        if self.traces is not None and traced:
            self.gateway.tracer = GatewayTracer(self.traces.record, keep_parent)
        try:
            self.public_port = await self.gateway.start()
        except OSError as exc:
            if exc.errno in (errno.EADDRINUSE, errno.EACCES):
                raise ClusterError(busy_message(self.public_port)) from exc
            raise
        write_private(self.dir / "ports.json", json.dumps({
            "host": self.host, "model_port": _port(self.models.url),
            "traces_port": _port(self.traces.url) if self.traces else 0, "public_port": self.public_port}))

    async def _shutdown(self) -> None:
        await self._tasks.cancel_all()
        self._unwatch()
        if self.gateway is not None:
            await self.gateway.stop()
            if self.gateway.tracer is not None:
                self.gateway.tracer.shutdown()
        if self.models is not None:
            await self.models.stop()
        if self.traces is not None:
            await self.traces.stop()
        if self.state is not None:
            self.state.close()

    def _spawn(self, coro: Any, name: str) -> None:
        self._tasks.spawn(coro, name)

    # --- routes ----------------------------------------------------------------------------------
    def _resolve(self, zone: str) -> tuple[str, int] | str:
        target = self.public.get(zone)
        if target is None:
            return f"no zone {zone!r} is running in this cluster"
        if isinstance(target, list) and len(target) == 2:
            return str(target[0]), int(target[1])
        return str(target)

    def _zone_sources(self, zone: str) -> set[str] | None:
        if zone not in self.sources:
            return set()
        addresses = self.sources[zone]
        return None if addresses is None else set(addresses)

    def set_routes(self, public: dict[str, Any], sources: dict[str, Any]) -> None:
        self.public, self.sources = public, sources
        write_private(self.dir / "routes.json", json.dumps({"public": public, "sources": sources}))

    # --- the model gateway's config and keys -----------------------------------------------------
    async def reload(self, env: dict[str, str]) -> None:
        """Read the models config and the zone keys again from state.db (the controller changed them)."""
        assert self.models is not None and self.state is not None
        for name, value in env.items():
            os.environ[name] = value
        await self.models.reload()

    # --- the controller --------------------------------------------------------------------------
    def _watch(self, pid: int, ready: bool) -> None:
        self._unwatch()
        self.controller_pid, self.controller_ready = pid, ready
        try:
            self._controller = PidProcess(pid)
        except ProcessLookupError:
            self._controller_exited()
            return
        asyncio.get_running_loop().add_reader(self._controller.fd, self._controller_exited)
        if self._died_at is not None and ready:  # counted here: before the new controller answers anyone
            self.last_controller_repair = time.monotonic() - self._died_at
            self.controller_restarts += 1
            self._died_at = None
            log.warning("the controller is back (pid %d) %.2f s after it died", pid, self.last_controller_repair)

    def _unwatch(self) -> None:
        if self._controller is not None:
            asyncio.get_running_loop().remove_reader(self._controller.fd)
            self._controller.close()
            self._controller = None

    def _controller_exited(self) -> None:
        self._unwatch()
        if self._stopping.is_set():
            return
        if not self.controller_ready:
            log.error("the controller (pid %s) exited before it was ready: the gateway daemon stops too",
                      self.controller_pid)
            self._stopping.set()
            return
        self._died_at = time.monotonic()
        log.error("the controller (pid %s) died: starting a new one", self.controller_pid)
        self._spawn(self._restart_controller(), "restarting the controller")

    async def _restart_controller(self) -> None:
        from autonomy.cluster.client import ClusterClient

        backoff = 0.5
        client = ClusterClient(self.home, start_timeout=60.0)
        while not self._stopping.is_set():
            try:
                await asyncio.to_thread(client._ensure_controller, create=False)
                return
            except AutonomyError as exc:
                log.error("restarting the controller failed (retry in %g s): %s", backoff, exc)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._stopping.wait(), backoff)
            backoff = min(backoff * 2, 10.0)

    # --- API -------------------------------------------------------------------------------------
    def health(self) -> dict[str, Any]:
        return {"version": code_version(), "pid": os.getpid(), "supervisor_pid": os.getppid(), "host": self.host,
                "public_port": self.public_port,
                "model_url": self.models.url if self.models else "",
                "traces_url": self.traces.url if self.traces else "",
                "controller_pid": self.controller_pid, "controller_restarts": self.controller_restarts,
                "last_controller_repair_seconds": self.last_controller_repair}

    def _app(self) -> Starlette:
        async def body(request: Request) -> dict[str, Any]:
            try:
                data = await request.json()
            except (ValueError, RecursionError):
                raise ClusterError("the request body must be a JSON object") from None
            if not isinstance(data, dict):
                raise ClusterError("the request body must be a JSON object")
            return data

        async def health(request: Request) -> JSONResponse:
            return JSONResponse(self.health())

        async def controller(request: Request) -> JSONResponse:
            data = await body(request)
            if not isinstance(data.get("pid"), int):
                raise ClusterError("pid: the controller's process id (an integer) is required")
            self._watch(data["pid"], ready=True)
            write_private(self.dir / "controller.json", json.dumps({"pid": data["pid"]}))
            return JSONResponse(self.health())

        async def routes(request: Request) -> JSONResponse:
            data = await body(request)
            public, sources = data.get("public"), data.get("sources")
            if not isinstance(public, dict) or not isinstance(sources, dict):
                raise ClusterError("public, sources: JSON objects of zone -> target and zone -> addresses")
            if data.get("merge"):
                public, sources = {**self.public, **public}, {**self.sources, **sources}
            self.set_routes(public, sources)
            return JSONResponse({"zones": len(public)})

        async def reload(request: Request) -> JSONResponse:
            env = (await body(request)).get("env") or {}
            if not isinstance(env, dict) or not all(isinstance(v, str) for v in env.values()):
                raise ClusterError("env: a JSON object of variable -> string value")
            await self.reload({str(k): v for k, v in env.items()})
            return JSONResponse({"reloaded": True})

        async def flush(request: Request) -> JSONResponse:
            if self.models is not None:
                self.models.flush()
            return JSONResponse({"flushed": True})

        async def zone_traces_env(request: Request) -> JSONResponse:
            zone = request.path_params["zone"]
            return JSONResponse(self.traces.zone_env(zone) if self.traces else {})

        async def zone_traces(request: Request) -> JSONResponse:
            zone = request.path_params["zone"]
            return JSONResponse({"traces": self.traces.traces(zone) if self.traces else None})

        async def forget(request: Request) -> JSONResponse:
            zone = request.path_params["zone"]
            if self.traces is not None:
                self.traces.forget_zone(zone)
            if self.models is not None:
                self.models.forget_usage(zone)
            self.public.pop(zone, None)
            return JSONResponse({"forgotten": zone})

        async def stop(request: Request) -> JSONResponse:
            self._stopping.set()
            return JSONResponse({"stopping": True})

        async def refused(request: Request, exc: Exception) -> JSONResponse:
            status = exc.http_status if isinstance(exc, AutonomyError) else 500
            return JSONResponse({"message": str(exc)}, status_code=status)

        return Starlette(routes=[
            Route("/health", health), Route("/controller", controller, methods=["POST"]),
            Route("/routes", routes, methods=["PUT"]), Route("/reload", reload, methods=["POST"]),
            Route("/flush", flush, methods=["POST"]), Route("/stop", stop, methods=["POST"]),
            Route("/zones/{zone}/traces", zone_traces), Route("/zones/{zone}/traces", zone_traces_env,
                                                                 methods=["POST"]),
            Route("/zones/{zone}", forget, methods=["DELETE"]),
        ], exception_handlers={AutonomyError: refused})


async def _start_on(start: Any, port: int, what: str) -> None:
    """``start(port)``; the port a previous daemon had may be taken meanwhile: then a free one (nodes
    deployed before then reach it again at their next deploy)."""
    try:
        await start(port)
    except (OSError, AutonomyError) as exc:
        if not port:
            raise
        log.error("the %s cannot take its previous port %d again (%s): it takes a free one", what, port, exc)
        await start(0)


def _port(url: str) -> int:
    return int(url.rstrip("/").rsplit(":", 1)[1])


def _bind_unix(path: Path) -> socket.socket:
    with contextlib.suppress(FileNotFoundError):
        path.unlink()
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    old = os.umask(0o177)  # created 0600: only this user may drive the gateways
    try:
        sock.bind(str(path))
    finally:
        os.umask(old)
    os.chmod(path, 0o600)
    sock.listen(64)
    sock.setblocking(False)
    return sock


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m autonomy.cluster.gateways")
    parser.add_argument("--home", required=True, type=Path, help="the cluster's AUTONOMY_HOME")
    parser.add_argument("--host", required=True, help="the address pods reach the host on")
    parser.add_argument("--public-port", required=True, type=int, help="the public gateway's port")
    parser.add_argument("--controller-pid", type=int, default=None, help="the controller that starts this daemon")
    args = parser.parse_args(argv)
    logging.basicConfig(level=os.environ.get("AUTONOMY_LOG_LEVEL", "INFO").upper(), stream=sys.stdout,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    logging.getLogger("httpx").setLevel(logging.WARNING)  # not a line per call to the other daemon
    home = args.home.resolve()

    def serve(generation: int) -> int:
        # A daemon forked again after a crash watches the controller that last registered (it was ready).
        pid, ready, port = args.controller_pid, False, args.public_port
        if generation:
            pid, ready = _read_json(home / "gateways" / "controller.json").get("pid"), True
            port = port or int(_read_json(home / "gateways" / "ports.json").get("public_port") or 0)  # same URLs
        try:
            asyncio.run(GatewayDaemon(home, args.host, port, pid, ready).run())
        except AutonomyError as exc:
            log.error("gateway daemon failed: %s", exc)
            print(f"error: {exc}", file=sys.stderr, flush=True)
            return 1
        return 0
    return supervise(serve)  # a crashed daemon is forked again at once, its code already imported


if __name__ == "__main__":
    sys.exit(main())
