"""The local deployer: zones as supervised processes on this machine.

Each pod instance (clone) gets a network namespace (``network="namespace"``, see :mod:`.netns`) or, when
namespaces are not available or ``AUTONOMY_NETWORK=host``, a free loopback port on the host network
passed as ``DEFAULT_PORT_HTTP`` (containers of one pod then share that port number by env, and clones
cannot both bind a fixed port such as mcp-proxy's). Containers run as process groups with per-container
logs (:mod:`.supervisor`), inside cgroup limits from the pod's ``size`` where the host allows
(:mod:`.cgroups`).

A deploy returns when every node container (a container built from a local image) answers TCP on its
pod's HTTP port, which a node opens after it has joined the fabric. If a container exits while the
deploy waits, the deploy fails with the tail of its log and the zone stays as it is (crash-looping and
visible in ``zone status`` / ``zone logs``) until it is redeployed or deleted.

Node containers also get ``gateway_env(zone)`` (the model gateway's URL and the zone's key, issued
once per deploy) under their image's ``ENV`` and their ``env`` entries: a user's variable of the same
name wins. External containers (mcp-proxy) do not get them.
"""

from __future__ import annotations

import asyncio
import functools
import json
import os
import shutil
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from autonomy.cluster.deployer import Progress, ZoneFabric
from autonomy.cluster.local.adoption import ShimRecord, stop_shims
from autonomy.cluster.local.bytecode import ensure_bytecode
from autonomy.cluster.local.cgroups import CgroupManager, PodCgroup
from autonomy.cluster.local.images import copy_images, ensure_venv
from autonomy.cluster.local.isolation import Isolation, Launch
from autonomy.cluster.local.netns import NetnsNetwork, PodNamespace
from autonomy.cluster.local.supervisor import MARKER, ContainerProcess
from autonomy.cluster.pod_basics import answers, free_port, main_pod, zone_generation
from autonomy.cluster.repl_bridge import ReplTarget, repl_port
from autonomy.cluster.state import ClusterState
from autonomy.errors import ClusterError, ClusterUnavailable, ZoneNotFound

__all__ = ["LocalDeployer", "POD_HTTP_PORT"]

POD_HTTP_PORT = 8000
READY_TIMEOUT = float(os.environ.get("AUTONOMY_DEPLOY_TIMEOUT", "90"))
_BASE_ENV = ("PATH", "HOME", "LANG", "LC_ALL", "TZ", "TMPDIR", "USER", "LOGNAME")


@dataclass
class PodInstance:
    zone: str
    pod: str
    clone: int
    node: str
    address: str
    port: int
    cgroup: PodCgroup
    ns: PodNamespace | None = None
    containers: dict[str, ContainerProcess] = field(default_factory=dict)
    images: dict[str, str] = field(default_factory=dict)
    nodes: set[str] = field(default_factory=set)  # names of containers that are nodes (local images)


@dataclass
class RunningZone:
    spec: Any
    url: str | None
    state: str = "starting"  # "starting", "running" (every node answered) or "failed" (see ``error``)
    error: str | None = None
    instances: list[PodInstance] = field(default_factory=list)


class LocalDeployer:
    """Runs zones for cluster ``cluster_id`` whose home is ``home``."""

    def __init__(self, home: Path, cluster_id: str, state: ClusterState, *, fabric_url: str,
                 credentials_file: Path, network: str, netns: NetnsNetwork | None, cgroups: CgroupManager,
                 public_url_template: str, gateway_env: Callable[[str], dict[str, str]] | None = None,
                 isolation: Isolation | None = None,
                 fabric: ZoneFabric | None = None,
                 adoptable: dict[str, list[ShimRecord]] | None = None) -> None:
        self.home = home
        # zone -> the shims of its running containers a previous controller left (adoption.py): the zone's
        # restore adopts them instead of starting it again
        self._adoptable = dict(adoptable or {})
        self.isolation = isolation or Isolation(cluster_id, state, None, "no sandbox configured")
        # gives each zone's node containers their zone's NATS user (None: the cluster's credentials_file)
        self.fabric = fabric
        self._zone_creds: dict[str, bytes] = {}
        self.gateway_env = gateway_env
        # Set by the controller: why the fabric is down right now, or None (zones then read "degraded").
        self.fabric_problem: Callable[[], str | None] | None = None
        self.cluster_id = cluster_id
        self.state = state
        self.fabric_url = fabric_url
        self.credentials_file = credentials_file
        self.network = network
        self.netns = netns
        self.cgroups = cgroups
        self.public_url_template = public_url_template
        self._zones: dict[str, RunningZone] = {}
        self._locks: dict[str, asyncio.Lock] = {}
        self._sources: dict[str, set[str]] = {}  # zone -> its pods' addresses (namespace network)

    def _lock(self, name: str) -> asyncio.Lock:
        return self._locks.setdefault(name, asyncio.Lock())

    def zone_dir(self, name: str) -> Path:
        return self.home / "zones" / name

    # --- deploy ----------------------------------------------------------------------------------
    async def deploy(self, zone: Any, secrets: dict[str, str], source_dir: Path, progress: Progress,
                     *, restore: bool = False) -> dict[str, Any]:
        from autonomy.zones.images import plan_container
        from autonomy.zones.secrets import check_secrets

        async with self._lock(zone.name):
            adoptable = self._adoptable.pop(zone.name, None)
            if adoptable is not None and restore and zone.name not in self._zones:
                try:
                    return await self._adopt(zone, adoptable, progress)
                except Exception as exc:  # e.g. a shim gone meanwhile: start the zone again, as without adoption
                    progress("adopt", f"cannot adopt the running pods ({exc}): starting the zone again")
                    running = self._zones.pop(zone.name, None)
                    if running is not None:
                        await self._stop_zone(running)
                    await stop_shims([r for r in adoptable if r.alive])
            elif adoptable is not None:
                await stop_shims([r for r in adoptable if r.alive])
            check_secrets(zone, secrets)
            self.isolation.check()
            if self.isolation.sandbox is None:
                progress("isolation", f"isolation: {self.isolation.summary}: this zone's containers run unsandboxed")
            zdir = self.zone_dir(zone.name)
            source = source_dir
            if not restore:
                progress("copy", f"copying images from {source_dir}")
                source = await asyncio.to_thread(copy_images, source_dir, zone, zdir / "source.new")
            plans = {(p.name, c.name): plan_container(source, c) for p in zone.pods for c in p.containers}
            pythons: dict[tuple[str, str], Path] = {}
            for key, plan in plans.items():
                if plan.requirements is not None:
                    progress("venv", f"installing {plan.requirements.name} for {key[0]}/{key[1]}")
                    pythons[key] = await ensure_venv(Path(plan.requirements), zdir / "venvs")
            if zone.name in self._zones:
                progress("stop", f"stopping the running zone {zone.name!r}")
                await self._stop_zone(self._zones.pop(zone.name))
            if not restore:
                final = zdir / "source"
                if final.exists():
                    await asyncio.to_thread(shutil.rmtree, final)
                os.replace(source, final)
                source = final
                plans = {(p.name, c.name): plan_container(source, c) for p in zone.pods for c in p.containers}
                _write_secrets(zdir / "secrets.json", secrets)
                self.state.put_zone(zone.name, zone.model_dump(mode="json"), str(source), self.network)
            stored = self.state.zone(zone.name)
            generation = zone_generation(stored["spec"], stored["deployed_at"]) if stored else ""
            await self._issue_credentials(zone)
            await asyncio.to_thread(ensure_bytecode)  # else every node process compiles autonomy from source
            # Issued after the old processes stopped: a redeploy rotates the key.
            gateway_env = self.gateway_env(zone.name) if self.gateway_env is not None else {}
            running = RunningZone(spec=zone, url=self._url(zone))
            self._zones[zone.name] = running
            started = time.monotonic()
            try:
                for pod in zone.pods:
                    names = pod.node_names(self.cluster_id, zone.name)
                    outcomes = await asyncio.gather(*(self._start_instance(zone, pod, i, names[i], plans, pythons,
                                                                           secrets, gateway_env, generation)
                                                      for i in range(pod.clones)),
                                                    return_exceptions=True)
                    # Started instances belong to the zone even when a sibling failed: stop/delete finds them.
                    running.instances.extend(o for o in outcomes if isinstance(o, PodInstance))
                    _raise_failed_clones(pod, outcomes)
                    progress("pod", f"{pod.name}: {pod.clones} instance(s) started ({self.network} network)")
                await self._wait_ready(running, progress)
            except BaseException as exc:
                running.state, running.error = "failed", str(exc) or repr(exc)
                raise
            running.state = "running"
            self.isolation.record()
            progress("ready", f"every node is up in {time.monotonic() - started:.2f} s")
            return {"zone": zone.name, "url": running.url, "pods": self._pods_summary(running)}

    def _url(self, zone: Any) -> str | None:
        main = main_pod(zone)
        return self.public_url_template.format(cluster=self.cluster_id, zone=zone.name) if main.public else None

    async def _start_instance(self, zone: Any, pod: Any, clone: int, node: str, plans: dict[Any, Any],
                              pythons: dict[Any, Path], secrets: dict[str, str],
                              gateway_env: dict[str, str], generation: str = "") -> PodInstance:

        ns: PodNamespace | None = None
        if self.netns is not None:
            ns = await self.netns.create(zone.name, pod.name, clone)
            self._sources.setdefault(zone.name, set()).add(ns.address)
            try:
                await self.isolation.add_pod(zone.name, ns.veth)
            except BaseException:
                self._sources[zone.name].discard(ns.address)
                await self.netns.delete(ns)
                raise
            address, port = ns.address, POD_HTTP_PORT
        else:
            address, port = "127.0.0.1", free_port()
        cgroup = self.cgroups.create(zone.name, pod.name, clone, pod.size)
        inst = PodInstance(zone.name, pod.name, clone, node, address, port, cgroup, ns)
        try:
            await self._start_containers(zone, pod, clone, inst, plans, pythons, secrets, gateway_env, generation)
        except BaseException:
            await self._stop_instance(inst)  # a half-started pod leaves nothing behind
            raise
        return inst

    async def _start_containers(self, zone: Any, pod: Any, clone: int, inst: PodInstance, plans: dict[Any, Any],
                                pythons: dict[Any, Path], secrets: dict[str, str],
                                gateway_env: dict[str, str], generation: str = "") -> None:
        from autonomy.zones.secrets import resolve_env

        node, port, ns, cgroup = inst.node, inst.port, inst.ns, inst.cgroup
        logs = self.zone_dir(zone.name) / "logs"
        counted = self.state.restarts(zone.name)
        for container in pod.containers:
            plan = plans[(pod.name, container.name)]
            python = pythons.get((pod.name, container.name))
            env = {k: os.environ[k] for k in _BASE_ENV if k in os.environ}
            # autonomy's environment is the "image": its commands (mcp-proxy, tool servers) are on PATH.
            env["PATH"] = f"{Path(sys.executable).parent}:{env.get('PATH', '/usr/bin:/bin')}"
            env["PYTHONUNBUFFERED"] = "1"
            argv = list(plan.argv)
            if python is not None:
                if argv and argv[0] == sys.executable:
                    argv[0] = str(python)
                env["VIRTUAL_ENV"] = str(python.parent.parent)
                env["PATH"] = f"{python.parent}:{env.get('PATH', '')}"
            if plan.kind == "local":
                env.update(gateway_env)  # under the image's ENV and the container's env: the user's wins
            env.update(plan.env)
            env.update(resolve_env(container, secrets))
            env.update({
                "CLUSTER": self.cluster_id, "ZONE": zone.name, "NODE": node,
                "AUTONOMY_FABRIC_URL": self.fabric_url,
                "AUTONOMY_FABRIC_CREDENTIALS": str(self._credentials_path(zone.name)),
                "DEFAULT_PORT_HTTP": str(port), MARKER: self.cluster_id,
            })
            if ns is None:
                env["DEFAULT_HOST_HTTP"] = "127.0.0.1"
            # The pod instance's own data dir (agents' conversations): kept across container restarts and
            # redeploys of the zone, deleted with it (it is under the zone's dir).
            env["AUTONOMY_DATA_DIR"] = str(_data_dir(self.zone_dir(zone.name), pod.name, clone))
            cwd = Path(plan.image_dir) / plan.workdir if plan.image_dir else self.zone_dir(zone.name)
            launch = await self.isolation.apply(self.zone_dir(zone.name), zone.name, f"{pod.name}-{clone}",
                                                container.name, plan, python, Launch(argv, env, cwd),
                                                self._credentials(zone.name))
            argv = cgroup.join_argv(launch.argv)
            if ns is not None:
                argv = ns.exec_prefix() + argv
            label = f"{pod.name}-{clone}/{container.name}"
            key = (zone.name, pod.name, clone, container.name)
            # What a later controller adopts this container by (adoption.py); no secret in it.
            meta = {"zone": zone.name, "pod": pod.name, "clone": clone, "container": container.name, "node": node,
                    "address": inst.address, "port": port, "namespace": ns.name if ns else None,
                    "veth": ns.veth if ns else None, "size": pod.size, "image": container.image,
                    "is_node": plan.kind == "local", "network": self.network, "generation": generation}
            proc = ContainerProcess(label, argv, launch.env, launch.cwd,
                                    logs / f"{pod.name}-{clone}-{container.name}.log",
                                    on_restart=functools.partial(self.state.count_restart, *key), data=launch.data,
                                    state_path=self.zone_dir(zone.name) / "shims" / f"{pod.name}-{clone}-"
                                    f"{container.name}.json", meta=meta,
                                    restarts=counted.get((pod.name, clone, container.name), 0),
                                    cluster_id=self.cluster_id)
            proc.start()
            inst.containers[container.name] = proc
            inst.images[container.name] = container.image
            if plan.kind == "local":
                inst.nodes.add(container.name)
        await asyncio.gather(*(p.wait_started() for p in inst.containers.values()))

    async def _adopt(self, zone: Any, records: list[ShimRecord], progress: Progress) -> dict[str, Any]:
        """Take over zone ``zone``'s running pods from their shims (a previous controller's): nothing is
        restarted; the fabric learns the zone's user again, the model gateway keeps its key."""
        await self._issue_credentials(zone)
        running = RunningZone(spec=zone, url=self._url(zone), state="running")
        self._zones[zone.name] = running
        counted = self.state.restarts(zone.name)
        instances: dict[tuple[str, int], PodInstance] = {}
        for record in records:
            m = record.meta
            pod, clone, cname = m["pod"], int(m["clone"]), m["container"]
            inst = instances.get((pod, clone))
            if inst is None:
                ns = PodNamespace(m["namespace"], m["address"], m["veth"]) if m.get("namespace") else None
                if ns is not None and self.netns is not None:
                    self.netns.claim(ns.address)
                    self._sources.setdefault(zone.name, set()).add(ns.address)
                cgroup = self.cgroups.create(zone.name, pod, clone, m["size"])  # the existing group, as it is
                inst = instances[(pod, clone)] = PodInstance(zone.name, pod, clone, m["node"], m["address"],
                                                             int(m["port"]), cgroup, ns)
            key = (zone.name, pod, clone, cname)
            inst.containers[cname] = ContainerProcess.adopt(
                record.state, record.path, on_restart=functools.partial(self.state.count_restart, *key),
                seen=counted.get((pod, clone, cname), 0))
            inst.images[cname] = m["image"]
            if m.get("is_node"):
                inst.nodes.add(cname)
        order = {(p.name, i): n for n, (p, i) in enumerate((p, i) for p in zone.pods for i in range(p.clones))}
        running.instances = sorted(instances.values(), key=lambda i: order[(i.pod, i.clone)])
        for inst in running.instances:  # containers in the spec's order, as a deploy lists them
            names = [c.name for p in zone.pods if p.name == inst.pod for c in p.containers]
            inst.containers = {n: inst.containers[n] for n in names}
        for inst in running.instances:
            for cname, proc in inst.containers.items():
                progress("adopt", f"{inst.pod}-{inst.clone}/{cname}: adopted (pid {proc.pid}, {proc.state})")
        self.isolation.record()
        return {"zone": zone.name, "url": running.url, "pods": self._pods_summary(running), "adopted": True}

    def zone_sources(self, zone: str) -> set[str] | None:
        """The addresses ``zone``'s pods send from, or None when pods share the host network."""
        if self.netns is None:
            return None
        return set(self._sources.get(zone, ()))

    def _credentials_path(self, zone: str) -> Path:
        if self.fabric is None:
            return self.credentials_file
        return self.zone_dir(zone) / "fabric.json"

    async def _issue_credentials(self, zone: Any) -> None:
        """Give the fabric zone ``zone``'s user and node names; keep its credentials file (0600) in the
        zone's directory (unsandboxed containers read it there; sandboxed ones get it through a pipe)."""
        if self.fabric is None:
            self._zone_creds[zone.name] = self.credentials_file.read_bytes()
            return
        names = [n for pod in zone.pods for n in pod.node_names(self.cluster_id, zone.name)]
        data = await asyncio.to_thread(self.fabric.zone_credentials, zone.name, names)
        path = self._credentials_path(zone.name)
        path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "wb") as f:
            f.write(data)
        self._zone_creds[zone.name] = data

    def _credentials(self, zone: str) -> bytes:
        return self._zone_creds[zone]

    async def _wait_ready(self, running: RunningZone, progress: Progress) -> None:
        """Wait until every node is up or has failed; then raise one error naming every failed clone."""
        deadline = time.monotonic() + READY_TIMEOUT
        waiting = [i for i in running.instances if i.nodes]
        failures: list[str] = []
        while waiting:
            for inst in list(waiting):
                exited = [(name, proc) for name, proc in inst.containers.items()
                          if proc.restarted or proc.state not in ("running", "starting")]
                if exited:
                    waiting.remove(inst)
                    failures += [f"container {inst.pod}-{inst.clone}/{name} exited (code {proc.last_exit}) while "
                                 f"the zone was starting; its log ({proc.log_path}) ends with:\n{_tail(proc.log_path)}"
                                 for name, proc in exited]
                elif await answers(inst.address, inst.port):
                    waiting.remove(inst)
                    progress("node", f"{inst.node} is up")
            if not waiting:
                break
            if time.monotonic() > deadline:
                names = ", ".join(i.node for i in waiting)
                failures.append(f"nodes did not open their HTTP port within {READY_TIMEOUT:g} s: {names}; "
                                "see `autonomy zone logs`")
                break
            await asyncio.sleep(0.05)  # polling a port of another process: there is no event to wait on
        if len(failures) == 1:
            raise ClusterError(failures[0])
        if failures:
            raise ClusterError(f"{len(failures)} problems while the zone was starting:\n" + "\n".join(failures))

    # --- stop / delete ---------------------------------------------------------------------------
    async def _stop_instance(self, inst: PodInstance) -> None:
        await asyncio.gather(*(p.stop() for p in inst.containers.values()))
        if inst.ns is not None and self.netns is not None:
            await self.isolation.remove_pod(inst.ns.veth)
            self._sources.get(inst.zone, set()).discard(inst.address)
            await self.netns.delete(inst.ns)
        inst.cgroup.remove()
        await asyncio.to_thread(self.isolation.remove_instance, self.zone_dir(inst.zone), f"{inst.pod}-{inst.clone}")

    async def _stop_zone(self, running: RunningZone) -> None:
        await asyncio.gather(*(self._stop_instance(i) for i in running.instances))

    async def delete(self, name: str) -> dict[str, Any]:
        async with self._lock(name):
            running = self._zones.pop(name, None)
            stored = self.state.delete_zone(name)
            if running is None and not stored:
                raise ZoneNotFound(name)
            if running is not None:
                await self._stop_zone(running)
            self._zone_creds.pop(name, None)
            if self.fabric is not None:
                await asyncio.to_thread(self.fabric.forget_zone, name)
            await asyncio.to_thread(shutil.rmtree, self.zone_dir(name), True)
            return {"zone": name, "deleted": True}

    async def stop(self) -> None:
        zones, self._zones = list(self._zones.values()), {}
        await asyncio.gather(*(self._stop_zone(z) for z in zones))

    # --- views -----------------------------------------------------------------------------------
    def zones(self) -> list[dict[str, Any]]:
        out = []
        for stored in self.state.zones():
            running = self._zones.get(stored["name"])
            spec = stored["spec"]
            out.append({"zone": stored["name"], "url": running.url if running else None,
                        "public": any(p.get("public") for p in spec["pods"] if p["name"] == _main_name(spec)),
                        "pods": [p["name"] for p in spec["pods"]], "network": self.network,
                        "isolation": self.isolation.summary,
                        "state": self._condition(running)[0] if running else "stopped",
                        "reason": self._condition(running)[1] if running else None,
                        "deployed_at": stored["deployed_at"]})
        return out

    def _condition(self, running: RunningZone) -> tuple[str, str | None]:
        """The zone's state as users should see it: ``degraded`` (with the reason) while it is deployed
        but the fabric is down or a container is crash-looping or waiting to restart."""
        if running.state != "running":
            return running.state, running.error
        problems = []
        fabric = self.fabric_problem() if self.fabric_problem is not None else None
        if fabric:
            problems.append(fabric)
        for inst in running.instances:
            for cname, proc in inst.containers.items():
                if proc.state in ("crashed", "restarting"):
                    what = "is crash-looping" if proc.state == "crashed" else "exited and is restarting"
                    problems.append(f"container {inst.pod}-{inst.clone}/{cname} {what} (last exit code "
                                    f"{proc.last_exit}; `autonomy zone logs {running.spec.name} --pod {inst.pod}`)")
        return ("degraded", "; ".join(problems)) if problems else ("running", None)

    def _running(self, name: str) -> RunningZone:
        running = self._zones.get(name)
        if running is None:
            if self.state.zone(name) is not None:
                raise ClusterUnavailable(f"zone {name!r} is not running yet (it is being restored or redeployed): "
                                         "retry in a moment")
            raise ZoneNotFound(name)
        return running

    def status(self, name: str) -> dict[str, Any]:
        running = self._running(name)
        pods = []
        for inst in running.instances:
            containers = []
            for cname, proc in inst.containers.items():
                entry = {"container": cname, "image": inst.images[cname], "node": cname in inst.nodes,
                         **proc.status()}
                containers.append(entry)
            pods.append({"pod": inst.pod, "clone": inst.clone, "node": inst.node, "address": inst.address,
                         "port": inst.port, "namespace": inst.ns.name if inst.ns else None,
                         "limits": inst.cgroup.status(), "containers": containers})
        state, reason = self._condition(running)
        return {"zone": name, "state": state, "error": reason, "url": running.url,
                "network": self.network, "isolation": self.isolation.summary, "uid": self.isolation.uid(name),
                "pods": pods}

    def _pods_summary(self, running: RunningZone) -> list[dict[str, Any]]:
        summary: dict[str, dict[str, Any]] = {}
        for inst in running.instances:
            entry = summary.setdefault(inst.pod, {"pod": inst.pod, "clones": 0, "nodes": [], "addresses": []})
            entry["clones"] += 1
            entry["nodes"].append(inst.node)
            entry["addresses"].append(f"{inst.address}:{inst.port}")
        return list(summary.values())

    def log_files(self, name: str, pod: str | None, container: str | None) -> list[tuple[str, Path]]:
        running = self._running(name)
        files = [(f"{i.pod}-{i.clone}/{c}", p.log_path) for i in running.instances for c, p in i.containers.items()
                 if (pod is None or i.pod == pod) and (container is None or c == container)]
        if not files:
            pods = sorted({i.pod for i in running.instances})
            containers = sorted({c for i in running.instances for c in i.containers if pod is None or i.pod == pod})
            wanted = " and ".join(f"{k} {v!r}" for k, v in (("pod", pod), ("container", container)) if v)
            raise ClusterError(f"zone {name!r} has no {wanted}: its pods are {', '.join(pods) or 'none'}"
                               + (f"; containers: {', '.join(containers)}" if containers and container else ""))
        return files

    def repl_target(self, zone: str, pod: str | None, clone: int) -> ReplTarget:
        """The REPL of a pod instance (``autonomy zone repl``, :mod:`autonomy.cluster.repl_bridge`)."""
        running = self._running(zone)
        name = pod or main_pod(running.spec).name
        spec = next((p for p in running.spec.pods if p.name == name), None)
        inst = next((i for i in running.instances if i.pod == name and i.clone == clone), None)
        if spec is None or inst is None:
            have = ", ".join(sorted(f"{i.pod} (clone {i.clone})" for i in running.instances)) or "none running"
            raise ClusterError(f"zone {zone!r} has no pod {name!r} clone {clone}: its pods are {have}")
        if inst.ns is None:
            raise ClusterError(f"zone {zone!r} runs on the host network: its pods have no loopback of their own, "
                               f"so `zone repl` is not offered; connect to the REPL's port directly, or enroll "
                               f"the cluster with the namespace network")
        return ReplTarget(f"{name}-{clone}", inst.ns.path, repl_port(spec))

    def public_target(self, zone: str) -> tuple[str, int] | str:
        running = self._zones.get(zone)
        if running is None:
            return f"no zone {zone!r} is running in this cluster"
        main = main_pod(running.spec)
        if not main.public:
            return f"zone {zone!r} is private: its main pod {main.name!r} is not public"
        inst = next((i for i in running.instances if i.pod == main.name and i.clone == 0), None)
        if inst is None:
            why = running.error if running.state == "failed" else "it is starting"
            return f"zone {zone!r}: its main pod {main.name!r} is not running ({why}); see `autonomy zone status`"
        return inst.address, inst.port


def _raise_failed_clones(pod: Any, outcomes: list[Any]) -> None:
    """Raise if any clone of ``pod`` failed to start: its own error for one, a ClusterError naming each for
    several (the first error is the cause); a cancellation is raised as it is."""
    failed = [(i, o) for i, o in enumerate(outcomes) if isinstance(o, BaseException)]
    for _, outcome in failed:
        if not isinstance(outcome, Exception):
            raise outcome
    if len(failed) == 1:
        raise failed[0][1]
    if failed:
        raise ClusterError(f"{len(failed)} of {len(outcomes)} clones of pod {pod.name!r} failed to start:\n"
                           + "\n".join(f"{pod.name}-{i}: {exc or repr(exc)}" for i, exc in failed)) from failed[0][1]


def _main_name(spec: dict[str, Any]) -> str:
    names = [p["name"] for p in spec["pods"]]
    return "main-pod" if "main-pod" in names else names[0]


def _data_dir(zone_dir: Path, pod: str, clone: int) -> Path:
    """``{zone dir}/data/{pod}-{clone}``, made 0700 (the node's SQLite conversations live there)."""
    path = zone_dir / "data" / f"{pod}-{clone}"
    path.mkdir(mode=0o700, parents=True, exist_ok=True)
    path.parent.chmod(0o700)
    path.chmod(0o700)
    return path


def _write_secrets(path: Path, secrets: dict[str, str]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as f:
        json.dump(secrets, f)


def read_secrets(path: Path) -> dict[str, str]:
    return json.loads(path.read_text()) if path.exists() else {}


def _tail(path: Path, lines: int = 15) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return "(no log)"
