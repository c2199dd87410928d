"""The local cluster's controller: a daemon that owns the fabric and the zones.

    python -m autonomy.cluster.controller --home DIR

Started detached by :class:`~autonomy.cluster.client.ClusterClient` (or by the gateway daemon when the
previous controller died). At start it takes ``DIR/controller.lock`` (one controller per home), creates the
cluster identity if absent, kills processes a previous controller of this cluster left behind, sets up the
pod network (namespaces with a bridge, or the host network: ``AUTONOMY_NETWORK=namespace|host``, default
namespace when possible), starts the embedded NATS fabric (or adopts the one a killed controller left
running, :mod:`.fabric`), starts or adopts the **gateway daemon** (:mod:`.gateways`, :mod:`.gateways_link`:
the model gateway, the trace collector and the public gateway on the port stored at enroll in
``cluster.json``, see :mod:`.public_port`, in a process of their own that keeps serving while no controller
runs), the console (:mod:`.console_view`), and serves its API on ``DIR/controller.sock`` (mode 0600). The
socket answers only once all of that is up (the client's handshake); the controller then registers with
the gateway daemon (which restarts it if it dies; it restarts the daemon if that dies), and zones stored
in ``state.db`` are redeployed from their stored copies in the background; after that it pushes the
public routes to the daemon whenever they change. SIGTERM, SIGINT or ``POST /stop`` stop the gateway
daemon, every zone process, remove the namespaces, stop NATS, then close the socket and exit 0; zones
stay in the state.

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
import functools
import logging
import os
import signal
import socket
import sys
from collections.abc import Coroutine
from pathlib import Path
from typing import Any

from autonomy.cluster.api import build_app
from autonomy.cluster.backends import open_backend
from autonomy.cluster.console_view import serve_console
from autonomy.cluster.deployer import Backend, Deployer, DeployerSettings
from autonomy.cluster.fabric import ClusterFabric, start_fabric
from autonomy.cluster.fabric_watch import FabricWatch
from autonomy.cluster.gateways_link import GatewaysLink, LinkedModels, LinkedTraces
from autonomy.cluster.home_lock import exclusive
from autonomy.cluster.identity import ClusterIdentity, load_or_create_identity
from autonomy.cluster.owned_tasks import OwnedTasks
from autonomy.cluster.public_port import start_port
from autonomy.cluster.runtime_choice import backend_kind, controller_runtime
from autonomy.cluster.state import ClusterState
from autonomy.errors import AutonomyError, ClusterError
from autonomy.serving import ServedApp

__all__ = ["Controller", "main"]

log = logging.getLogger("autonomy.cluster")
ROUTES_INTERVAL = 0.25  # how often the controller compares the public routes with those it last pushed


class Controller:
    """Everything one controller process runs for the cluster in ``home``."""

    def __init__(self, home: Path) -> None:
        self.home = home
        self.identity: ClusterIdentity | None = None
        self.state: ClusterState | None = None
        self.fabric: ClusterFabric | None = None
        self.backend: Backend | None = None
        self.gateways: GatewaysLink | None = None
        self.models: LinkedModels | None = None
        self.deployer: Deployer | None = None
        self.fabric_watch: FabricWatch | None = None
        self.console: ServedApp | None = None
        self.traces: LinkedTraces | None = None
        self.runtime = "process"  # the runtime running the zones (runtime_choice.py), known at start
        self._stopping = asyncio.Event()
        self._restored = False
        self._routes: dict[str, Any] | None = None
        self._tasks = OwnedTasks()

    # --- life cycle ------------------------------------------------------------------------------
    async def run(self) -> None:
        """Start, serve until stopped, stop everything. Raises if the start fails (after cleaning up)."""
        with exclusive(self.home / "controller.lock", f"another controller is already running for {self.home}"):
            served: ServedApp | None = None
            try:
                await self._start()
                served = await ServedApp.start(build_app(self), self._bind_socket(), lifespan="off")
                loop = asyncio.get_running_loop()
                for sig in (signal.SIGTERM, signal.SIGINT):
                    loop.add_signal_handler(sig, self._stopping.set)
                assert self.gateways is not None
                self.gateways.ready(self.spawn)  # from now on the daemon restarts this controller if it dies
                self.spawn(self._restore_zones(), "restore zones")
                self.spawn(self._sync_routes_forever(), "public routes")
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
                if self.gateways is not None:
                    if self._stopping.is_set():  # a requested stop stops the gateways too
                        await self.gateways.stop()
                    else:  # a failed start: the daemon stops itself if no controller was ever ready
                        self.gateways.detach()
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
        self._seed_fabric_zones()
        # The public gateway, the model gateway and the trace collector run in the gateway daemon, which
        # outlives this process (gateways.py): adopted when it runs, else started.
        self.gateways = gateways = GatewaysLink(self.home, host, start_port(self.home))
        await gateways.connect()
        gateways.on_repaired = self._gateways_repaired
        self.models = LinkedModels(self.state, gateways)
        self.traces = LinkedTraces(gateways) if gateways.traces_url else None
        self.console, _ = await serve_console(self, self.home)
        port = gateways.public_port
        self.deployer = await backend.create_deployer(DeployerSettings(
            fabric_url=self.fabric.url, credentials_file=self.fabric.credentials_file,
            public_url_template=f"http://{{cluster}}-{{zone}}.localhost:{port}/", gateway_env=self._zone_env,
            gateway_url=self.models.url, fabric=self.fabric,
            service_urls=[self.traces.url] if self.traces is not None else []))
        log.info("cluster %s: network %s, fabric %s, model gateway %s, public gateway on 127.0.0.1:%d",
                 identity.id, backend.network, self.fabric.url, self.models.url, port)

    def _seed_fabric_zones(self) -> None:
        """Give the fabric the node names of every stored zone: an adopted NATS server serves their users
        already, and the next reload of its users (a deploy) must not drop the zones not yet redeployed."""
        from autonomy.zones.spec import ZoneSpec

        assert self.fabric is not None and self.state is not None and self.identity is not None
        for stored in self.state.zones():
            try:
                zone = ZoneSpec.model_validate(stored["spec"])
            except ValueError:  # its restore says why
                continue
            names = {n for pod in zone.pods for n in pod.node_names(self.identity.id, zone.name)}
            self.fabric.zones[zone.name] = tuple(sorted(names))

    def _zone_env(self, zone: str) -> dict[str, str]:
        """What node containers of ``zone`` get from the cluster: the model gateway, the trace collector."""
        assert self.models is not None
        return {**(self.traces.zone_env(zone) if self.traces else {}), **self.models.zone_env(zone)}

    async def sync_routes(self, force: bool = False) -> None:
        """Push the public routes and the zones' pod addresses to the gateway daemon when they changed.

        Until the stored zones are restored, only what runs is pushed, merged into what the daemon has: it
        keeps serving the routes it had for the others (a restarted controller must not turn a zone's URL
        into "not running" while it restores it); then the whole table replaces the daemon's."""
        if self.deployer is None or self.gateways is None:
            return
        deployer = self.deployer
        public: dict[str, Any] = {}
        sources: dict[str, Any] = {}
        for zone in [z["zone"] for z in deployer.zones()]:
            target = deployer.public_target(zone)
            addresses = deployer.zone_sources(zone)
            if self._restored or isinstance(target, tuple):
                public[zone] = list(target) if isinstance(target, tuple) else target
            if self._restored or addresses is None or addresses:
                sources[zone] = None if addresses is None else sorted(addresses)
        routes: dict[str, Any] = {"public": public, "sources": sources, "merge": not self._restored}
        if routes != self._routes or force:
            await asyncio.to_thread(self.gateways.push_routes, public, sources, not self._restored)
            self._routes = routes

    async def _gateways_repaired(self) -> None:
        """A new gateway daemon: its model gateway's URL (the same unless its port was taken), all routes."""
        assert self.models is not None and self.gateways is not None
        self.models.url = self.gateways.model_url
        await self.sync_routes(force=True)

    async def _sync_routes_forever(self) -> None:
        while True:
            try:
                await self.sync_routes()
            except ClusterError as exc:  # the daemon is being restarted: its repair pushes them again
                log.warning("could not push the public routes to the gateway daemon: %s", exc)
            await asyncio.sleep(ROUTES_INTERVAL)

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
        await self._tasks.cancel_all()
        if self.deployer is not None:
            await self.deployer.stop()
        if self.console is not None:
            await self.console.stop()
            with contextlib.suppress(FileNotFoundError):
                (self.home / "console.sock").unlink()
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
        return self._tasks.spawn(coro, name)

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
        self._restored = True

    # --- views -----------------------------------------------------------------------------------
    def show(self) -> dict[str, Any]:
        assert self.identity and self.fabric and self.gateways and self.deployer and self.models and self.backend
        port = self.gateways.public_port
        return {"id": self.identity.id, "kind": self.identity.kind, "created": self.identity.created,
                "fabric_url": self.fabric.url, "gateway_url": self.models.url,
                "models": [p.name for p in self.models.config.providers],
                "usage": self.models.usage_totals(),
                "public_url_template": f"http://{self.identity.id}-{{zone}}.localhost:{port}/",
                "public_port": port,
                "console_url": f"http://{self.identity.id}.localhost:{port}/",
                "console_path_url": f"http://127.0.0.1:{port}/",
                "pid": os.getpid(), "gateways": self.gateways.show(),
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
    logging.getLogger("httpx").setLevel(logging.WARNING)  # not a line per call to the other daemon
    try:
        asyncio.run(Controller(args.home.resolve()).run())
    except AutonomyError as exc:
        log.error("controller failed: %s", exc)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
