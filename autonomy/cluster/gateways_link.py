"""The controller's side of the gateway daemon (:mod:`.gateways`): start or adopt it, supervise it, talk to it.

At start the controller asks ``DIR/gateways.sock`` for ``/health``: a daemon of the same code version
(:func:`~.gateways.code_version`), address and public port is adopted (it kept serving while no controller
ran); any other is stopped and replaced. A new one is started detached (a short-lived shell in a new
session, like the CLI starts the controller; output appended to ``DIR/gateways.log``) and waited for
(handshake: its socket answers, with a deadline; a daemon that exits meanwhile fails the start with the
tail of its log). The process started is a supervisor that forks the daemon again at once when it dies
(:mod:`.fork_supervisor`): the controller then waits for that one and adopts it, and starts a new daemon
only when the supervisor is gone too. Once ready, the controller registers its pid (``POST /controller``):
from then on the daemon restarts the controller if it dies, and the controller restarts the daemon if *it* dies (a pidfd
watch, :class:`~.pid_process.PidProcess`; the new daemon takes the same ports and routes).

:class:`LinkedModels` is the model gateway as the controller sees it: config, keys and usage in
``state.db`` (as before), served by the daemon, told to reload after each change. :class:`LinkedTraces`
asks the daemon's trace collector for zones' keys and traces.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import subprocess
import sys
import time
from collections.abc import Callable, Coroutine
from pathlib import Path
from typing import Any
from urllib.parse import quote

import httpx

from autonomy.cluster.gateways import LOG, SOCKET, code_version
from autonomy.cluster.model_gateway import ClusterModelGateway
from autonomy.cluster.pid_process import PidProcess, alive, wait_gone
from autonomy.cluster.state import ClusterState
from autonomy.cluster.unix_http import get_json
from autonomy.errors import ClusterError, ClusterUnavailable

__all__ = ["GatewaysLink", "LinkedModels", "LinkedTraces", "daemon_health", "stop_daemon"]

log = logging.getLogger("autonomy.cluster")

START_TIMEOUT = 30.0
REFORK_TIMEOUT = 5.0  # how long a dead daemon's supervisor gets to fork it again before a new one is started
CALL_TIMEOUT = 10.0


def _client(home: Path, timeout: float) -> httpx.Client:
    return httpx.Client(transport=httpx.HTTPTransport(uds=str(home / SOCKET)), base_url="http://gateways",
                        timeout=timeout)


def daemon_health(home: Path, timeout: float = 5.0) -> dict[str, Any] | None:
    """The ``/health`` of the gateway daemon of ``home``, or None when none answers."""
    answer = get_json(home / SOCKET, "/health", timeout)
    return answer[1] if answer is not None and answer[0] == 200 and isinstance(answer[1], dict) else None


def stop_daemon(home: Path, timeout: float = 15.0) -> bool:
    """Stop the gateway daemon of ``home`` if one answers; True once it has exited."""
    health = daemon_health(home)
    if health is None:
        return False
    with contextlib.suppress(httpx.HTTPError), _client(home, CALL_TIMEOUT) as http:
        http.post("/stop")
    if not wait_gone(int(health["pid"]), timeout):
        raise ClusterError(f"the gateway daemon (pid {health['pid']}) did not exit within {timeout:g} s of being "
                           f"asked to stop. See {home / LOG}")
    return True


class GatewaysLink:
    """The gateway daemon of the cluster in ``home``, serving ``public_port`` and pods' ``host``."""

    def __init__(self, home: Path, host: str, public_port: int) -> None:
        self.home = home
        self.host = host
        self.public_port = public_port
        self.health: dict[str, Any] = {}
        self.restarts = 0
        self.last_repair_seconds: float | None = None
        self.on_repaired: Callable[[], Coroutine[Any, Any, None]] | None = None
        self._process: PidProcess | None = None
        self._stopping = False
        self._spawn_task: Callable[[Coroutine[Any, Any, Any], str], Any] | None = None

    @property
    def pid(self) -> int:
        return int(self.health["pid"])

    @property
    def model_url(self) -> str:
        return str(self.health["model_url"])

    @property
    def traces_url(self) -> str:
        return str(self.health.get("traces_url") or "")

    # --- start, adopt, stop ----------------------------------------------------------------------
    async def connect(self) -> None:
        """Adopt the running daemon when it fits, else (re)start one; returns once it answers."""
        health = await asyncio.to_thread(daemon_health, self.home)
        if health is not None:
            fits = (health.get("version") == code_version() and health.get("host") == self.host
                    and (self.public_port == 0 or health.get("public_port") == self.public_port))
            if fits:
                self.health = health
                self.public_port = int(health["public_port"])
                log.info("adopted the running gateway daemon (pid %s)", health["pid"])
                return
            log.warning("replacing the gateway daemon (pid %s): version %s, %s:%s (wanted %s, %s:%s)",
                        health.get("pid"), health.get("version"), health.get("host"), health.get("public_port"),
                        code_version(), self.host, self.public_port)
            await asyncio.to_thread(stop_daemon, self.home)
        await self._start_daemon()

    async def _start_daemon(self) -> None:
        argv = [sys.executable, "-m", "autonomy.cluster.gateways", "--home", str(self.home), "--host", self.host,
                "--public-port", str(self.public_port), "--controller-pid", str(os.getpid())]
        log_path = self.home / LOG
        launcher = await asyncio.to_thread(
            subprocess.run, ["/bin/sh", "-c", '"$@" </dev/null >>"$LOG" 2>&1 & echo $!', "sh", *argv],
            env={**os.environ, "LOG": str(log_path)}, capture_output=True, text=True, start_new_session=True,
            check=False)
        if launcher.returncode != 0 or not launcher.stdout.strip().isdigit():
            raise ClusterError(f"could not start the gateway daemon: {launcher.stderr.strip()}")
        pid = int(launcher.stdout.strip())
        try:
            process = PidProcess(pid)
        except ProcessLookupError:
            raise ClusterError(f"the gateway daemon exited at once. See {log_path}:\n{_tail(log_path)}") from None
        try:
            deadline = time.monotonic() + START_TIMEOUT
            while time.monotonic() < deadline:
                health = await asyncio.to_thread(daemon_health, self.home)
                if health is not None and health.get("supervisor_pid") == pid:  # the daemon it forked
                    self.health = health
                    self.public_port = int(health["public_port"])
                    return
                if process.poll() is not None:
                    raise ClusterError(f"the gateway daemon exited while starting: {_last_error(log_path)}. "
                                       f"See {log_path}")
                await asyncio.sleep(0.05)  # another process's socket: there is no event to wait on
            process.kill()
            raise ClusterError(f"the gateway daemon did not answer within {START_TIMEOUT:g} s. See {log_path}:\n"
                               f"{_tail(log_path)}")
        finally:
            process.close()

    def ready(self, spawn: Callable[[Coroutine[Any, Any, Any], str], Any]) -> None:
        """The controller is ready: register it with the daemon (which from now on restarts it if it dies)
        and watch the daemon (restarted if it dies). ``spawn`` runs the repair as a controller task."""
        self._spawn_task = spawn
        self.call("POST", "/controller", json={"pid": os.getpid()})
        self._watch()

    def _watch(self) -> None:
        try:
            self._process = PidProcess(self.pid)
        except ProcessLookupError:
            self._exited()
            return
        asyncio.get_running_loop().add_reader(self._process.fd, self._exited)

    def _unwatch(self) -> None:
        if self._process is not None:
            with contextlib.suppress(RuntimeError):
                asyncio.get_running_loop().remove_reader(self._process.fd)
            self._process.close()
            self._process = None

    def _exited(self) -> None:
        self._unwatch()
        if self._stopping or self._spawn_task is None:
            return
        log.error("the gateway daemon (pid %s) died: starting a new one", self.health.get("pid"))
        self._spawn_task(self._repair(time.monotonic()), "restarting the gateway daemon")

    async def _repair(self, died_at: float) -> None:
        backoff = 0.5
        old = dict(self.health)
        while not self._stopping:
            try:
                await self._refork(old)
                await self.connect()  # adopts the daemon forked again, else starts a new one
                self.call("POST", "/controller", json={"pid": os.getpid()})
                if self.on_repaired is not None:
                    await self.on_repaired()
            except ClusterError as exc:
                log.error("restarting the gateway daemon failed (retry in %g s): %s", backoff, exc)
                await asyncio.sleep(backoff)
                backoff = min(backoff * 2, 10.0)
                continue
            self.restarts += 1
            self.last_repair_seconds = time.monotonic() - died_at
            log.warning("the gateway daemon is back (pid %s) %.2f s after it died", self.pid,
                        self.last_repair_seconds)
            self._watch()
            return

    async def _refork(self, old: dict[str, Any]) -> None:
        """Wait (a few seconds at most) for the daemon's supervisor to fork it again, while the supervisor lives."""
        supervisor = old.get("supervisor_pid")
        deadline = time.monotonic() + REFORK_TIMEOUT
        while time.monotonic() < deadline and isinstance(supervisor, int) and alive(supervisor):
            health = await asyncio.to_thread(daemon_health, self.home, 1.0)
            if health is not None and health.get("pid") != old.get("pid"):
                return
            await asyncio.sleep(0.02)  # another process's socket: there is no event to wait on

    async def stop(self) -> None:
        """Stop the daemon (``cluster stop``) and wait for it to exit."""
        self._stopping = True
        self._unwatch()
        await asyncio.to_thread(stop_daemon, self.home)
        with contextlib.suppress(FileNotFoundError):
            (self.home / "gateways" / "routes.json").unlink()

    def detach(self) -> None:
        """Leave the daemon running (a controller that failed to start: the daemon decides)."""
        self._stopping = True
        self._unwatch()

    # --- calls -----------------------------------------------------------------------------------
    def call(self, method: str, path: str, **kwargs: Any) -> Any:
        """One call to the daemon; ClusterUnavailable when it does not answer, naming its log."""
        try:
            with _client(self.home, CALL_TIMEOUT) as http:
                response = http.request(method, path, **kwargs)
        except httpx.HTTPError as exc:
            raise ClusterUnavailable(f"the gateway daemon did not answer {method} {path}: {exc}. "
                                     f"See {self.home / LOG}") from exc
        if response.status_code >= 300:
            raise ClusterError(f"the gateway daemon refused {method} {path}: {response.text[:500]}")
        return response.json()

    def push_routes(self, public: dict[str, Any], sources: dict[str, Any], merge: bool = False) -> None:
        """Give the daemon the public routes and the zones' pod addresses (``merge``: only these zones change)."""
        self.call("PUT", "/routes", json={"public": public, "sources": sources, "merge": merge})

    def show(self) -> dict[str, Any]:
        try:
            health = self.call("GET", "/health")
        except ClusterError as exc:
            health = {"problem": str(exc)}
        return {**health, "restarts": self.restarts, "last_repair_seconds": self.last_repair_seconds}


class LinkedModels(ClusterModelGateway):
    """The model gateway as the controller handles it: served by the gateway daemon, which reloads the config
    and the keys from ``state.db`` after every change made here."""

    def __init__(self, state: ClusterState, link: GatewaysLink) -> None:
        super().__init__(state)
        self.link = link
        self.url = link.model_url

    def _reload(self, env: dict[str, str] | None = None) -> None:
        self.link.call("POST", "/reload", json={"env": env or {}})

    def zone_env(self, zone: str) -> dict[str, str]:
        env = super().zone_env(zone)
        self._reload()
        return env

    def forget_zone(self, zone: str) -> None:
        super().forget_zone(zone)
        self.link.call("DELETE", f"/zones/{quote(zone, safe='')}")  # its trace key, its pending usage
        self._reload()

    async def add_model(self, name: str, *, url: str | None = None, kind: str | None = None,
                        api_key_env: str | None = None, api_key_file: str | None = None,
                        models: list[str] | None = None, default: bool = False,
                        api_key_value: str | None = None) -> dict[str, Any]:
        result = await super().add_model(name, url=url, kind=kind, api_key_env=api_key_env,
                                         api_key_file=api_key_file, models=models, default=default,
                                         api_key_value=api_key_value)
        env = {api_key_env: api_key_value} if api_key_env and api_key_value else None
        await asyncio.to_thread(self._reload, env)  # the value travels on the 0600 socket only
        return result

    async def remove_model(self, name: str) -> dict[str, Any]:
        result = await super().remove_model(name)
        await asyncio.to_thread(self._reload)
        return result

    def flush(self) -> None:
        """The daemon writes its pending usage now (reads then see every request served so far)."""
        try:
            self.link.call("POST", "/flush")
        except ClusterError as exc:
            log.warning("the gateway daemon could not write its usage now: %s", exc)


class LinkedTraces:
    """The daemon's trace collector as the controller and the console use it."""

    def __init__(self, link: GatewaysLink) -> None:
        self.link = link

    @property
    def url(self) -> str:
        return self.link.traces_url

    def zone_env(self, zone: str) -> dict[str, str]:
        return dict(self.link.call("POST", f"/zones/{quote(zone, safe='')}/traces"))

    def traces(self, zone: str) -> list[dict[str, Any]] | None:
        result = self.link.call("GET", f"/zones/{quote(zone, safe='')}/traces")["traces"]
        return None if result is None else list(result)


def _tail(path: Path, lines: int = 20) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return "(no log)"


def _last_error(path: Path) -> str:
    """The daemon's own ``error: ...`` line (its failure, e.g. a busy port), else its log's tail."""
    lines = _tail(path, 50).splitlines()
    errors = [line[len("error: "):] for line in lines if line.startswith("error: ")]
    return errors[-1] if errors else "\n".join(lines[-20:])
