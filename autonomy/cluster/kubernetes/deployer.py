"""The Kubernetes backend: zones as plain manifests, applied with server-side apply; no daemon.

:class:`KubernetesDeployer` implements :class:`autonomy.cluster.deployer.Deployer`. Its async methods
run the synchronous API calls in a worker thread. ``zone deploy``:

1. pin the zone's images (build and push, or ``--no-build``: digests of images already pushed);
2. render (:func:`~autonomy.cluster.kubernetes.render.render_zone`);
3. apply its namespace and have the API server check every other object (a server-side dry run with
   strict field validation), so a refused object changes nothing else;
4. give the zone its fabric user: when the zone's node names changed, the NATS config Secret is
   re-applied and the NATS StatefulSet rolls (one server at a time; clients fail over), and the deploy
   waits for that first, so the zone's nodes never meet a server that does not know their user;
5. apply every object (server-side apply, field manager ``autonomy``; a StatefulSet whose immutable
   fields changed is deleted and re-created), then prune what carries the zone's label but left the spec;
6. wait for the rollout with progress per pod, failing fast with the pod and its cause.

A deploy refused at steps 3-6 (a pod that cannot start, an object the API refuses, the deadline) is
undone: the objects the zone had before are applied again and the new ones pruned (a zone that did
not exist is deleted), and the zone's fabric user and gateway key put back, so the zone is left as it
was before; the error names the pod, its cause, its events and its last log lines.
"""

from __future__ import annotations

import asyncio
import base64
import json
import os
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from autonomy.cluster.deployer import Progress
from autonomy.cluster.kubernetes import labels as L
from autonomy.cluster.kubernetes import observe
from autonomy.cluster.kubernetes.api import APPLY_ORDER, KubeApi, KubeApiError
from autonomy.cluster.kubernetes.config import KubeCluster
from autonomy.cluster.kubernetes.fabric import zone_user
from autonomy.cluster.kubernetes.images import Publisher, built_refs, pushed_refs
from autonomy.cluster.kubernetes.render import ZoneRender, node_names, public_pod, render_zone
from autonomy.cluster.kubernetes.rollout import wait_for_sets
from autonomy.cluster.kubernetes.system import render_system
from autonomy.errors import ClusterError
from autonomy.transport.credentials import ClusterCredentials
from autonomy.zones.spec import ZoneSpec

__all__ = ["KubernetesDeployer", "DEPLOY_TIMEOUT"]

DEPLOY_TIMEOUT = float(os.environ.get("AUTONOMY_DEPLOY_TIMEOUT", "300"))  # image pulls take a while
DELETE_TIMEOUT = 300.0
_ZONE_KINDS = [k for k in APPLY_ORDER if k != "Namespace"]


class KubernetesDeployer:
    """Zones of the enrolled Kubernetes cluster ``cluster``, reached through ``api``."""

    network = "kubernetes"

    def __init__(self, cluster: KubeCluster, api: KubeApi, credentials: ClusterCredentials, *,
                 publisher: Publisher | None = None, no_build: bool = False,
                 digest: Callable[[str, str], str | None] | None = None, timeout: float = DEPLOY_TIMEOUT,
                 poll: float = 1.0) -> None:
        self.cluster, self.api, self.credentials = cluster, api, credentials
        self.publisher, self.no_build, self.digest = publisher, no_build, digest
        self.timeout, self.poll = timeout, poll

    # --- Deployer ---------------------------------------------------------------------------------
    async def deploy(self, zone: ZoneSpec, secrets: dict[str, str], source_dir: Path, progress: Progress,
                     *, restore: bool = False) -> dict[str, Any]:
        return await asyncio.to_thread(self.deploy_sync, zone, secrets, Path(source_dir), progress)

    async def delete(self, name: str) -> dict[str, Any]:
        return await asyncio.to_thread(self.delete_sync, name)

    async def stop(self) -> None:
        """Nothing runs on this machine: zones keep running in the cluster."""

    def zones(self) -> list[dict[str, Any]]:
        return observe.list_zones(self.cluster, self.api)

    def status(self, name: str) -> dict[str, Any]:
        return observe.zone_status(self.cluster, self.api, name)

    def log_files(self, name: str, pod: str | None, container: str | None) -> list[tuple[str, Path]]:
        raise ClusterError("logs of a Kubernetes zone are not files on this machine: use logs()")

    def public_target(self, zone: str) -> tuple[str, int] | str:
        return f"zone {zone} is served by its Ingress in the cluster, not by a gateway on this machine"

    def logs(self, name: str, pod: str | None = None, container: str | None = None, follow: bool = False,
             tail: int = 100) -> Iterator[str]:
        """Log lines of the zone's containers, ``[pod-clone/container]``-prefixed when several are shown."""
        return observe.zone_logs(self.cluster, self.api, name, pod, container, follow, tail)

    def describe(self) -> dict[str, Any]:
        """The cluster as ``cluster show`` prints it, with the health of NATS and the model gateway."""
        return observe.describe(self.cluster, self.api)

    def dry_run(self, zone: ZoneSpec, secrets: dict[str, str], source_dir: Path) -> str:
        """The manifests a deploy would apply (YAML, Secret data redacted), contacting nothing: images by
        their content tags (a deploy pins digests)."""
        from autonomy.cluster.kubernetes.images import tagged_refs
        from autonomy.cluster.kubernetes.manifests import to_yaml

        placeholder = {"tls.crt": "", "tls.key": ""} if self.cluster.tls_secret else None
        return to_yaml(self.manifests(zone, secrets, tagged_refs(self.cluster, zone, Path(source_dir)), placeholder))

    # --- deploy -------------------------------------------------------------------------------------
    def manifests(self, zone: ZoneSpec, secrets: dict[str, str], images: dict[str, str],
                  public_tls: dict[str, str] | None = None) -> list[dict[str, Any]]:
        return render_zone(self.cluster, zone, ZoneRender(images=images, secrets=secrets,
                                                          credentials=self.credentials, public_tls=public_tls))

    def deploy_sync(self, zone: ZoneSpec, secrets: dict[str, str], source_dir: Path,
                    progress: Progress) -> dict[str, Any]:
        if self.no_build:
            images = pushed_refs(self.cluster, zone, source_dir, **({"digest": self.digest} if self.digest else {}))
        else:
            images = built_refs(self.cluster, zone, source_dir, progress, self.publisher)
        docs = self.manifests(zone, secrets, images, self._public_tls(zone))
        ns = self.cluster.zone_namespace(zone.name)
        before = self._snapshot(zone.name, ns)
        users_before = self._zone_nodes()
        try:
            self._apply(docs[:1], progress)  # the namespace: the server checks the rest inside it
            self._check(docs[1:], progress)
            self._ensure_fabric_user(zone.name, node_names(self.cluster, zone), progress)
            self._apply(docs[1:], progress)
            self._prune(zone.name, ns, docs, progress)
            wait_for_sets(self.api, ns, f"{L.ZONE}={zone.name}", [p.name for p in zone.pods], progress=progress,
                          timeout=self.timeout, poll=self.poll, node_name=self._node_of(zone))
        except ClusterError as failure:  # a pod that cannot start, a refused object, the deadline
            progress("rollback", f"zone {zone.name}: putting back what ran before this deploy")
            try:
                self._restore(zone.name, ns, before, users_before, progress)
            except ClusterError as again:
                raise ClusterError(f"zone {zone.name} was not deployed: {failure}\nPutting back what ran before "
                                   f"failed too: {again}") from None
            raise ClusterError(f"zone {zone.name} was not deployed: {failure}\n"
                               f"The zone was left as it was before this deploy.") from None
        pods = [{"pod": p.name, "clones": p.clones, "nodes": p.node_names(self.cluster.id, zone.name)}
                for p in zone.pods]
        public = public_pod(zone) is not None and bool(self.cluster.domain)
        return {"zone": zone.name, "url": self.cluster.public_url(zone.name) if public else None, "pods": pods,
                "namespace": ns}

    def _node_of(self, zone: ZoneSpec) -> Callable[[dict[str, Any]], str | None]:
        def node(pod: dict[str, Any]) -> str | None:
            labels = pod["metadata"].get("labels", {})
            try:
                spec = zone.pod(labels.get(L.POD, ""))
            except KeyError:
                return None
            index = int(labels.get("apps.kubernetes.io/pod-index", pod["metadata"]["name"].rsplit("-", 1)[-1]))
            names = spec.node_names(self.cluster.id, zone.name)
            return names[index] if index < len(names) else None
        return node

    def _public_tls(self, zone: ZoneSpec) -> dict[str, str] | None:
        if not (self.cluster.tls_secret and self.cluster.domain and public_pod(zone) is not None):
            return None
        namespace, _, name = self.cluster.tls_secret.rpartition("/")
        secret = self.api.get("Secret", namespace or self.cluster.system_namespace, name)
        data = (secret or {}).get("data") or {}
        if "tls.crt" not in data or "tls.key" not in data:
            raise ClusterError(f"--tls-secret {self.cluster.tls_secret}: no Secret with tls.crt and tls.key in "
                               f"namespace {namespace or self.cluster.system_namespace}: create it (kubectl create "
                               "secret tls ...) or enroll again with --cluster-issuer")
        return {k: base64.b64decode(data[k]).decode() for k in ("tls.crt", "tls.key")}

    def _apply(self, docs: list[dict[str, Any]], progress: Progress) -> None:
        for doc in docs:
            meta = doc["metadata"]
            try:
                self.api.apply(doc)
            except KubeApiError as exc:
                if exc.status != 422 or doc["kind"] != "StatefulSet":
                    raise
                # An immutable field changed (selector, serviceName, podManagementPolicy): re-create it.
                progress("apply", f"{doc['kind']}/{meta['name']}: re-created (a field that cannot change did)")
                self.api.delete("StatefulSet", meta.get("namespace"), meta["name"], propagation="Foreground")
                self._wait_gone("StatefulSet", meta.get("namespace"), meta["name"], 120)
                self.api.apply(doc)
            progress("apply", f"{doc['kind']}/{meta['name']}")

    def _check(self, docs: list[dict[str, Any]], progress: Progress) -> None:
        """A server-side dry run of every object (schema, admission, quotas) before anything changes."""
        for doc in docs:
            try:
                self.api.apply(doc, dry_run=True)
            except KubeApiError as exc:
                if exc.status == 422 and doc["kind"] == "StatefulSet":
                    continue  # an immutable field changed: re-created at apply
                raise ClusterError(f"{doc['kind']}/{doc['metadata']['name']}: the API server refuses it: "
                                   f"{exc.api_message or exc}") from None
        progress("check", f"{len(docs)} objects accepted by the API server (dry run)")

    def _prune(self, zone: str, ns: str, docs: list[dict[str, Any]], progress: Progress) -> None:
        keep = {(d["kind"], d["metadata"]["name"]) for d in docs}
        for kind in reversed(_ZONE_KINDS):
            for obj in self.api.list(kind, ns, labels=f"{L.ZONE}={zone}"):
                name = obj["metadata"]["name"]
                if (kind, name) not in keep:
                    self.api.delete(kind, ns, name, propagation="Foreground")
                    progress("prune", f"{kind}/{name}")

    def _snapshot(self, zone: str, ns: str) -> list[dict[str, Any]] | None:
        """What the zone is made of now (None: no such zone), as documents that can be applied again."""
        if self.api.get("Namespace", None, ns) is None:
            return None
        docs = []
        for kind in APPLY_ORDER:
            objects = [self.api.get("Namespace", None, ns)] if kind == "Namespace" else \
                self.api.list(kind, ns, labels=f"{L.ZONE}={zone}")
            for obj in objects:
                if obj is None:
                    continue
                meta = obj["metadata"]
                clean = {k: v for k, v in obj.items() if k not in ("status",)}
                clean["kind"] = kind
                clean["metadata"] = {k: meta[k] for k in ("name", "namespace", "labels", "annotations") if k in meta}
                docs.append(clean)
        return docs

    def _restore(self, zone: str, ns: str, before: list[dict[str, Any]] | None,
                 users_before: dict[str, list[str]], progress: Progress) -> None:
        if before is None:
            self._delete_namespace(zone, ns, progress)
        else:  # the namespace itself was never changed by a deploy (and its spec is not ours to apply)
            self._apply([d for d in before if d["kind"] != "Namespace"], progress)
            self._prune(zone, ns, before, progress)
        if users_before.get(zone) != self._zone_nodes().get(zone):
            self._write_fabric_users(users_before, progress, wait=False)

    # --- the fabric users (system namespace) ---------------------------------------------------------
    def _zone_nodes(self) -> dict[str, list[str]]:
        secret = self.api.get("Secret", self.cluster.system_namespace, "nats-config")
        if secret is None:
            raise ClusterError(f"the system namespace {self.cluster.system_namespace} has no nats-config Secret: "
                               "enroll the cluster again (autonomy cluster enroll --kubernetes ...)")
        raw = (secret.get("data") or {}).get("zones.json")
        return json.loads(base64.b64decode(raw)) if raw else {}

    def _ensure_fabric_user(self, zone: str, nodes: list[str], progress: Progress) -> None:
        users = self._zone_nodes()
        if users.get(zone) == nodes:
            return
        users[zone] = nodes
        progress("fabric", f"giving zone {zone} its fabric user (the NATS servers restart one at a time)")
        self._write_fabric_users(users, progress, wait=True)

    def _gateway_config(self) -> dict[str, Any] | None:
        secret = self.api.get("Secret", self.cluster.system_namespace, "model-gateway-config")
        raw = ((secret or {}).get("data") or {}).get("config.json")
        return json.loads(base64.b64decode(raw)) if raw else None

    def _write_fabric_users(self, users: dict[str, list[str]], progress: Progress, *, wait: bool) -> None:
        """The zones' NATS users and model-gateway keys in the system namespace (providers kept as they are)."""
        zones = [zone_user(self.credentials, z, n) for z, n in sorted(users.items())]
        wanted = {("Secret", "nats-config"), ("StatefulSet", "nats"), ("Secret", "model-gateway-config"),
                  ("Deployment", "model-gateway")}
        for doc in render_system(self.cluster, self.credentials, zones, self._gateway_config()):
            if (doc["kind"], doc["metadata"]["name"]) in wanted:
                self.api.apply(doc)
        if wait:
            wait_for_sets(self.api, self.cluster.system_namespace, "app=nats", ["nats"], progress=progress,
                          timeout=self.timeout, poll=self.poll)

    # --- delete ---------------------------------------------------------------------------------------
    def delete_sync(self, name: str) -> dict[str, Any]:
        ns = self._zone_namespace(name)
        self._delete_namespace(name, ns, lambda step, detail: None)
        users = self._zone_nodes()
        if users.pop(name, None) is not None:
            self._write_fabric_users(users, lambda step, detail: None, wait=False)
        return {"zone": name, "deleted": True, "namespace": ns}

    def _delete_namespace(self, zone: str, ns: str, progress: Progress) -> None:
        self.api.delete("Namespace", None, ns, propagation="Foreground")
        progress("delete", f"namespace {ns}")
        self._wait_gone("Namespace", None, ns, DELETE_TIMEOUT)

    def _wait_gone(self, kind: str, namespace: str | None, name: str, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while True:
            obj = self.api.get(kind, namespace, name)
            if obj is None:
                return
            if time.monotonic() > deadline:
                blocking = obj["metadata"].get("finalizers") or obj.get("spec", {}).get("finalizers") or []
                conditions = [c.get("message", "") for c in (obj.get("status") or {}).get("conditions") or []
                              if c.get("status") == "True"]
                raise ClusterError(f"{kind} {name} is still being deleted after {timeout:g} s"
                                   + (f"; finalizers: {', '.join(blocking)}" if blocking else "")
                                   + (f"; {'; '.join(conditions)}" if conditions else ""))
            time.sleep(self.poll)

    def _zone_namespace(self, name: str) -> str:
        return observe.zone_namespace(self.cluster, self.api, name)
