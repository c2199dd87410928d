"""The local cluster's controller: a daemon that owns the fabric, the zones and the public gateway.

    python -m autonomy.cluster.controller --home DIR

Started detached by :class:`~autonomy.cluster.client.ClusterClient`. At start it takes
``DIR/controller.lock`` (one controller per home), creates the cluster identity if absent, kills
processes a previous controller of this cluster left behind, sets up the pod network (namespaces with a
bridge, or the host network: ``AUTONOMY_NETWORK=namespace|host``, default namespace when possible),
starts the embedded NATS fabric, the model gateway (:mod:`.model_gateway`: a free port on the address
pods reach the host on; the embedded model is loaded at its first request, not here), the public gateway
(the port stored at enroll in ``cluster.json``, see :mod:`.public_port`), the console
(:mod:`.console_view`), and serves its API on ``DIR/controller.sock`` (mode 0600). The socket answers
only once all of that is up (the client's handshake); zones stored in
``state.db`` are then redeployed from their stored copies in the background. SIGTERM, SIGINT or
``POST /stop`` stop every zone process, remove the namespaces, stop the gateways and NATS, then close
the socket and exit 0; zones stay in the state.

API (HTTP+JSON on the socket, :mod:`.api`): ``GET /health``, ``GET /cluster``, ``POST /stop``, ``GET /zones``,
``POST /zones`` (deploy: JSON lines of progress events), ``DELETE /zones/{name}``,
``GET /zones/{name}/status``, ``GET /zones/{name}/logs?pod=&container=&follow=&tail=``, ``GET /models``,
``POST /models``, ``DELETE /models/{name}``. Errors are
``{"message": ...}`` with status 400 (refused) or 500 (failed).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import errno
import fcntl
import functools
import logging
import os
import signal
import socket
import sys
from collections.abc import Coroutine, Iterator
from pathlib import Path
from typing import Any

from autonomy.cluster.api import build_app
from autonomy.cluster.backends import open_backend
from autonomy.cluster.console_view import serve_console
from autonomy.cluster.deployer import Backend, Deployer, DeployerSettings
from autonomy.cluster.fabric import ClusterFabric, start_fabric
from autonomy.cluster.fabric_watch import FabricWatch
from autonomy.cluster.gateway_spans import GatewayTracer, gateway_tracing_settings
from autonomy.cluster.identity import ClusterIdentity, load_or_create_identity
from autonomy.cluster.model_gateway import ClusterModelGateway
from autonomy.cluster.public_gateway import PublicGateway
from autonomy.cluster.public_port import busy_message, start_port
from autonomy.cluster.runtime_choice import backend_kind, controller_runtime
from autonomy.cluster.state import ClusterState
from autonomy.cluster.trace_collector import TraceCollector
from autonomy.cluster.trace_collector import available as traces_available
from autonomy.errors import AutonomyError, ClusterError
from autonomy.serving import ServedApp

__all__ = ["Controller", "main"]

log = logging.getLogger("autonomy.cluster")


class Controller:
    """Everything one controller process runs for the cluster in ``home``."""

    def __init__(self, home: Path) -> None:
        self.home = home
        self.identity: ClusterIdentity | None = None
        self.state: ClusterState | None = None
        self.fabric: ClusterFabric | None = None
        self.backend: Backend | None = None
        self.gateway: PublicGateway | None = None
        self.models: ClusterModelGateway | None = None
        self.deployer: Deployer | None = None
        self.fabric_watch: FabricWatch | None = None
        self.console: ServedApp | None = None
        self.traces: TraceCollector | None = None
        self.runtime = "process"  # the runtime running the zones (runtime_choice.py), known at start
        self._stopping = asyncio.Event()
        self._tasks: set[asyncio.Task[Any]] = set()

    # --- life cycle ------------------------------------------------------------------------------
    @contextlib.contextmanager
    def _exclusive(self) -> Iterator[None]:
        self.home.mkdir(parents=True, exist_ok=True, mode=0o700)
        with open(self.home / "controller.lock", "a+") as lock:
            try:
                fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError as exc:
                raise ClusterError(f"another controller is already running for {self.home}") from exc
            yield

    async def run(self) -> None:
        """Start, serve until stopped, stop everything. Raises if the start fails (after cleaning up)."""
        with self._exclusive():
            served: ServedApp | None = None
            try:
                await self._start()
                served = await ServedApp.start(build_app(self), self._bind_socket(), lifespan="off")
                loop = asyncio.get_running_loop()
                for sig in (signal.SIGTERM, signal.SIGINT):
                    loop.add_signal_handler(sig, self._stopping.set)
                self.spawn(self._restore_zones(), "restore zones")
                if self.fabric is not None:  # a crashed NATS server is restarted on its port (fabric_watch.py)
                    self.fabric_watch = FabricWatch(self.fabric.server)
                    if self.deployer is not None:
                        self.deployer.fabric_problem = self.fabric_watch.problem
                    self.spawn(self.fabric_watch.run(), "fabric watch")
                log.info("controller of cluster %s ready on %s", self.identity.id if self.identity else "?",
                         self.home / "controller.sock")
                await self._stopping.wait()
                log.info("stopping")
            finally:
                await self._shutdown()
                if served is not None:
                    await served.stop()
            with contextlib.suppress(FileNotFoundError):
                (self.home / "controller.sock").unlink()
            log.info("stopped")

    async def _start(self) -> None:
        self.identity = identity = load_or_create_identity(self.home)
        self.state = ClusterState(self.home / "state.db")
        self.runtime = controller_runtime(self.home)  # stored at enroll, AUTONOMY_RUNTIME overrides it
        self.backend = backend = open_backend(backend_kind(self.runtime), self.home, identity.id, self.state)
        host = await backend.prepare()  # where pods reach the fabric and the model gateway
        self.fabric = await asyncio.to_thread(start_fabric, self.home, identity.id, host)
        self.models = ClusterModelGateway(self.state)
        self.models.zone_sources = lambda zone: self.deployer.zone_sources(zone) if self.deployer else set()
        await self.models.start(host)
        if traces_available():
            self.traces = TraceCollector()
            await self.traces.start(host)
        self.console, console_socket = await serve_console(self, self.home)
        port = start_port(self.home)
        self.gateway = PublicGateway(identity.id, self._public_target, port=port, console_socket=console_socket)
        traced, keep_parent = gateway_tracing_settings()
        if self.traces is not None and traced:  # the gateway's spans, the roots of zone traces (docs/traces.md)
            self.gateway.tracer = GatewayTracer(self.traces.record, keep_parent)
        try:
            port = await self.gateway.start()
        except OSError as exc:
            if exc.errno in (errno.EADDRINUSE, errno.EACCES):
                raise ClusterError(busy_message(port)) from exc
            raise
        self.deployer = await backend.create_deployer(DeployerSettings(
            fabric_url=self.fabric.url, credentials_file=self.fabric.credentials_file,
            public_url_template=f"http://{{cluster}}-{{zone}}.localhost:{port}/", gateway_env=self._zone_env,
            gateway_url=self.models.url, fabric=self.fabric,
            service_urls=[self.traces.url] if self.traces is not None else []))
        log.info("cluster %s: network %s, fabric %s, model gateway %s, public gateway on 127.0.0.1:%d",
                 identity.id, backend.network, self.fabric.url, self.models.url, port)

    def _zone_env(self, zone: str) -> dict[str, str]:
        """What node containers of ``zone`` get from the cluster: the model gateway, the trace collector."""
        assert self.models is not None
        return {**(self.traces.zone_env(zone) if self.traces else {}), **self.models.zone_env(zone)}

    def _public_target(self, zone: str) -> tuple[str, int] | str:
        if self.deployer is None:
            return "the cluster is starting"
        return self.deployer.public_target(zone)

    def _bind_socket(self) -> socket.socket:
        path = self.home / "controller.sock"
        with contextlib.suppress(FileNotFoundError):
            path.unlink()
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        old = os.umask(0o177)  # the socket is created 0600: only this user may drive the cluster
        try:
            sock.bind(str(path))
        finally:
            os.umask(old)
        os.chmod(path, 0o600)
        sock.listen(64)
        sock.setblocking(False)
        return sock

    async def _shutdown(self) -> None:
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        if self.deployer is not None:
            await self.deployer.stop()
        if self.gateway is not None:
            await self.gateway.stop()
            if self.gateway.tracer is not None:
                self.gateway.tracer.shutdown()
        if self.console is not None:
            await self.console.stop()
            with contextlib.suppress(FileNotFoundError):
                (self.home / "console.sock").unlink()
        if self.models is not None:
            await self.models.stop()
        if self.traces is not None:
            await self.traces.stop()
        if self.fabric is not None:
            await asyncio.to_thread(self.fabric.stop)
        if self.backend is not None:
            await self.backend.close()
        if self.state is not None:
            self.state.close()

    def stop(self) -> None:
        """Ask the controller to stop (``run`` then stops everything and returns)."""
        self._stopping.set()

    @property
    def stopping(self) -> bool:
        return self._stopping.is_set()

    def spawn(self, coro: Coroutine[Any, Any, Any], name: str) -> asyncio.Task[Any]:
        """Run ``coro`` as a task owned by the controller: its failure is logged, shutdown cancels it."""
        task = asyncio.ensure_future(coro)
        self._tasks.add(task)

        def done(t: asyncio.Task[Any]) -> None:
            self._tasks.discard(t)
            if not t.cancelled() and t.exception() is not None:
                log.error("%s failed: %s", name, t.exception(), exc_info=t.exception())
        task.add_done_callback(done)
        return task

    async def _restore_zones(self) -> None:
        from autonomy.zones.spec import ZoneSpec

        assert self.state is not None and self.deployer is not None and self.backend is not None
        for stored in self.state.zones():
            name = stored["name"]
            try:
                zone = ZoneSpec.model_validate(stored["spec"])
                secrets = self.backend.stored_secrets(name)
                await self.deployer.deploy(zone, secrets, Path(stored["source_dir"]),
                                           functools.partial(_log_restore_step, name),
                                           restore=True)
                log.info("zone %s restored", name)
            except AutonomyError as exc:
                log.error("zone %s could not be restored: %s", name, exc)
            except Exception as exc:  # one zone's broken files (secrets.json, spec) must not keep the others down
                log.error("zone %s could not be restored: %r", name, exc, exc_info=exc)

    # --- views -----------------------------------------------------------------------------------
    def show(self) -> dict[str, Any]:
        assert self.identity and self.fabric and self.gateway and self.deployer and self.models and self.backend
        return {"id": self.identity.id, "kind": self.identity.kind, "created": self.identity.created,
                "fabric_url": self.fabric.url, "gateway_url": self.models.url,
                "models": [p.name for p in self.models.config.providers],
                "usage": self.models.usage_totals(),
                "public_url_template": f"http://{self.identity.id}-{{zone}}.localhost:{self.gateway.port}/",
                "public_port": self.gateway.port,
                "console_url": f"http://{self.identity.id}.localhost:{self.gateway.port}/",
                "console_path_url": f"http://127.0.0.1:{self.gateway.port}/",
                "network": self.backend.network, "runtime": self.runtime, "home": str(self.home),
                "fabric": {"pid": self.fabric.server.pid, "restarts": self.fabric_watch.restarts if self.fabric_watch
                           else 0, "problem": self.fabric_watch.problem() if self.fabric_watch else None},
                "isolation": self.backend.isolation,
                "cgroups": self.backend.limits,
                "zones": self.deployer.zones()}


def _log_restore_step(name: str, step: str, detail: str) -> None:
    log.info("restore %s: %s: %s", name, step, detail)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m autonomy.cluster.controller")
    parser.add_argument("--home", required=True, type=Path, help="the cluster's AUTONOMY_HOME")
    args = parser.parse_args(argv)
    logging.basicConfig(level=os.environ.get("AUTONOMY_LOG_LEVEL", "INFO").upper(), stream=sys.stdout,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    try:
        asyncio.run(Controller(args.home.resolve()).run())
    except AutonomyError as exc:
        log.error("controller failed: %s", exc)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
