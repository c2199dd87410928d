"""The Docker runtime of the local cluster: pods as Docker Engine containers built from their Dockerfiles.

Implements :class:`autonomy.cluster.deployer.Deployer` (``AUTONOMY_RUNTIME=docker``). A deploy:

1. builds every local image (``images/NAME/Dockerfile`` exactly as written, any base, any ``RUN``)
   with :func:`autonomy.images.build_local` (our base image first when a Dockerfile starts
   ``FROM ghcr.io/build-trust/autonomy-python``); external images are used when the engine has them and
   pulled otherwise;
2. replaces the running zone, if any: its containers are removed;
3. per pod clone, starts a pause container and the pod's containers joined to it (:mod:`.pod`: one
   ``localhost`` per pod, hardened, ``size`` as limits, restarted on failure by the engine);
4. returns once every node container answers TCP on its pod's HTTP port (a node opens it after it
   joined the fabric), or fails naming the container with the tail of its log.

Network (docs/security.md, "Docker runtime"): with ``networks`` (:class:`.network.ZoneNetworks`, set
up by the backend as root) each zone gets its own Docker bridge network, its pause containers join it,
every pod instance has its own address and serves on port 8000, and ``firewall``
(:class:`.firewall.ZoneFirewall`) puts the zone's bridge under the cluster's nftables rules before its
first pod starts. Without ``networks`` (no root, no ``nft``) pause containers use the **host network**
and each pod clone gets a free loopback port as ``DEFAULT_PORT_HTTP``, like the process runtime's host
mode, and ``zone status`` says ``network: none``.

With ``fabric`` (the cluster's per-zone NATS users) a zone's containers get their zone's credentials;
the file is kept per zone, owned by the zone's uid (every container of a zone runs as its own uid,
:func:`autonomy.cluster.zone_uid.zone_uid`, shared with the process runtime) and mounted read-only: the
only file of the cluster's home a container sees.
"""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from autonomy.cluster.deployer import Progress, ZoneFabric
from autonomy.cluster.docker.adoption import GENERATION, NETWORK, PORT
from autonomy.cluster.docker.appdir import app_directory, app_dirs_available, own_app_directory
from autonomy.cluster.docker.firewall import ZoneFirewall
from autonomy.cluster.docker.network import ZoneNetwork, ZoneNetworks, pod_address
from autonomy.cluster.docker.pod import LABEL, container_name, hardening, labels, limits
from autonomy.cluster.pod_basics import answers, free_port, main_pod, zone_generation
from autonomy.cluster.repl_bridge import ReplTarget, repl_port
from autonomy.cluster.state import ClusterState
from autonomy.cluster.zone_uid import zone_uid
from autonomy.errors import ClusterError

if TYPE_CHECKING:

    import docker

__all__ = ["DockerDeployer"]

READY_TIMEOUT = float(os.environ.get("AUTONOMY_DEPLOY_TIMEOUT", "90"))
CREDENTIALS = "/run/autonomy/fabric.json"  # where a container sees its credentials file
POD_HTTP_PORT = 8000  # a pod's HTTP port on its zone network (as in the process runtime's namespaces)


@dataclass
class DockerPod:
    pod: str
    clone: int
    node: str
    port: int
    address: str = "127.0.0.1"  # its address on the zone network (the host network: loopback)
    pause: Any = None
    containers: dict[str, Any] = field(default_factory=dict)  # container name -> docker Container
    images: dict[str, str] = field(default_factory=dict)
    nodes: set[str] = field(default_factory=set)


@dataclass
class RunningZone:
    spec: Any
    url: str | None
    state: str = "starting"
    error: str | None = None
    pods: list[DockerPod] = field(default_factory=list)


class DockerDeployer:
    """Runs zones of cluster ``cluster_id`` (home ``home``) as containers of the Docker Engine ``client``
    (default: :func:`autonomy.images.connect`, on first use)."""

    runtime = "docker"

    def __init__(self, home: Path, cluster_id: str, state: ClusterState, *, fabric_url: str,
                 credentials_file: Path, public_url_template: str,
                 gateway_env: Callable[[str], dict[str, str]] | None = None,
                 client: docker.DockerClient | None = None, networks: ZoneNetworks | None = None,
                 firewall: ZoneFirewall | None = None, fabric: ZoneFabric | None = None,
                 isolation: str = "", adoptable: dict[str, list[Any]] | None = None) -> None:
        self.home = home
        # zone -> its running containers a previous controller left: its restore adopts them (adoption.py)
        self._adoptable = dict(adoptable or {})
        self.networks = networks
        self.firewall = firewall
        self.fabric = fabric
        self.network = "docker-zone" if networks is not None else "docker-host"
        self.isolation = isolation or "container; network: none (pods share the host network)"
        self.cluster_id = cluster_id
        self.state = state
        self.fabric_url = fabric_url
        self.credentials_file = credentials_file
        self.public_url_template = public_url_template
        self.gateway_env = gateway_env
        self._client = client
        self._app_dirs: tuple[bool, str] | None = None
        self._zones: dict[str, RunningZone] = {}
        self._locks: dict[str, asyncio.Lock] = {}
        # Set by the controller: why the fabric is down right now (None while it is up).
        self.fabric_problem: Callable[[], str | None] | None = None

    def zone_sources(self, zone: str) -> set[str] | None:
        """The addresses of ``zone``'s pods on its network; None on the host network (no address names a zone)."""
        if self.networks is None:
            return None
        running = self._zones.get(zone)
        return {p.address for p in running.pods} if running is not None else set()

    @property
    def client(self) -> docker.DockerClient:
        if self._client is None:
            from autonomy.images import connect

            self._client = connect()
        return self._client

    @property
    def app_dirs(self) -> tuple[bool, str]:
        """Whether containers get a private writable app directory (:mod:`.appdir`), and if not, why."""
        if self._app_dirs is None:
            self._app_dirs = app_dirs_available(str(self.client.info().get("Driver") or "unknown"))
        return self._app_dirs

    def uid(self, zone: str) -> int:
        """The uid (and gid) every container of ``zone`` runs as."""
        return zone_uid(self.cluster_id, zone)

    def zone_dir(self, name: str) -> Path:
        return self.home / "zones" / name

    # --- deploy ----------------------------------------------------------------------------------
    async def deploy(self, zone: Any, secrets: dict[str, str], source_dir: Path, progress: Progress,
                     *, restore: bool = False) -> dict[str, Any]:
        from autonomy.images import build_local
        from autonomy.zones.secrets import check_secrets

        async with self._locks.setdefault(zone.name, asyncio.Lock()):
            adoptable = self._adoptable.pop(zone.name, None)
            if adoptable and restore and zone.name not in self._zones:
                try:
                    return await self._adopt(zone, adoptable, progress)
                except Exception as exc:  # e.g. a container removed meanwhile: start the zone again
                    progress("adopt", f"cannot adopt the running containers ({exc}): starting the zone again")
                    self._zones.pop(zone.name, None)
            check_secrets(zone, secrets)
            client = await asyncio.to_thread(lambda: self.client)
            local = sorted({c.image for p in zone.pods for c in p.containers if c.is_local_image})
            built = await asyncio.to_thread(build_local, client, source_dir, local, self.cluster_id, zone.name,
                                            lambda line: progress("image", line))
            missing = sorted(set(local) - set(built))
            if missing:
                raise ClusterError(f"zone {zone.name!r}: no images/{missing[0]}/Dockerfile in {source_dir}")
            for image in sorted({c.image for p in zone.pods for c in p.containers if not c.is_local_image}):
                await asyncio.to_thread(self._ensure_external, image, progress)
            if zone.name in self._zones:
                progress("stop", f"stopping the running zone {zone.name!r}")
                await self._stop_zone(self._zones.pop(zone.name))
            await asyncio.to_thread(self._remove_containers, {f"{LABEL}.zone": zone.name})
            zdir = self.zone_dir(zone.name)
            if not restore:
                await asyncio.to_thread(_store_source, source_dir, zdir / "source")
                _write_private(zdir / "secrets.json", json.dumps(secrets))
                self.state.put_zone(zone.name, zone.model_dump(mode="json"), str(zdir / "source"), self.network)
            names = [n for pod in zone.pods for n in pod.node_names(self.cluster_id, zone.name)]
            if self.fabric is not None:
                data = await asyncio.to_thread(self.fabric.zone_credentials, zone.name, names)
            else:
                data = await asyncio.to_thread(Path(self.credentials_file).read_bytes)
            uid = self.uid(zone.name)
            credentials = _container_credentials(data, zdir / "fabric.json", uid)
            network = await self._zone_network(zone.name)
            gateway_env = self.gateway_env(zone.name) if self.gateway_env is not None else {}
            stored = self.state.zone(zone.name)
            marks = {GENERATION: zone_generation(stored["spec"], stored["deployed_at"]) if stored else "",
                     NETWORK: self.network}
            running = RunningZone(spec=zone, url=self._url(zone))
            self._zones[zone.name] = running
            started = time.monotonic()
            try:
                starts = []
                for pod in zone.pods:
                    for clone, node in enumerate(pod.node_names(self.cluster_id, zone.name)):
                        port = POD_HTTP_PORT if network is not None else free_port()
                        instance = DockerPod(pod.name, clone, node, port)
                        running.pods.append(instance)
                        starts.append(asyncio.to_thread(self._start_pod, zone, pod, instance, built, secrets,
                                                        gateway_env, credentials, network,
                                                        {**marks, PORT: str(port)}))
                # every pod instance at once: the engine creates containers concurrently (a deploy waits for
                # the slowest pod, not for the sum); the first failure fails the deploy once all have returned
                results = await asyncio.gather(*starts, return_exceptions=True)
                failed = next((r for r in results if isinstance(r, BaseException)), None)
                if failed is not None:
                    raise failed
                where = f"network {network.name}" if network is not None else "host network"
                for pod in zone.pods:
                    progress("pod", f"{pod.name}: {pod.clones} instance(s) started (docker, {where})")
                await self._wait_ready(running, progress)
            except BaseException as exc:
                running.state, running.error = "failed", str(exc) or repr(exc)
                raise
            running.state = "running"
            progress("ready", f"every node is up in {time.monotonic() - started:.2f} s")
            return {"zone": zone.name, "url": running.url, "pods": self._summary(running)}

    async def _zone_network(self, zone: str) -> ZoneNetwork | None:
        """Zone ``zone``'s network, under the cluster's rules before any of its pods starts (None: host network)."""
        if self.networks is None:
            return None
        network = await asyncio.to_thread(self.networks.create, zone)
        if self.firewall is not None:
            await self.firewall.add_zone(network.bridge)
        return network

    def _ensure_external(self, image: str, progress: Progress) -> None:
        from autonomy.images.engine import docker_errors

        errors = docker_errors()
        try:
            self.client.images.get(image)
            return
        except errors.ImageNotFound:
            pass
        progress("image", f"pulling {image}")
        try:
            self.client.images.pull(image)
        except errors.APIError as exc:
            raise ClusterError(f"image {image!r} is not in the Docker Engine and could not be pulled "
                               f"({exc.explanation or exc}): pull or build it, or use a local image") from exc

    def _start_pod(self, zone: Any, pod: Any, instance: DockerPod, built: dict[str, str], secrets: dict[str, str],
                   gateway_env: dict[str, str], credentials: Path, network: ZoneNetwork | None,
                   marks: dict[str, str] | None = None) -> None:
        from autonomy.images import BASE_TAGS
        from autonomy.zones.secrets import resolve_env

        name = (self.cluster_id, zone.name, pod.name, instance.clone)
        uid = self.uid(zone.name)
        instance.pause = self.client.containers.run(
            BASE_TAGS[0], ["sleep", "infinity"], detach=True, name=container_name(*name, "pause"),
            labels={**labels(*name, "pause"), **(marks or {})}, ipc_mode="shareable", **hardening(uid),
            cpu_period=100_000, cpu_quota=1_000, mem_limit=16 * 2**20,
            **({"network": network.name} if network is not None else {"network_mode": "host"}))
        if network is not None:
            instance.address = pod_address(instance.pause, network)
        for container in pod.containers:
            local = container.is_local_image
            env = dict(gateway_env) if local else {}
            env.update(resolve_env(container, secrets))
            env.update({"CLUSTER": self.cluster_id, "ZONE": zone.name, "NODE": instance.node,
                        "AUTONOMY_FABRIC_URL": self.fabric_url, "AUTONOMY_FABRIC_CREDENTIALS": CREDENTIALS,
                        "DEFAULT_PORT_HTTP": str(instance.port)})
            if network is None:
                env["DEFAULT_HOST_HTTP"] = "127.0.0.1"
            image = built[container.image] if local else container.image
            options: dict[str, Any] = dict(
                name=container_name(*name, container.name), labels={**labels(*name, container.name), **(marks or {})},
                environment=env, network_mode=f"container:{instance.pause.id}",
                ipc_mode=f"container:{instance.pause.id}",
                volumes={str(credentials): {"bind": CREDENTIALS, "mode": "ro"}},
                restart_policy={"Name": "on-failure", "MaximumRetryCount": 10}, **hardening(uid), **limits(pod.size))
            workdir = app_directory(self.client.images.get(image).attrs) if self.app_dirs[0] else None
            # its own writable layer, with the app directory its zone's (appdir.py); never a writable root
            # whose app directory could not be given to the zone: then read-only as a whole
            handle = self.client.containers.create(image, container.args or None,
                                                   **{**options, "read_only": workdir is None})
            if workdir is not None and not own_app_directory(handle.attrs, workdir, uid):
                handle.remove(force=True)
                handle = self.client.containers.create(image, container.args or None, **options)
            handle.start()
            instance.containers[container.name] = handle
            instance.images[container.name] = container.image
            if local:
                instance.nodes.add(container.name)

    async def _wait_ready(self, running: RunningZone, progress: Progress) -> None:
        deadline = time.monotonic() + READY_TIMEOUT
        waiting = [p for p in running.pods if p.nodes]
        while waiting:
            for instance in list(waiting):
                for name, container in instance.containers.items():
                    await asyncio.to_thread(container.reload)
                    if container.attrs.get("RestartCount") or container.status in ("exited", "dead"):
                        code = await _last_exit_code(container)
                        logs = await asyncio.to_thread(container.logs, tail=15)
                        raise ClusterError(
                            f"container {instance.pod}-{instance.clone}/{name} exited (code {code}) while the "
                            f"zone was starting; its log ends with:\n{logs.decode(errors='replace').rstrip()}")
                if await answers(instance.address, instance.port):
                    waiting.remove(instance)
                    progress("node", f"{instance.node} is up")
            if waiting and time.monotonic() > deadline:
                names = ", ".join(p.node for p in waiting)
                raise ClusterError(f"nodes did not open their HTTP port within {READY_TIMEOUT:g} s: {names}; "
                                   "see `autonomy zone logs`")
            if waiting:
                await asyncio.sleep(0.1)  # polling a port of another process: there is no event to wait on

    async def _adopt(self, zone: Any, containers: list[Any], progress: Progress) -> dict[str, Any]:
        """Take over zone ``zone``'s running containers (a previous controller's): nothing is recreated;
        the fabric learns the zone's user again, the model gateway keeps its key."""
        names = [n for pod in zone.pods for n in pod.node_names(self.cluster_id, zone.name)]
        if self.fabric is not None:
            data = await asyncio.to_thread(self.fabric.zone_credentials, zone.name, names)
            _container_credentials(data, self.zone_dir(zone.name) / "fabric.json", self.uid(zone.name))
        network = self.networks.get(zone.name) if self.networks is not None else None
        by_key = {(c.labels[f"{LABEL}.pod"], int(c.labels[f"{LABEL}.clone"]), c.labels[f"{LABEL}.container"]): c
                  for c in containers}
        running = RunningZone(spec=zone, url=self._url(zone), state="running")
        for pod in zone.pods:
            for clone, node in enumerate(pod.node_names(self.cluster_id, zone.name)):
                pause = by_key[(pod.name, clone, "pause")]
                instance = DockerPod(pod.name, clone, node, int(pause.labels[PORT]), pause=pause)
                if network is not None:
                    instance.address = await asyncio.to_thread(pod_address, pause, network)
                for container in pod.containers:
                    instance.containers[container.name] = by_key[(pod.name, clone, container.name)]
                    instance.images[container.name] = container.image
                    if container.is_local_image:
                        instance.nodes.add(container.name)
                    progress("adopt", f"{pod.name}-{clone}/{container.name}: adopted "
                                      f"({instance.containers[container.name].short_id})")
                running.pods.append(instance)
        self._zones[zone.name] = running
        return {"zone": zone.name, "url": running.url, "pods": self._summary(running), "adopted": True}

    # --- stop / delete ---------------------------------------------------------------------------
    def cluster_containers(self) -> list[Any]:
        """Every container of this cluster in the engine, running or not (blocking)."""
        return list(self.client.containers.list(all=True, filters={"label": f"{LABEL}.cluster={self.cluster_id}"}))

    def _remove_containers(self, selector: dict[str, str]) -> int:
        filters = [f"{LABEL}.cluster={self.cluster_id}", *(f"{k}={v}" for k, v in selector.items())]
        found = self.client.containers.list(all=True, filters={"label": filters})
        for container in found:
            container.remove(force=True)
        return len(found)

    def remove_all_containers(self) -> int:
        """Remove every container of this cluster from the engine (blocking); returns how many there were."""
        return self._remove_containers({})

    async def _stop_zone(self, running: RunningZone) -> None:
        await asyncio.to_thread(self._remove_containers, {f"{LABEL}.zone": running.spec.name})

    async def delete(self, name: str) -> dict[str, Any]:
        async with self._locks.setdefault(name, asyncio.Lock()):
            running = self._zones.pop(name, None)
            stored = self.state.delete_zone(name)
            if running is None and not stored:
                raise ClusterError(f"no zone {name!r} in this cluster: `autonomy zone list` shows the zones")
            await asyncio.to_thread(self._remove_containers, {f"{LABEL}.zone": name})
            if self.networks is not None:
                network = await asyncio.to_thread(self.networks.remove, name)
                if network is not None and self.firewall is not None:
                    await self.firewall.remove_zone(network.bridge)
            if self.fabric is not None:
                await asyncio.to_thread(self.fabric.forget_zone, name)
            await asyncio.to_thread(self._remove_images, name)
            await asyncio.to_thread(shutil.rmtree, self.zone_dir(name), True)
            return {"zone": name, "deleted": True}

    def _remove_images(self, zone: str) -> None:
        """The images built for ``zone`` (``autonomy-local/{cluster[:8]}-{zone}/*``); the base image stays."""
        from autonomy.images import LOCAL_REGISTRY
        from autonomy.images.engine import docker_errors

        errors = docker_errors()
        for image in self.client.images.list(name=f"{LOCAL_REGISTRY}/{self.cluster_id[:8]}-{zone}/*"):
            try:
                self.client.images.remove(image.id, force=True)
            except errors.APIError:
                pass  # already gone, or shared with another zone's tag: the other zone's delete removes it

    async def stop(self) -> None:
        self._zones = {}
        if self._client is not None:
            await asyncio.to_thread(self._remove_containers, {})

    # --- views -----------------------------------------------------------------------------------
    def zones(self) -> list[dict[str, Any]]:
        out = []
        for stored in self.state.zones():
            running = self._zones.get(stored["name"])
            spec = stored["spec"]
            names = [p["name"] for p in spec["pods"]]
            main = "main-pod" if "main-pod" in names else names[0]
            out.append({"zone": stored["name"], "url": running.url if running else None,
                        "public": any(p.get("public") for p in spec["pods"] if p["name"] == main),
                        "pods": names, "network": self.network, "runtime": self.runtime,
                        "state": running.state if running else "stopped", "deployed_at": stored["deployed_at"]})
        return out

    def _running(self, name: str) -> RunningZone:
        running = self._zones.get(name)
        if running is None:
            raise ClusterError(f"no zone {name!r} is running in this cluster: `autonomy zone list` shows the zones")
        return running

    def status(self, name: str) -> dict[str, Any]:
        running = self._running(name)
        pods = []
        for instance in running.pods:
            containers = []
            for cname, container in instance.containers.items():
                container.reload()
                state = container.attrs.get("State", {})
                containers.append({"container": cname, "image": instance.images[cname],
                                   "node": cname in instance.nodes, "state": container.status,
                                   "restarts": int(container.attrs.get("RestartCount") or 0),
                                   "exit_code": state.get("ExitCode"), "id": container.short_id})
            pods.append({"pod": instance.pod, "clone": instance.clone, "node": instance.node,
                         "address": instance.address, "port": instance.port, "runtime": self.runtime,
                         "containers": containers})
        return {"zone": name, "state": running.state, "error": running.error, "url": running.url,
                "network": self.network, "runtime": self.runtime, "isolation": self.isolation,
                "uid": self.uid(name), "app_dir": _app_dir_summary(self.app_dirs), "pods": pods}

    def _summary(self, running: RunningZone) -> list[dict[str, Any]]:
        summary: dict[str, dict[str, Any]] = {}
        for instance in running.pods:
            entry = summary.setdefault(instance.pod, {"pod": instance.pod, "clones": 0, "nodes": [], "addresses": []})
            entry["clones"] += 1
            entry["nodes"].append(instance.node)
            entry["addresses"].append(f"{instance.address}:{instance.port}")
        return list(summary.values())

    def log_files(self, name: str, pod: str | None, container: str | None) -> list[tuple[str, Path]]:
        """A snapshot of the selected containers' logs (the engine keeps them), written under the zone's
        folder: ``zone logs -f`` shows what was there when it asked, not what comes after."""
        running = self._running(name)
        files = []
        folder = self.zone_dir(name) / "logs"
        folder.mkdir(parents=True, exist_ok=True, mode=0o700)
        for instance in running.pods:
            for cname, handle in instance.containers.items():
                if (pod is None or instance.pod == pod) and (container is None or cname == container):
                    path = folder / f"{instance.pod}-{instance.clone}-{cname}.log"
                    _write_private(path, handle.logs().decode(errors="replace"))
                    files.append((f"{instance.pod}-{instance.clone}/{cname}", path))
        if not files:
            raise ClusterError(f"zone {name!r} has no container matching pod={pod!r} container={container!r}")
        return files

    def repl_target(self, zone: str, pod: str | None, clone: int) -> ReplTarget:
        """The REPL of a pod instance: its pause container's network namespace (``autonomy zone repl``)."""
        running = self._running(zone)
        name = pod or main_pod(running.spec).name
        spec = next((p for p in running.spec.pods if p.name == name), None)
        instance = next((p for p in running.pods if p.pod == name and p.clone == clone), None)
        if spec is None or instance is None or instance.pause is None:
            have = ", ".join(sorted(f"{p.pod} (clone {p.clone})" for p in running.pods)) or "none running"
            raise ClusterError(f"zone {zone!r} has no pod {name!r} clone {clone}: its pods are {have}")
        instance.pause.reload()
        if instance.pause.attrs["HostConfig"].get("NetworkMode") == "host":
            raise ClusterError(f"zone {zone!r} runs on the host network: its pods have no loopback of their own, "
                               "so `zone repl` is not offered; connect to the REPL's port directly")
        pid = instance.pause.attrs["State"].get("Pid")
        if not pid:
            raise ClusterError(f"pod {name}-{clone} of zone {zone!r} is not running: see `autonomy zone status`")
        return ReplTarget(f"{name}-{clone}", f"/proc/{pid}/ns/net", repl_port(spec))

    def public_target(self, zone: str) -> tuple[str, int] | str:
        running = self._zones.get(zone)
        if running is None:
            return f"no zone {zone!r} is running in this cluster"
        main = main_pod(running.spec)
        if not main.public:
            return f"zone {zone!r} is private: its main pod {main.name!r} is not public"
        instance = next((p for p in running.pods if p.pod == main.name and p.clone == 0), None)
        if instance is None:
            return f"zone {zone!r}: its main pod {main.name!r} is not running; see `autonomy zone status`"
        return instance.address, instance.port

    def _url(self, zone: Any) -> str | None:
        main = main_pod(zone)
        return self.public_url_template.format(cluster=self.cluster_id, zone=zone.name) if main.public else None


def _app_dir_summary(available: tuple[bool, str]) -> str:
    return "private, writable" if available[0] else f"read-only ({available[1]}): write to /tmp"


def _store_source(source_dir: Path, dest: Path) -> None:
    """Keep a copy of the zone's images/ (a restore rebuilds from it; the user's folder may change)."""
    staging = dest.with_name(dest.name + ".new")
    shutil.rmtree(staging, ignore_errors=True)
    staging.mkdir(parents=True)
    if (Path(source_dir) / "images").is_dir():
        shutil.copytree(Path(source_dir) / "images", staging / "images", symlinks=True)
    shutil.rmtree(dest, ignore_errors=True)
    os.replace(staging, dest)


async def _last_exit_code(container: Any) -> str:
    """The code ``container`` last exited with. Restarted by the engine and running again, its state holds
    no exit code (0): a crash-looping container exits again within moments, so wait briefly for that."""
    for _ in range(50):
        if container.status != "running":
            return str(container.attrs["State"].get("ExitCode"))
        await asyncio.sleep(0.1)  # another process's state: there is no event to wait on here
        await asyncio.to_thread(container.reload)
    return "unknown: it was restarted and runs again"


def _container_credentials(data: bytes, dest: Path, uid: int) -> Path:
    """The fabric credentials ``data`` as the zone's containers may read them: mode 0400, owned by the
    zone's ``uid`` when we can chown (as root). Inside a container only the bind-mounted file is checked."""
    dest.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    if dest.exists():
        os.chmod(dest, 0o600)
    _write_private(dest, data)
    if os.geteuid() == 0:
        os.chown(dest, uid, uid)
    os.chmod(dest, 0o400)
    return dest


def _write_private(path: Path, data: str | bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    raw = data.encode() if isinstance(data, str) else data
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        os.write(fd, raw)
    finally:
        os.close(fd)
