"""The only way the CLI talks to the local cluster's controller.

The controller is a daemon (``python -m autonomy.cluster.controller --home DIR``) that serves HTTP+JSON on
the Unix socket ``AUTONOMY_HOME/controller.sock`` (mode 0600). :class:`ClusterClient` starts it detached
(new session, output appended to ``controller.log``) when it is not answering, and waits for the socket to
answer (a handshake with a deadline; on failure the error names ``controller.log`` and quotes its tail).

Every call is blocking (the CLI is synchronous). Long operations (``deploy``) and ``zone_logs`` are
iterators over the controller's streamed response; closing the iterator closes the connection.

Decisions:
- ``enroll()`` creates the cluster (``cluster.json``: its id, and the public port and runtime chosen now
  and kept, see :mod:`.public_port` and :mod:`.runtime_choice`). Every other call except ``stop()``
  refuses with :class:`ClusterError` when no cluster is enrolled in the home, saying to run
  ``autonomy cluster enroll``.
- A stopped cluster is started by ``enroll()``, ``start()`` and the calls that change it (deploy, delete,
  model add/remove); the read-only calls (``show``, ``list_zones``, ``zone_status``, ``zone_logs``,
  ``list_models``) never start it: they raise :class:`ClusterError` saying it is stopped and how to start it.
- A busy public port is refused before the controller is spawned, in one line naming ``--port`` and
  ``AUTONOMY_PUBLIC_PORT``.
- ``stop()`` on a controller that is not running returns ``{"stopped": False}``; it stops a gateway daemon of
  the home that still runs (:mod:`.gateways`: its controller could not be restarted).
- The gateway daemon of the home restarts a controller that died, through :meth:`_ensure_controller` (the
  same ``client.lock``: a CLI command at that moment waits for that controller instead of starting another).
- Secrets travel to the controller over the Unix socket (mode 0600, same user); the controller keeps them
  in a 0600 file, never in its state DB, logs or listings.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import quote

import httpx

from autonomy.cluster.pid_process import alive
from autonomy.errors import ClusterError, ClusterUnavailable, ControllerFailed, ZoneNotFound

__all__ = ["ClusterClient", "default_home"]

# The controller starts NATS and restores zones before it answers; zones come back in the background,
# so this only covers interpreter start-up plus the fabric.
START_TIMEOUT = 30.0
REQUEST_TIMEOUT = 60.0
LOG_CAP = 10 * 2**20


def default_home() -> Path:
    """``AUTONOMY_HOME`` or ``~/.autonomy``."""
    return Path(os.environ.get("AUTONOMY_HOME") or Path.home() / ".autonomy")


class ClusterClient:
    """A client of the local cluster rooted at ``home`` (``AUTONOMY_HOME``)."""

    def __init__(self, home: Path | str | None = None, *, start_timeout: float = START_TIMEOUT) -> None:
        self.home = Path(home) if home is not None else default_home()
        self.start_timeout = start_timeout

    # --- paths -----------------------------------------------------------------------------------
    @property
    def socket_path(self) -> Path:
        return self.home / "controller.sock"

    @property
    def log_path(self) -> Path:
        return self.home / "controller.log"

    @property
    def enrolled(self) -> bool:
        """True when ``cluster.json`` exists in the home."""
        return (self.home / "cluster.json").exists()

    # --- the contract ----------------------------------------------------------------------------
    def enroll(self, port: int | None = None, runtime: str | None = None) -> dict[str, Any]:
        """Create the cluster if absent (choosing its public port: ``port``, else ``AUTONOMY_PUBLIC_PORT``,
        else 32100 or the next free one; and its runtime, :mod:`.runtime_choice`), start its controller if
        not running; return :meth:`show`, with ``"notes"`` (what to tell the user: a port other than the one
        expected, a restart needed). A cluster this call created is forgotten again (``cluster.json``
        removed) when its controller does not start: nothing is left half-enrolled."""
        from autonomy.cluster.runtime_choice import requested_runtime

        created = not self.enrolled
        wanted = requested_runtime(runtime)  # the flag, else AUTONOMY_RUNTIME: what a new cluster stores
        # an enrolled cluster switches only on the flag (the variable is an override for one start)
        switch = self._check_runtime_switch(wanted) if not created and runtime is not None else None
        notes = self._settle_port(port)
        if created or switch:
            self._store_runtime(wanted)
        try:
            self._ensure_controller(create=True)
        except BaseException:
            if created:
                with contextlib.suppress(OSError):
                    (self.home / "cluster.json").unlink()
            raise
        shown = self.show()
        if switch and shown.get("runtime") != switch:
            notes.append(f"the controller still runs the {shown.get('runtime')} runtime: `autonomy cluster stop` "
                         f"then `autonomy cluster start` to switch to {switch}")
        if port is not None and shown.get("public_port") != port and port != 0:
            notes.append(f"the controller still serves port {shown.get('public_port')}: "
                         "`autonomy cluster stop` then `autonomy cluster start` to move to the stored port")
        return {**shown, "notes": notes}

    def start(self) -> dict[str, Any]:
        """Start the enrolled cluster's controller if it is stopped; return :meth:`show`."""
        self._ensure_controller(create=False)
        return self.show()

    @property
    def running(self) -> bool:
        """True when the controller answers."""
        return self._answers()

    def show(self) -> dict[str, Any]:
        """``{"id","kind","fabric_url","gateway_url","public_url_template","public_port","console_url",...}``."""
        return self._json("GET", "/cluster", start=False)

    def _check_runtime_switch(self, wanted: str | None) -> str | None:
        """``wanted`` when it differs from the enrolled cluster's runtime and the switch is allowed (the
        cluster has no zone); None when nothing changes. ClusterError naming ``--runtime`` otherwise."""
        from autonomy.cluster.runtime_choice import DEFAULT, stored_runtime

        current = stored_runtime(self.home) or DEFAULT
        if wanted is None or wanted == current:
            return None
        zones = [z["zone"] for z in self.list_zones()] if self._answers() else self._stored_zones()
        if zones:
            raise ClusterError(
                f"--runtime {wanted}: the cluster in {self.home} runs its zones ({', '.join(sorted(zones))}) with "
                f"the {current} runtime, which the {wanted} runtime would not restore: delete them first "
                "(`autonomy zone delete NAME`), or enroll another cluster (another AUTONOMY_HOME)")
        return wanted

    def _stored_zones(self) -> list[str]:
        from autonomy.cluster.state import ClusterState

        if not (self.home / "state.db").exists():
            return []
        state = ClusterState(self.home / "state.db")
        try:
            return [z["name"] for z in state.zones()]
        finally:
            state.close()

    def _store_runtime(self, wanted: str | None) -> None:
        from autonomy.cluster.runtime_choice import DEFAULT, store_runtime

        store_runtime(self.home, wanted or DEFAULT)

    def _settle_port(self, port: int | None) -> list[str]:
        from autonomy.cluster.identity import load_or_create_identity
        from autonomy.cluster.public_port import choose_port, store_port, stored_port

        stored = stored_port(self.home) if self.enrolled else None
        if stored is not None and (port is None or port == stored):
            return []
        if self.enrolled and port is None and self._answers():
            store_port(self.home, int(self._json("GET", "/cluster", start=False)["public_port"]))
            return []
        chosen, note = choose_port(port)
        load_or_create_identity(self.home)
        store_port(self.home, chosen)
        return [note] if note else []

    def stop(self) -> dict[str, Any]:
        """Stop the controller and everything it runs (zones stay in the state and come back on start).

        Blocks until the controller process has exited (ClusterError after ``start_timeout``).
        """
        if not self._answers():
            from autonomy.cluster.gateways_link import stop_daemon

            # a gateway daemon whose controller could not be restarted: stopped too
            stop_daemon(self.home)
            return {"stopped": False}
        result = self._json("POST", "/stop", start=False)
        # The controller holds controller.lock until its very end (after the socket is removed).
        deadline = time.monotonic() + self.start_timeout
        with open(self.home / "controller.lock", "a") as lock:
            while True:
                try:
                    fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
                    break
                except BlockingIOError:
                    if time.monotonic() > deadline:
                        raise ClusterError(f"The cluster controller did not exit within {self.start_timeout:g} s "
                                           f"of being asked to stop. See {self.log_path}") from None
                    time.sleep(0.05)
        return {"stopped": True, **result}

    def deploy(self, zone: Any, secrets: dict[str, str], source_dir: Path) -> Iterator[dict[str, Any]]:
        """Deploy (or replace) ``zone`` (a ``ZoneSpec``) built from ``source_dir``.

        Yields the controller's events: ``{"event":"progress","step","detail"}`` ... then
        ``{"event":"done","result":{"zone","url","pods"}}``, the last one. An ``{"event":"error"}`` raises
        :class:`ClusterError` with the controller's message instead of being yielded; so does a stream
        that ends without ``done`` (the controller died or the connection broke): a deploy is only
        deployed when the controller says so.
        """
        spec = zone.model_dump() if hasattr(zone, "model_dump") else dict(zone)
        body = {"zone": spec, "secrets": dict(secrets), "source_dir": str(Path(source_dir).resolve())}
        for line in self._stream("POST", "/zones", json_body=body):
            try:
                event = json.loads(line)
            except ValueError:
                raise ClusterError(f"The cluster controller sent a deploy event that is not JSON: {line[:200]!r}. "
                                   f"See {self.log_path}") from None
            if not isinstance(event, dict) or event.get("event") == "error":
                message = event.get("message") if isinstance(event, dict) else None
                raise ClusterError(message or f"deploy failed (no message from the controller). See {self.log_path}")
            yield event
            if event.get("event") == "done":
                return
        raise ClusterError(f"The deploy of zone {spec.get('name')!r} ended without the controller confirming it "
                           "(no 'done' event): its state is unknown, check `autonomy zone status`. "
                           f"See {self.log_path}")

    def list_zones(self) -> list[dict[str, Any]]:
        """Every zone of the cluster: ``[{"zone","url","public","pods","network",...}]``."""
        return self._json("GET", "/zones", start=False)["zones"]

    def delete_zone(self, name: str) -> dict[str, Any]:
        """Stop every process of zone ``name``, remove its namespaces and its state. Blocks until done."""
        return self._json("DELETE", f"/zones/{_segment(name)}", zone=name)

    def zone_status(self, name: str) -> dict[str, Any]:
        """Pods, clone indexes, containers (state, restarts, pid), node names, network mode, limits."""
        return self._json("GET", f"/zones/{_segment(name)}/status", zone=name, start=False)

    def open_repl(self, name: str, pod: str | None = None, clone: int = 0) -> dict[str, Any]:
        """A one-use Unix socket bridged to the REPL of zone ``name``'s pod (default: the main pod):
        ``{"socket": path, "pod": label, "port": port}``; connect within 30 s (autonomy/cluster/repl_bridge.py)."""
        return self._json("POST", f"/zones/{_segment(name)}/repl", zone=name, start=False,
                          json={"pod": pod, "clone": clone})

    def zone_logs(
        self, name: str, pod: str | None = None, container: str | None = None, follow: bool = False,
        tail: int = 100,
    ) -> Iterator[str]:
        """Log lines of the zone's containers, prefixed ``[pod/container]`` when several are shown.

        Without ``follow`` the iterator ends after the last ``tail`` lines of each log; with ``follow`` it
        keeps yielding new lines until the zone is deleted or the iterator is closed.
        """
        params: dict[str, str] = {"follow": "1" if follow else "0", "tail": str(tail)}
        if pod:
            params["pod"] = pod
        if container:
            params["container"] = container
        yield from self._stream("GET", f"/zones/{_segment(name)}/logs", params=params, timeout=None, zone=name,
                                start=False)

    # --- the model gateway ----------------------------------------------------------------------
    def list_models(self) -> dict[str, Any]:
        """``{"providers": [{"name","kind","url","key","models","default"}], "customized", "gateway_url"}``."""
        return self._json("GET", "/models", start=False)

    def add_model(
        self, name: str, *, url: str | None = None, kind: str | None = None, api_key_env: str | None = None,
        api_key_file: str | Path | None = None, models: list[str] | None = None, default: bool = False,
    ) -> dict[str, Any]:
        """Add a model provider to the cluster's gateway (applied at once, kept across restarts).

        With ``api_key_env``, the value of that variable in *this* process's environment (when set) is
        sent to the controller, which keeps it in its own environment (memory only). ``api_key_file`` is
        made absolute. Returns ``{"provider": row, "warnings": [...]}``; ClusterError names a refused field.
        """
        body: dict[str, Any] = {"name": name, "url": url, "kind": kind, "api_key_env": api_key_env,
                                "models": list(models or []), "default": default,
                                "api_key_file": str(Path(api_key_file).expanduser().resolve()) if api_key_file
                                else None}
        if api_key_env and os.environ.get(api_key_env):
            body["api_key_value"] = os.environ[api_key_env]
        return self._json("POST", "/models", json=body)

    def remove_model(self, name: str) -> dict[str, Any]:
        """Remove provider ``name`` from the cluster's gateway."""
        return self._json("DELETE", f"/models/{_segment(name)}")

    # --- HTTP over the Unix socket ---------------------------------------------------------------
    def _http(self, timeout: float | None = REQUEST_TIMEOUT) -> httpx.Client:
        transport = httpx.HTTPTransport(uds=str(self.socket_path))
        return httpx.Client(transport=transport, base_url="http://controller", timeout=timeout)

    def _json(self, method: str, path: str, *, start: bool = True, zone: str | None = None, **kwargs: Any) -> Any:
        if start:
            self._ensure_controller(create=False)
        elif path != "/stop":
            self._require_running()
        try:
            with self._http() as http:
                response = http.request(method, path, **kwargs)
        except httpx.HTTPError as exc:
            raise ClusterUnavailable(f"The cluster controller did not answer {method} {path}: {exc}. "
                                     f"See {self.log_path}") from exc
        return _decode(response, zone)

    def _stream(
        self, method: str, path: str, *, json_body: Any = None, params: dict[str, str] | None = None,
        timeout: float | None = REQUEST_TIMEOUT * 10, zone: str | None = None, start: bool = True,
    ) -> Iterator[str]:
        if start:
            self._ensure_controller(create=False)
        else:
            self._require_running()
        try:
            with (
                self._http(timeout) as http,
                http.stream(method, path, json=json_body, params=params) as response,
            ):
                if response.status_code >= 300:
                    response.read()
                    _decode(response, zone)
                for line in response.iter_lines():
                    if line:
                        yield line
        except httpx.HTTPError as exc:
            raise ClusterError(f"Lost the cluster controller during {method} {path}: {exc}. "
                               f"See {self.log_path}") from exc

    def _answers(self) -> bool:
        from autonomy.cluster.unix_http import get_json

        answer = get_json(self.socket_path, "/health")
        return answer is not None and answer[0] == 200

    # --- starting the controller -----------------------------------------------------------------
    def _require_running(self) -> None:
        """For read-only calls: refuse (never start) when the cluster is not enrolled or stopped."""
        if self._answers():
            return
        if not self.enrolled:
            raise ClusterError(f"No cluster is enrolled in {self.home}: run `autonomy cluster enroll` first "
                               "(or set AUTONOMY_HOME to the home of an existing cluster)")
        raise ClusterError(f"The cluster in {self.home} is stopped: start it with `autonomy cluster start` "
                           "(its zones come back with it)")

    def _ensure_controller(self, *, create: bool) -> None:
        if self._answers():
            return
        if not create and not self.enrolled:
            raise ClusterError(
                f"No cluster is enrolled in {self.home}: run `autonomy cluster enroll` first "
                "(or set AUTONOMY_HOME to the home of an existing cluster)"
            )
        self.home.mkdir(parents=True, exist_ok=True, mode=0o700)
        # One starter at a time: a second client waits here, then finds the controller answering.
        with open(self.home / "client.lock", "a") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            if self._answers():
                return
            self._spawn_and_wait()

    def _spawn_and_wait(self) -> None:
        from autonomy.cluster.gateways_link import daemon_health
        from autonomy.cluster.public_port import busy_message, port_in_use, start_port

        port = start_port(self.home)
        # The gateway daemon of this home holds the port while no controller runs: the new controller adopts it.
        if port and port_in_use(port) and daemon_health(self.home) is None:
            raise ClusterError(busy_message(port))
        # The controller must outlive this process and must not become its zombie: a short-lived shell
        # in a new session starts it in the background and prints its pid, then exits (the controller is
        # re-parented to init, which reaps it).
        argv = [sys.executable, "-m", "autonomy.cluster.controller", "--home", str(self.home)]
        with contextlib.suppress(OSError):
            if self.log_path.stat().st_size > LOG_CAP:  # keep one previous log, as the containers' logs do
                os.replace(self.log_path, self.log_path.with_name(self.log_path.name + ".1"))
        launcher = subprocess.run(
            ["/bin/sh", "-c", '"$@" </dev/null >>"$LOG" 2>&1 & echo $!', "sh", *argv],
            env={**os.environ, "LOG": str(self.log_path)}, capture_output=True, text=True,
            start_new_session=True, check=False,
        )
        if launcher.returncode != 0 or not launcher.stdout.strip().isdigit():
            raise ClusterUnavailable(f"Could not start the cluster controller: {launcher.stderr.strip()}")
        pid = int(launcher.stdout.strip())
        deadline = time.monotonic() + self.start_timeout
        while time.monotonic() < deadline:
            if self._answers():
                return
            if not alive(pid):
                raise ClusterUnavailable(
                    f"The cluster controller exited while starting. See {self.log_path}:\n{_tail(self.log_path)}"
                )
            time.sleep(0.05)
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGTERM)
        raise ClusterUnavailable(
            f"The cluster controller did not answer on {self.socket_path} within {self.start_timeout:g} s. "
            f"See {self.log_path}:\n{_tail(self.log_path)}"
        )


def _segment(name: str) -> str:
    """``name`` as one URL path segment: ``?``, ``#`` or ``/`` in it must not name another zone or provider."""
    return quote(name, safe="")


def _decode(response: httpx.Response, zone: str | None = None) -> Any:
    """The JSON body of a 2xx answer; otherwise the error of the tree whose ``http_status`` it is (an unknown
    ``zone`` is ZoneNotFound, a controller starting or stopping ClusterUnavailable, its unexpected failure
    ControllerFailed, else ClusterError), so the CLI's exit code says the same as the controller's status."""
    try:
        body = response.json()
    except ValueError:
        body = {"message": response.text}
    if response.status_code >= 300:  # the controller never redirects: one would mean "not what was asked"
        message = body.get("message") if isinstance(body, dict) else None
        message = message or f"The cluster controller answered {response.status_code}: {body}"
        if response.status_code == ZoneNotFound.http_status and zone is not None:
            raise ZoneNotFound(zone, message)
        if response.status_code == ClusterUnavailable.http_status:
            raise ClusterUnavailable(message)
        if response.status_code >= 500:
            raise ControllerFailed(message)
        raise ClusterError(message)
    return body


def _tail(path: Path, lines: int = 20) -> str:
    try:
        text = path.read_text(errors="replace")
    except OSError:
        return "(no log)"
    return "\n".join(text.splitlines()[-lines:])
