"""Waiting for a rollout, and naming why it cannot finish.

A StatefulSet is rolled out when (``kubectl rollout status`` semantics) its controller has seen the
latest spec (``observedGeneration >= generation``), every replica runs the latest revision and is
ready (``readyReplicas == updatedReplicas == replicas``) and ``currentRevision == updateRevision``.

Decision: the wait polls (one list of StatefulSets and one of Pods per interval, by label) rather
than watching: it survives API server restarts and proxies that cut long requests, and costs two
small requests a second. It stops early, naming the pod and the cause, on a container waiting with a
reason that will not go away by itself (:data:`FATAL_WAITING`), a container killed for memory
(OOMKilled), or a pod the scheduler cannot place (Unschedulable, with the scheduler's message). Crash
loops and OOM kills quote the last lines of the previous container's log; every failure quotes the
pod's latest events.

Safety net (the StatefulSet "forced rollback" trap): a pod that is not ready and runs an older
revision is deleted, so the StatefulSet replaces it with the new revision.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from autonomy.cluster.kubernetes.api import KubeApi, path_of
from autonomy.errors import ClusterError

__all__ = ["FATAL_WAITING", "PodFailure", "pod_failure", "set_rolled_out", "wait_for_sets", "describe"]

FATAL_WAITING = ("ImagePullBackOff", "ErrImagePull", "InvalidImageName", "CrashLoopBackOff",
                 "CreateContainerConfigError", "CreateContainerError")
LOG_LINES = 20
EVENT_LINES = 5


@dataclass(frozen=True)
class PodFailure:
    pod: str
    container: str | None
    reason: str
    message: str


class RolloutFailed(ClusterError):
    """A pod of the rollout cannot become ready; the message names it and its cause."""

    def __init__(self, failure: PodFailure, detail: str) -> None:
        self.failure = failure
        super().__init__(detail)


def _is_ready(pod: dict[str, Any]) -> bool:
    return any(c.get("type") == "Ready" and c.get("status") == "True"
               for c in (pod.get("status") or {}).get("conditions") or [])


def pod_failure(pod: dict[str, Any]) -> PodFailure | None:
    """Why ``pod`` will not become ready by itself, or None."""
    name = pod["metadata"]["name"]
    status = pod.get("status") or {}
    for condition in status.get("conditions") or []:
        if condition.get("type") == "PodScheduled" and condition.get("status") == "False" \
                and condition.get("reason") == "Unschedulable":
            return PodFailure(name, None, "Unschedulable", condition.get("message") or "")
    for container in [*(status.get("initContainerStatuses") or []), *(status.get("containerStatuses") or [])]:
        state = container.get("state") or {}
        waiting = state.get("waiting") or {}
        last = (container.get("lastState") or {}).get("terminated") or {}
        terminated = state.get("terminated") or {}
        if "OOMKilled" in (last.get("reason"), terminated.get("reason")):
            return PodFailure(name, container.get("name"), "OOMKilled",
                              "the container used more memory than its pod's size allows")
        if waiting.get("reason") in FATAL_WAITING:
            return PodFailure(name, container.get("name"), waiting["reason"], waiting.get("message") or "")
    return None


def describe(api: KubeApi, namespace: str, failure: PodFailure) -> str:
    """The failure with the pod's latest events and, for crashes, the previous container's last log lines."""
    where = f"pod {failure.pod}" + (f" container {failure.container}" if failure.container else "")
    lines = [f"{where}: {failure.reason}" + (f": {failure.message}" if failure.message else "")]
    try:
        events = api.list("Event", namespace, fields=f"involvedObject.name={failure.pod}")
    except ClusterError:
        events = []
    events.sort(key=lambda e: e.get("lastTimestamp") or e.get("eventTime") or "")
    for event in events[-EVENT_LINES:]:
        lines.append(f"event {event.get('reason', '')}: {event.get('message', '')}")
    if failure.reason in ("CrashLoopBackOff", "OOMKilled") and failure.container:
        try:
            log = list(api.lines(path_of("Pod", namespace, failure.pod, "log"), query={
                "container": failure.container, "previous": "true", "tailLines": LOG_LINES}, timeout=30))
        except ClusterError:
            log = []
        if log:
            lines.append(f"its last log lines ({failure.container}, previous run):")
            lines += [f"  {line}" for line in log]
    return "\n".join(lines)


def set_rolled_out(sts: dict[str, Any]) -> bool:
    spec, status = sts.get("spec") or {}, sts.get("status") or {}
    want = spec.get("replicas", 1)
    if status.get("observedGeneration", 0) < (sts["metadata"].get("generation") or 0):
        return False
    if sts.get("kind") == "Deployment":
        return status.get("readyReplicas", 0) == status.get("updatedReplicas", 0) == want
    return (status.get("readyReplicas", 0) == status.get("updatedReplicas", 0) == want
            and status.get("currentRevision") == status.get("updateRevision"))


def wait_for_sets(api: KubeApi, namespace: str, selector: str, names: Sequence[str], *,
                  progress: Callable[[str, str], None], timeout: float, poll: float = 1.0,
                  node_name: Callable[[dict[str, Any]], str | None] = lambda pod: None,
                  kind: str = "StatefulSet") -> None:
    """Wait until the sets ``names`` (of ``kind``, whose pods ``selector`` selects) are rolled out.

    ``progress("pod", "<pod>: <state>")`` on each pod's change of state, and
    ``progress("node", "<NODE> is up")`` when a pod becomes ready (``node_name`` gives its NODE).
    Raises :class:`RolloutFailed` on a pod that will not become ready, ClusterError at ``timeout``.
    """
    deadline = time.monotonic() + timeout
    seen: dict[str, str] = {}
    while True:
        sets = {n: s for n in names if (s := api.get(kind, namespace, n)) is not None}
        pods = api.list("Pod", namespace, labels=selector)
        revisions = {name: (s.get("status") or {}).get("updateRevision") for name, s in sets.items()}
        for pod in pods:
            name = pod["metadata"]["name"]
            owner = next((r.get("name") for r in pod["metadata"].get("ownerReferences") or []), None)
            revision = pod["metadata"].get("labels", {}).get("controller-revision-hash")
            current = revisions.get(owner) if owner else None
            if kind == "StatefulSet" and current and revision and revision != current:
                if not _is_ready(pod) and not pod["metadata"].get("deletionTimestamp"):
                    api.delete("Pod", namespace, name)  # an old broken revision: let the new one replace it
                    progress("pod", f"{name}: replacing a pod of the previous revision that is not ready")
                continue
            failure = pod_failure(pod)
            if failure is not None:
                raise RolloutFailed(failure, describe(api, namespace, failure))
            state = _state(pod)
            if seen.get(name) != state:
                seen[name] = state
                progress("pod", f"{name}: {state}")
                node = node_name(pod)
                if state == "ready" and node:
                    progress("node", f"{node} is up")
        missing = [n for n in names if n not in sets]
        if not missing and all(set_rolled_out(sets[n]) for n in names):
            return
        if time.monotonic() > deadline:
            waiting = [n for n in names if n in missing or not set_rolled_out(sets[n])]
            states = ", ".join(f"{p}: {s}" for p, s in sorted(seen.items()) if s != "ready") or "no pods yet"
            raise ClusterError(f"{', '.join(waiting)} not ready within {timeout:g} s ({states}); "
                               "see `autonomy zone status` and `autonomy zone logs` (raise AUTONOMY_DEPLOY_TIMEOUT "
                               "for slow image pulls)")
        time.sleep(poll)


def _state(pod: dict[str, Any]) -> str:
    if _is_ready(pod):
        return "ready"
    status = pod.get("status") or {}
    for container in status.get("containerStatuses") or []:
        waiting = (container.get("state") or {}).get("waiting") or {}
        if waiting.get("reason"):
            return waiting["reason"]
    return str(status.get("phase") or "Pending").lower()
