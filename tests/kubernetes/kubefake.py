"""An in-memory Kubernetes API for the client-flow tests: kmock 0.8's emulator plus what it lacks.

kmock (pinned: this subclass patches its path parser) serves objects over real HTTP. It lacks, and
this fills in: Namespace objects (its path parser fails on ``/api/v1/namespaces[/NAME]``), server-side
apply creating missing objects (and replacing the applier's fields instead of merging them), label and
field selectors, ``deletecollection``, server-set metadata (uid, resourceVersion, generation),
``dryRun``, namespace deletion with cascade (after a short "Terminating"), SelfSubjectAccessReviews,
pod logs, a configurable ``/version``, and a simulated StatefulSet/Deployment controller that creates
pods (ordinals, ``controller-revision-hash``) and reports status. Tests steer pods with
:attr:`KubeFake.pod_status` (a function of the pod) and :attr:`KubeFake.logs`.

What it cannot show (docs/kubernetes.md): strategic-merge and managedFields semantics, real scheduling,
image pulls, probes, NetworkPolicy enforcement.
"""

from __future__ import annotations

import asyncio
import copy
import datetime
import hashlib
import itertools
import json
import threading
import traceback
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import attrs
import kmock
from kmock._internal import dicts, parsing, references

_ORIGINAL_PARSE_PATH = parsing.parse_path
_SERVER_OWNED_META = ("uid", "resourceVersion", "creationTimestamp", "generation", "deletionTimestamp")


def _parse_path(path: str) -> parsing.ParsedPath:
    parts = path.strip("/").split("/")
    if parts[:3] == ["api", "v1", "namespaces"] and len(parts) in (3, 4, 5):
        if len(parts) == 5 and parts[4] != "status":  # /api/v1/namespaces/NS/pods: a namespaced list
            return _ORIGINAL_PARSE_PATH(path)
        return parsing.ParsedPath("", "v1", "namespaces", None, parts[3] if len(parts) > 3 else None,
                                  parts[4] if len(parts) > 4 else None)
    return _ORIGINAL_PARSE_PATH(path)


def _now() -> str:
    return datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _matches(labels: dict[str, str], selector: str | None) -> bool:
    """Equality (=, ==, !=), set (in, notin) and existence (key, !key) selectors, comma-joined."""
    if not selector:
        return True
    for term in _split_terms(selector):
        term = term.strip()
        if " notin " in term or " in " in term:
            key, op, values = term.replace(" notin ", " notin|").replace(" in ", " in|").partition(" ")
            op, _, rest = values.partition("|")
            allowed = {v.strip() for v in rest.strip().strip("()").split(",")}
            if (labels.get(key) in allowed) != (op == "in") or (op == "in" and key not in labels):
                return False
        elif "!=" in term:
            key, value = term.split("!=", 1)
            if labels.get(key.strip()) == value.strip():
                return False
        elif "=" in term:
            key, value = term.replace("==", "=").split("=", 1)
            if labels.get(key.strip()) != value.strip():
                return False
        elif term.startswith("!"):
            if term[1:] in labels:
                return False
        elif term not in labels:
            return False
    return True


def _split_terms(selector: str) -> list[str]:
    terms, depth, current = [], 0, ""
    for ch in selector:
        depth += ch == "("
        depth -= ch == ")"
        if ch == "," and depth == 0:
            terms.append(current)
            current = ""
        else:
            current += ch
    return [*terms, current] if current else terms


def _field_value(obj: dict[str, Any], path: str) -> Any:
    value: Any = obj
    for part in path.split("."):
        value = value.get(part) if isinstance(value, dict) else None
    return value


def _fields_match(obj: dict[str, Any], selector: str | None) -> bool:
    for term in _split_terms(selector or ""):
        key, _, value = term.replace("==", "=").partition("=")
        if str(_field_value(obj, key.strip())) != value.strip():
            return False
    return True


def ready_status(pod: dict[str, Any]) -> dict[str, Any]:
    """The status of a pod whose containers all run and are ready (the default)."""
    return {"phase": "Running", "conditions": [{"type": "PodScheduled", "status": "True"},
                                               {"type": "Ready", "status": "True"}],
            "containerStatuses": [{"name": c["name"], "ready": True, "restartCount": 0, "image": c["image"],
                                   "imageID": c["image"], "state": {"running": {"startedAt": _now()}}}
                                  for c in pod["spec"]["containers"]]}


@attrs.define(kw_only=True)
class KubeFake(kmock.KubernetesEmulator):
    minor: int = 30
    denied: set[tuple[str, str]] = attrs.field(factory=set)       # (verb, resource) refused by access reviews
    pod_status: Callable[[dict[str, Any]], dict[str, Any]] = ready_status
    logs: dict[tuple[str, str], list[str]] = attrs.field(factory=dict)  # (pod, container) -> lines
    previous_logs: dict[tuple[str, str], list[str]] = attrs.field(factory=dict)
    namespace_delete_delay: float = 0.2
    _versions: Iterator[int] = attrs.field(factory=lambda: itertools.count(1))

    def __attrs_post_init__(self) -> None:
        super().__attrs_post_init__()
        self.fallback[kmock.method.DELETE] << self._serve_delete_collection

    async def _handle(self, request: kmock.Request) -> Any:
        # Skip the emulator's own state changes (they refuse SSA on missing objects); ours happen in
        # the fallback handlers below, so a test's reaction (e.g. an injected 422) changes nothing.
        return await kmock.KubernetesScaffold._handle(self, request)

    # --- the store ---------------------------------------------------------------------------------
    def store(self, resource: Any, namespace: str | None, name: str) -> dict[str, Any] | None:
        key = (resource, namespace, name)
        if key not in self._objects:
            return None
        obj = self._objects[key]
        return None if obj.deleted else obj.raw

    def items(self, plural: str, namespace: str | None = None) -> list[dict[str, Any]]:
        """Every live object of ``plural`` (in ``namespace`` if given): for assertions."""
        return [obj.raw for (res, ns, _), obj in list(self._objects.items())
                if res.plural == plural and not obj.deleted and (namespace is None or ns == namespace)]

    def _put(self, resource: Any, namespace: str | None, name: str, body: dict[str, Any], event: str) -> None:
        """Store ``body`` as the latest version (``event``: ADDED or MODIFIED, for the reader)."""
        key = (resource, namespace, name)
        if key in self._objects:
            self._objects[key].create(body)
        else:
            self._objects[key] = body
        # No watch events: the backend polls (docs/kubernetes.md), so nothing here needs kmock's watch bus.

    def _remove(self, resource: Any, namespace: str | None, name: str) -> None:
        key = (resource, namespace, name)
        if key in self._objects and not self._objects[key].deleted:
            self._objects[key].delete()

    def _resource(self, plural: str) -> Any:
        groups = {"statefulsets": ("apps", "v1"), "deployments": ("apps", "v1"), "pods": ("", "v1"),
                  "events": ("", "v1"), "namespaces": ("", "v1")}
        group, version = groups[plural]
        return references.resource(group=group, version=version, plural=plural)

    def _meta_new(self, body: dict[str, Any], namespace: str | None) -> dict[str, Any]:
        body = copy.deepcopy(body)
        meta = body.setdefault("metadata", {})
        if namespace is not None:
            meta["namespace"] = namespace
        meta |= {"uid": str(uuid.uuid4()), "resourceVersion": str(next(self._versions)), "creationTimestamp": _now()}
        if "spec" in body or "template" in body.get("spec", {}):
            meta["generation"] = 1
        return body

    def _check_namespace(self, request: kmock.Request, namespace: str | None) -> None:
        if namespace is None or request.resource.plural == "namespaces":
            return
        ns = self.store(self._resource("namespaces"), None, namespace)
        if ns is None:
            raise kmock.KubernetesError(status=404, reason="NotFound", message=f'namespaces "{namespace}" not found')
        if ns["metadata"].get("deletionTimestamp"):
            raise kmock.KubernetesError(status=403, reason="Forbidden", message=(
                f'unable to create new content in namespace {namespace} because it is being terminated'))

    # --- verbs -------------------------------------------------------------------------------------
    async def _serve_server_version(self, request: kmock.Request) -> dict[str, Any]:
        return {"major": "1", "minor": str(self.minor), "gitVersion": f"v1.{self.minor}.0"}

    async def _serve_create(self, request: kmock.Request) -> Any:
        body = request.data or {}
        if request.resource.plural == "selfsubjectaccessreviews":
            attrs_ = body.get("spec", {}).get("resourceAttributes", {})
            allowed = (attrs_.get("verb"), attrs_.get("resource")) not in self.denied
            return {**body, "status": {"allowed": allowed}}
        namespace = request.namespace or body.get("metadata", {}).get("namespace")
        name = body.get("metadata", {}).get("name")
        self._check_namespace(request, namespace)
        if self.store(request.resource, namespace, name) is not None:
            raise kmock.KubernetesError(status=409, reason="AlreadyExists", message=f'"{name}" already exists')
        obj = self._meta_new(body, namespace)
        if request.resource.plural == "namespaces":
            obj["status"] = {"phase": "Active"}
            obj["metadata"].setdefault("labels", {})["kubernetes.io/metadata.name"] = name
        if request.params.get("dryRun") != "All":
            self._put(request.resource, namespace, name, obj, "ADDED")
        return kmock.Response(status=201, payload=obj)

    async def _serve_update(self, request: kmock.Request) -> Any:
        content_type = request.headers.get("Content-Type", "")
        current = self.store(request.resource, request.namespace, request.name)
        body = request.data if isinstance(request.data, dict) else {}
        if "apply-patch" in content_type:
            if current is None:  # server-side apply creates what is missing
                self._check_namespace(request, request.namespace)
                obj = self._meta_new(body, request.namespace)
                if request.resource.plural == "namespaces":
                    obj["status"] = {"phase": "Active"}
                    obj["metadata"].setdefault("labels", {})["kubernetes.io/metadata.name"] = request.name
                if request.params.get("dryRun") != "All":
                    self._put(request.resource, request.namespace, request.name, obj, "ADDED")
                return kmock.Response(status=201, payload=obj)
            # The applier owns exactly what it sends: its fields are replaced, server fields kept.
            obj = copy.deepcopy(body)
            meta = obj.setdefault("metadata", {})
            for key in _SERVER_OWNED_META:
                if key in current["metadata"]:
                    meta[key] = current["metadata"][key]
            if request.namespace is not None:
                meta["namespace"] = request.namespace
            if request.resource.plural == "namespaces":
                meta.setdefault("labels", {})["kubernetes.io/metadata.name"] = request.name
            if "status" in current:
                obj["status"] = current["status"]
            if "generation" in meta and obj.get("spec") != current.get("spec"):
                meta["generation"] += 1
        else:
            if current is None:
                raise kmock.KubernetesError(status=404, reason="NotFound", message=f'"{request.name}" not found')
            obj = dicts.patch_dict(copy.deepcopy(current), body)
        obj["metadata"]["resourceVersion"] = str(next(self._versions))
        if request.params.get("dryRun") != "All":
            self._put(request.resource, request.namespace, request.name, obj, "MODIFIED")
        return obj

    async def _serve_fetch(self, request: kmock.Request) -> Any:
        if request.subresource == "log":
            container = request.params.get("container")
            source = self.previous_logs if request.params.get("previous") == "true" else self.logs
            lines = source.get((request.name, container or ""), source.get((request.name, None), []))  # type: ignore[arg-type]
            tail = request.params.get("tailLines")
            if tail is not None:
                lines = lines[-int(tail):] if int(tail) else []
            return kmock.Response(headers={"Content-Type": "text/plain"},
                                  payload="".join(f"{line}\n" for line in lines).encode())
        obj = self.store(request.resource, request.namespace, request.name)
        if obj is None:
            raise kmock.KubernetesError(status=404, reason="NotFound",
                                        message=f'{request.resource.plural} "{request.name}" not found')
        return obj

    async def _serve_list(self, request: kmock.Request) -> Any:
        labels, fields = request.params.get("labelSelector"), request.params.get("fieldSelector")
        items = [obj.raw for (res, ns, _), obj in list(self._objects.items())
                 if res == request.resource and not obj.deleted
                 and (request.namespace is None or ns == request.namespace)
                 and _matches(obj.raw.get("metadata", {}).get("labels") or {}, labels)
                 and _fields_match(obj.raw, fields)]
        kind = {"namespaces": "Namespace", "statefulsets": "StatefulSet", "pods": "Pod"}.get(
            request.resource.plural, request.resource.plural.capitalize())
        return {"kind": f"{kind}List", "apiVersion": "v1",
                "metadata": {"resourceVersion": str(next(self._versions))}, "items": items}

    async def _serve_delete(self, request: kmock.Request) -> Any:
        obj = self.store(request.resource, request.namespace, request.name)
        if obj is None:
            raise kmock.KubernetesError(status=404, reason="NotFound", message=f'"{request.name}" not found')
        if request.resource.plural == "namespaces":
            if not obj["metadata"].get("deletionTimestamp"):
                obj = copy.deepcopy(obj)
                obj["metadata"]["deletionTimestamp"] = _now()
                obj["status"] = {"phase": "Terminating"}
                self._put(request.resource, None, request.name, obj, "MODIFIED")
                asyncio.get_running_loop().call_later(self.namespace_delete_delay, self._finish_namespace,
                                                      request.name)
            return obj
        self._remove(request.resource, request.namespace, request.name)
        if request.resource.plural in ("statefulsets", "deployments"):  # garbage collection of owned pods
            for pod in self._owned_pods(request.namespace, request.name):
                self._remove(self._resource("pods"), request.namespace, pod["metadata"]["name"])
        return obj

    async def _serve_delete_collection(self, request: kmock.Request) -> Any:
        if request.name is not None or request.resource is None:
            raise NotImplementedError  # a named delete: kmock's action handler serves it
        labels = request.params.get("labelSelector")
        gone = [key for key, obj in list(self._objects.items())
                if key[0] == request.resource and not obj.deleted and key[1] == request.namespace
                and _matches(obj.raw.get("metadata", {}).get("labels") or {}, labels)]
        for key in gone:
            self._remove(*key)
        return {"kind": "Status", "apiVersion": "v1", "status": "Success"}

    def _finish_namespace(self, name: str) -> None:
        for key, obj in list(self._objects.items()):
            if key[1] == name and not obj.deleted:
                obj.delete()
        self._remove(self._resource("namespaces"), None, name)

    # --- a StatefulSet and Deployment controller -------------------------------------------------------
    def _owned_pods(self, namespace: str | None, owner: str) -> list[dict[str, Any]]:
        return [p for p in self.items("pods", namespace)
                if any(r.get("name") == owner for r in p["metadata"].get("ownerReferences", []))]

    def reconcile(self) -> None:
        """One pass of the simulated controllers (the background task calls it every 20 ms)."""
        for sts in self.items("statefulsets"):
            self._reconcile_set(sts)
        for deployment in self.items("deployments"):
            status = {"observedGeneration": deployment["metadata"].get("generation", 1),
                      "replicas": deployment["spec"].get("replicas", 1),
                      "readyReplicas": deployment["spec"].get("replicas", 1),
                      "updatedReplicas": deployment["spec"].get("replicas", 1)}
            if deployment.get("status") != status:
                self._put(self._resource("deployments"), deployment["metadata"]["namespace"],
                          deployment["metadata"]["name"], {**deployment, "status": status}, "MODIFIED")

    def _reconcile_set(self, sts: dict[str, Any]) -> None:
        meta, spec = sts["metadata"], sts["spec"]
        ns, name = meta["namespace"], meta["name"]
        template = spec["template"]
        revision = f"{name}-{hashlib.sha256(json.dumps(template, sort_keys=True).encode()).hexdigest()[:10]}"
        pods = {p["metadata"]["name"]: p for p in self._owned_pods(ns, name)}
        pod_resource = self._resource("pods")
        for i in range(spec.get("replicas", 1)):
            pod_name = f"{name}-{i}"
            pod = pods.pop(pod_name, None)
            if pod is not None and pod["metadata"]["labels"].get("controller-revision-hash") == revision:
                status = self.pod_status(pod)
                if pod.get("status") != status:
                    self._put(pod_resource, ns, pod_name, {**pod, "status": status}, "MODIFIED")
                continue
            labels = {**template["metadata"].get("labels", {}), "controller-revision-hash": revision,
                      "statefulset.kubernetes.io/pod-name": pod_name, "apps.kubernetes.io/pod-index": str(i)}
            new = self._meta_new({"apiVersion": "v1", "kind": "Pod", "metadata": {
                "name": pod_name, "labels": labels, "annotations": template["metadata"].get("annotations", {}),
                "ownerReferences": [{"kind": "StatefulSet", "name": name, "apiVersion": "apps/v1",
                                     "uid": meta["uid"]}]}, "spec": {**copy.deepcopy(template["spec"]),
                                                                     "nodeName": "worker-1"}}, ns)
            new["status"] = self.pod_status(new)
            self._put(pod_resource, ns, pod_name, new, "ADDED")
        for pod_name in pods:  # ordinals beyond replicas
            self._remove(pod_resource, ns, pod_name)
        current = self._owned_pods(ns, name)
        ready = [p for p in current if p["metadata"]["labels"].get("controller-revision-hash") == revision
                 and any(c["type"] == "Ready" and c["status"] == "True" for c in p["status"].get("conditions", []))]
        updated = [p for p in current if p["metadata"]["labels"].get("controller-revision-hash") == revision]
        status = {"observedGeneration": meta.get("generation", 1), "replicas": len(current),
                  "readyReplicas": len(ready), "updatedReplicas": len(updated), "currentReplicas": len(updated),
                  "updateRevision": revision,
                  "currentRevision": revision if len(updated) == spec.get("replicas", 1) else sts.get(
                      "status", {}).get("currentRevision", "")}
        if sts.get("status") != status:
            self._put(self._resource("statefulsets"), ns, name, {**sts, "status": status}, "MODIFIED")


@contextmanager
def running(fake: KubeFake) -> Iterator[str]:
    """Serve ``fake`` on 127.0.0.1 from a thread of its own (the code under test is synchronous);
    yields its URL. Patches kmock's path parser for the duration."""
    parsing.parse_path = _parse_path
    loop = asyncio.new_event_loop()
    started = threading.Event()
    url: list[str] = []
    stop: asyncio.Event | None = None  # created inside the server's loop

    async def main() -> None:
        nonlocal stop
        stop = asyncio.Event()
        async with fake, kmock.Server(fake) as server:
            url.append(str(server.url).rstrip("/"))
            started.set()

            async def controllers() -> None:
                while True:
                    try:
                        fake.reconcile()
                    except Exception:  # a bug in the simulation must show, not freeze the rollout
                        traceback.print_exc()
                    await asyncio.sleep(0.02)

            task = asyncio.create_task(controllers())
            await stop.wait()
            task.cancel()

    thread = threading.Thread(target=loop.run_until_complete, args=(main(),), daemon=True)
    thread.start()
    try:
        if not started.wait(30):
            raise RuntimeError("the fake Kubernetes API did not start")
        yield url[0]
    finally:
        loop.call_soon_threadsafe(stop.set)  # type: ignore[union-attr]
        thread.join(30)
        loop.close()
        parsing.parse_path = _ORIGINAL_PARSE_PATH
