"""Reading a Kubernetes cluster's zones: list, status (pods, clones, containers, problems, events),
logs (merged, followed) and the cluster itself for ``cluster show``. Read-only: every function makes GET
requests only."""

from __future__ import annotations

import queue
import threading
from collections.abc import Iterator
from typing import Any

from autonomy.cluster.kubernetes import labels as L
from autonomy.cluster.kubernetes.api import KubeApi, path_of
from autonomy.cluster.kubernetes.config import KubeCluster
from autonomy.cluster.kubernetes.rollout import pod_failure, set_rolled_out
from autonomy.errors import ClusterError

__all__ = ["NETWORK", "describe", "list_zones", "zone_logs", "zone_namespace", "zone_status"]

NETWORK = "kubernetes"


def list_zones(cluster: KubeCluster, api: KubeApi) -> list[dict[str, Any]]:
    """One row per zone namespace of the cluster: zone, url, public, pods, network, state, namespace."""
    namespaces = api.list("Namespace", labels=L.selector(L.common(cluster.id)))
    sets = api.list("StatefulSet", labels=L.selector(L.common(cluster.id)))
    out = []
    for ns in sorted(namespaces, key=lambda n: n["metadata"]["name"]):
        zone = ns["metadata"].get("labels", {}).get(L.ZONE)
        if not zone:
            continue  # the system namespace
        mine = [s for s in sets if s["metadata"].get("namespace") == ns["metadata"]["name"]]
        ingress = api.get("Ingress", ns["metadata"]["name"], "public")
        state = ("deleting" if ns["metadata"].get("deletionTimestamp") else
                 "running" if mine and all(_ready(s) for s in mine) else "starting")
        out.append({"zone": zone, "url": cluster.public_url(zone) if ingress else None,
                    "public": ingress is not None, "pods": len(mine), "network": NETWORK, "state": state,
                    "namespace": ns["metadata"]["name"]})
    return out


def zone_status(cluster: KubeCluster, api: KubeApi, name: str) -> dict[str, Any]:
    """Per pod and clone: node name, phase, host, containers (state, restarts), the problem that keeps it
    from being ready and its latest events; per StatefulSet: replicas and ready; the pods' limits."""
    ns = zone_namespace(cluster, api, name)
    sets = {s["metadata"]["name"]: s for s in api.list("StatefulSet", ns, labels=f"{L.ZONE}={name}")}
    pods = sorted(api.list("Pod", ns, labels=f"{L.ZONE}={name}"), key=lambda p: p["metadata"]["name"])
    events: dict[str, list[str]] = {}
    if any(not _pod_ready(p) for p in pods):
        listed = api.list("Event", ns)
        for event in sorted(listed, key=lambda e: e.get("lastTimestamp") or e.get("eventTime") or ""):
            about = (event.get("involvedObject") or {}).get("name", "")
            events.setdefault(about, []).append(f"{event.get('reason', '')}: {event.get('message', '')}")
    rows = []
    for pod in pods:
        labels = pod["metadata"].get("labels", {})
        pod_name = labels.get(L.POD, "")
        clone = int(labels.get("apps.kubernetes.io/pod-index", pod["metadata"]["name"].rsplit("-", 1)[-1]))
        replicas = (sets.get(pod_name) or {}).get("spec", {}).get("replicas", 1)
        node = f"{cluster.id}-{name}-{pod_name}" + (f"-{clone}" if replicas > 1 else "")
        containers = []
        for c in (pod.get("status") or {}).get("containerStatuses") or []:
            state = c.get("state") or {}
            kind = next(iter(state), "unknown")
            reason = (state.get(kind) or {}).get("reason")
            containers.append({"container": c["name"], "image": c.get("image"), "ready": c.get("ready", False),
                               "state": f"{kind} ({reason})" if reason else kind,
                               "restarts": c.get("restartCount", 0), "pid": None})
        failure = pod_failure(pod)
        rows.append({"pod": pod_name, "clone": clone, "name": pod["metadata"]["name"], "node": node,
                     "phase": (pod.get("status") or {}).get("phase"), "host": pod["spec"].get("nodeName"),
                     "containers": containers,
                     "problem": f"{failure.reason}: {failure.message}".rstrip(": ") if failure else None,
                     "events": [] if _pod_ready(pod) else events.get(pod["metadata"]["name"], [])[-3:]})
    limits = {n: (s["spec"]["template"]["spec"].get("resources")
                  or s["spec"]["template"]["spec"]["containers"][0].get("resources")) for n, s in sets.items()}
    ingress = api.get("Ingress", ns, "public")
    return {"zone": name, "namespace": ns, "network": NETWORK,
            "url": cluster.public_url(name) if ingress else None, "pods": rows, "limits": limits,
            "sets": {n: {"replicas": s["spec"].get("replicas"), "ready": (s.get("status") or {}).get(
                "readyReplicas", 0)} for n, s in sets.items()}}


def zone_logs(cluster: KubeCluster, api: KubeApi, name: str, pod: str | None = None,
              container: str | None = None, follow: bool = False, tail: int = 100) -> Iterator[str]:
    """Log lines of the zone's containers, ``[pod-clone/container]``-prefixed when several are shown."""
    ns = zone_namespace(cluster, api, name)
    selector = f"{L.ZONE}={name}" + (f",{L.POD}={pod}" if pod else "")
    streams = []
    for p in sorted(api.list("Pod", ns, labels=selector), key=lambda p: p["metadata"]["name"]):
        for c in p["spec"]["containers"]:
            if container is None or c["name"] == container:
                streams.append((f"{p['metadata']['name']}/{c['name']}", p["metadata"]["name"], c["name"]))
    if not streams:
        what = " ".join(filter(None, [f"pod {pod}" if pod else "", f"container {container}" if container else ""]))
        raise ClusterError(f"zone {name} has no {what or 'running pod'} to show logs of")
    prefix = len(streams) > 1

    def lines(label: str, pod_name: str, container_name: str) -> Iterator[str]:
        query = {"container": container_name, "tailLines": tail, "follow": "true" if follow else None}
        for line in api.lines(path_of("Pod", ns, pod_name, "log"), query=query, timeout=None if follow else 60):
            yield f"[{label}] {line}" if prefix else line

    if not follow or len(streams) == 1:
        for stream in streams:
            yield from lines(*stream)
        return
    yield from _merged([lines(*s) for s in streams])


def describe(cluster: KubeCluster, api: KubeApi) -> dict[str, Any]:
    """The cluster as ``cluster show`` prints it, with the health of NATS and the model gateway."""
    c, ns = cluster, cluster.system_namespace
    nats = api.get("StatefulSet", ns, "nats")
    gateway = api.get("Deployment", ns, "model-gateway")

    def health(obj: dict[str, Any] | None) -> str:
        if obj is None:
            return "missing: enroll again"
        ready = (obj.get("status") or {}).get("readyReplicas", 0)
        return f"{ready}/{obj['spec'].get('replicas', 1)} ready"

    return {"id": c.id, "kind": "kubernetes", "context": c.context or "(current)", "server": api.server,
            "registry": c.registry, "pull_registry": c.pull_registry, "domain": c.domain,
            "ingress_class": c.ingress_class, "system_namespace": ns,
            "fabric_url": f"tls://nats.{ns}.svc:4222", "gateway_url": f"http://model-gateway.{ns}.svc:8080",
            "public_url_template": c.public_url("{zone}"), "nats": health(nats), "model_gateway": health(gateway),
            "zones": [z["zone"] for z in list_zones(cluster, api)]}


def zone_namespace(cluster: KubeCluster, api: KubeApi, name: str) -> str:
    """The namespace of zone ``name``; ClusterError when the cluster has no such zone."""
    ns = cluster.zone_namespace(name)
    obj = api.get("Namespace", None, ns)
    if obj is None or obj["metadata"].get("labels", {}).get(L.CLUSTER) != cluster.id:
        raise ClusterError(f"no zone {name!r} in cluster {cluster.id} (namespace {ns}): "
                           "see `autonomy zone list`")
    return ns


def _pod_ready(pod: dict[str, Any]) -> bool:
    return any(c.get("type") == "Ready" and c.get("status") == "True"
               for c in (pod.get("status") or {}).get("conditions") or [])


def _ready(sts: dict[str, Any]) -> bool:
    return set_rolled_out(sts)


def _merged(streams: list[Iterator[str]]) -> Iterator[str]:
    """Lines of several blocking streams as they come (one thread per stream)."""
    lines: queue.Queue[str | None] = queue.Queue(maxsize=1000)

    def pump(stream: Iterator[str]) -> None:
        try:
            for line in stream:
                lines.put(line)
        except ClusterError as exc:
            lines.put(f"error: {exc}")
        finally:
            lines.put(None)

    for stream in streams:
        threading.Thread(target=pump, args=(stream,), daemon=True).start()
    open_streams = len(streams)
    while open_streams:
        line = lines.get()
        if line is None:
            open_streams -= 1
        else:
            yield line
