"""enroll, deploy, status, logs, prune, fail fast and delete, against an in-memory API server (kmock)."""

from __future__ import annotations

import json
import shutil
import stat

import pytest

from autonomy.cluster.kubernetes import load_record, open_deployer
from autonomy.cluster.kubernetes.enroll import enroll
from autonomy.cluster.kubernetes.labels import ZONE
from autonomy.errors import ClusterError
from autonomy.zones import load_zone
from tests.kubernetes.conftest import fake_publisher
from tests.kubernetes.kubefake import ready_status
from tests.kubernetes.support import EXAMPLES

REGISTRY = "127.0.0.1:5000"


def enrolled(api, home, progress, **options):
    return enroll(api, home, registry=REGISTRY, progress=progress, poll=0.02, timeout=60,
                  insecure_http=True, domain="apps.example.com", **options)


def deployer(api, home, calls=None, **options):
    return open_deployer(home, api=api, publisher=fake_publisher(calls if calls is not None else []), poll=0.02,
                         timeout=60, **options)


def test_enroll_creates_the_system_namespace_then_a_second_workstation_adopts_it(api, fake, progress, tmp_path):
    cluster, adopted = enrolled(api, tmp_path / "a", progress)
    assert not adopted
    ns = f"autonomy-{cluster.id[:8]}"
    assert api.get("ConfigMap", ns, "autonomy-cluster")["data"] == {"id": cluster.id}
    assert sorted(p["metadata"]["name"] for p in fake.items("pods", ns)) == ["nats-0", "nats-1", "nats-2"]
    assert "nats-0: ready" in progress.details("pod")
    record = json.loads((tmp_path / "a" / "cluster.json").read_text())
    assert record["kind"] == "kubernetes" and record["id"] == cluster.id and record["server"] == api.server
    assert "password" not in json.dumps(record)
    creds_dir = tmp_path / "a" / "fabric" / "credentials"
    assert all(stat.S_IMODE(f.stat().st_mode) == 0o600 for f in creds_dir.iterdir())
    objects = len(fake.items("secrets")) + len(fake.items("statefulsets"))

    again, adopted = enrolled(api, tmp_path / "b", progress)
    assert adopted and again.id == cluster.id
    assert (tmp_path / "b" / "fabric" / "credentials" / "cluster.json").read_text() == \
        (creds_dir / "cluster.json").read_text()
    assert len(fake.items("secrets")) + len(fake.items("statefulsets")) == objects


def test_enroll_names_every_missing_permission_and_changes_nothing(api, fake, progress, tmp_path):
    fake.denied = {("create", "namespaces"), ("get", "pods")}
    with pytest.raises(ClusterError, match=r"may not: create namespaces, get pods, get pods/log\. "):
        enrolled(api, tmp_path, progress)
    assert fake.items("namespaces") == [] and not (tmp_path / "cluster.json").exists()


def test_enroll_refuses_an_old_api_server(api, fake, progress, tmp_path):
    fake.minor = 27
    with pytest.raises(ClusterError, match="needs 1.28 or later"):
        enrolled(api, tmp_path, progress)


@pytest.mark.slow
def test_deploy_status_logs_redeploy_prune_and_delete(api, fake, progress, tmp_path):
    cluster, _ = enrolled(api, tmp_path, progress)
    calls: list = []
    zones = deployer(api, tmp_path, calls)
    spec = load_zone(EXAMPLES / "fanout")
    result = zones.deploy_sync(spec, {}, EXAMPLES / "fanout", progress)
    ns = f"{cluster.id[:8]}-fanout"
    assert result["url"] == f"http://{cluster.id}-fanout.apps.example.com/"
    assert calls == [("fanout", ["main", "runner"])]
    assert sorted(p["metadata"]["name"] for p in fake.items("pods", ns)) == [
        "main-pod-0", "runner-pod-0", "runner-pod-1", "runner-pod-2"]
    assert f"{cluster.id}-fanout-runner-pod-2 is up" in progress.details("node")
    assert "giving zone fanout its fabric user" in " ".join(progress.details("fabric"))
    sts = api.get("StatefulSet", ns, "runner-pod")
    assert sts["spec"]["template"]["spec"]["containers"][0]["image"].startswith(
        f"{REGISTRY}/{cluster.id[:8]}-fanout/runner@sha256:")

    # the same deploy again: the same objects, applied again, nothing pruned, NATS left alone
    revisions = {p["metadata"]["name"]: p["metadata"]["labels"]["controller-revision-hash"]
                 for p in fake.items("pods", ns)}
    progress.clear()
    zones.deploy_sync(spec, {}, EXAMPLES / "fanout", progress)
    assert progress.details("prune") == [] and progress.details("fabric") == []
    assert {"StatefulSet/main-pod", "StatefulSet/runner-pod", "Ingress/public"} <= set(progress.details("apply"))
    assert {p["metadata"]["name"]: p["metadata"]["labels"]["controller-revision-hash"]
            for p in fake.items("pods", ns)} == revisions  # nothing rolled: the same manifests

    listed = zones.zones()
    assert [(z["zone"], z["pods"], z["state"], z["public"]) for z in listed] == [("fanout", 2, "running", True)]
    status = zones.status("fanout")
    rows = {(r["pod"], r["clone"]): r for r in status["pods"]}
    assert rows[("runner-pod", 2)]["node"] == f"{cluster.id}-fanout-runner-pod-2"
    assert rows[("main-pod", 0)]["node"] == f"{cluster.id}-fanout-main-pod"
    assert rows[("runner-pod", 1)]["containers"][0]["state"] == "running"
    assert status["sets"]["runner-pod"] == {"replicas": 3, "ready": 3}

    fake.logs[("runner-pod-1", "runner")] = ["one", "two", "three"]
    fake.logs[("main-pod-0", "main")] = ["main says hi"]
    lines = list(zones.logs("fanout", pod="runner-pod", tail=2))
    assert "[runner-pod-1/runner] two" in lines and "[runner-pod-1/runner] three" in lines
    assert "[runner-pod-1/runner] one" not in lines
    assert list(zones.logs("fanout", pod="main-pod")) == ["main says hi"]
    assert sorted(zones.logs("fanout", follow=True)) == sorted(
        ["[main-pod-0/main] main says hi", "[runner-pod-1/runner] one", "[runner-pod-1/runner] two",
         "[runner-pod-1/runner] three"])

    # a redeploy without runner-pod prunes exactly its objects
    source = tmp_path / "fanout"
    shutil.copytree(EXAMPLES / "fanout", source)
    (source / "autonomy.yaml").write_text("name: fanout\npods:\n  - name: main-pod\n    public: true\n"
                                          "    containers:\n      - name: main\n        image: main\n")
    progress.clear()
    zones.deploy_sync(load_zone(source), {}, source, progress)
    assert sorted(progress.details("prune")) == ["Service/runner-pod", "StatefulSet/runner-pod"]
    assert api.get("StatefulSet", ns, "runner-pod") is None and api.get("StatefulSet", ns, "main-pod") is not None

    # delete: the namespace goes (after Terminating), the zone's fabric user too
    assert zones.delete_sync("fanout") == {"zone": "fanout", "deleted": True, "namespace": ns}
    assert api.get("Namespace", None, ns) is None and fake.items("pods", ns) == []
    assert zones.zones() == []
    with pytest.raises(ClusterError, match="no zone 'fanout'"):
        zones.status("fanout")


def failing(container: str, status_of):
    def pod_status(pod):
        status = ready_status(pod)
        if any(c["name"] == container for c in pod["spec"]["containers"]):
            status = status_of(pod, status)
        return status
    return pod_status


def waiting(reason: str, message: str = ""):
    def apply(pod, status):
        status["conditions"][1]["status"] = "False"
        for c in status["containerStatuses"]:
            c["ready"] = False
            c["state"] = {"waiting": {"reason": reason, "message": message}}
        return status
    return apply


def oom(pod, status):
    status = waiting("CrashLoopBackOff")(pod, status)
    status["containerStatuses"][0]["lastState"] = {"terminated": {"reason": "OOMKilled", "exitCode": 137}}
    return status


def unschedulable(pod, status):
    return {"phase": "Pending", "conditions": [{"type": "PodScheduled", "status": "False", "reason": "Unschedulable",
                                                "message": "0/3 nodes are available: 3 Insufficient cpu."}]}


@pytest.mark.slow
@pytest.mark.parametrize("status_of,expected", [
    (waiting("ImagePullBackOff", 'Back-off pulling image "127.0.0.1:5000/x"'),
     r"pod runner-pod-\d container runner: ImagePullBackOff: Back-off pulling image"),
    (waiting("CrashLoopBackOff", "back-off 10s restarting failed container"),
     r"pod runner-pod-\d container runner: CrashLoopBackOff(.|\n)*its last log lines(.|\n)*Traceback: boom"),
    (unschedulable, r"pod runner-pod-\d: Unschedulable: 0/3 nodes are available: 3 Insufficient cpu\."),
    (oom, r"pod runner-pod-\d container runner: OOMKilled: (.|\n)*Traceback: boom"),
])
def test_a_failing_pod_is_named_with_its_cause_and_a_new_zone_is_removed(api, fake, progress, tmp_path, status_of,
                                                                          expected):
    cluster, _ = enrolled(api, tmp_path, progress)
    for i in range(3):
        fake.previous_logs[(f"runner-pod-{i}", "runner")] = ["starting", "Traceback: boom"]
    fake.pod_status = failing("runner", status_of)
    zones = deployer(api, tmp_path)
    with pytest.raises(ClusterError, match=expected) as error:
        zones.deploy_sync(load_zone(EXAMPLES / "fanout"), {}, EXAMPLES / "fanout", progress)
    assert "left as it was before this deploy" in str(error.value)
    assert api.get("Namespace", None, f"{cluster.id[:8]}-fanout") is None
    nats = json.loads(__import__("base64").b64decode(
        api.get("Secret", cluster.system_namespace, "nats-config")["data"]["zones.json"]))
    assert "fanout" not in nats


@pytest.mark.slow
def test_a_refused_redeploy_puts_the_previous_zone_back(api, fake, progress, tmp_path):
    cluster, _ = enrolled(api, tmp_path, progress)
    zones = deployer(api, tmp_path)
    zones.deploy_sync(load_zone(EXAMPLES / "fanout"), {}, EXAMPLES / "fanout", progress)
    ns = f"{cluster.id[:8]}-fanout"
    template = api.get("StatefulSet", ns, "runner-pod")["spec"]["template"]
    source = tmp_path / "fanout"
    shutil.copytree(EXAMPLES / "fanout", source)
    (source / "images" / "runner" / "extra.txt").write_text("a change\n")
    text = (source / "autonomy.yaml").read_text().replace("image: runner", "image: runner\n        env: {MODE: new}")
    (source / "autonomy.yaml").write_text(text)
    fake.pod_status = failing("runner", waiting("CrashLoopBackOff"))
    with pytest.raises(ClusterError, match="CrashLoopBackOff"):
        zones.deploy_sync(load_zone(source), {}, source, progress)
    assert api.get("StatefulSet", ns, "runner-pod")["spec"]["template"] == template
    fake.pod_status = ready_status
    assert zones.status("fanout")["sets"]["runner-pod"]["replicas"] == 3


def test_status_names_a_pod_that_cannot_start(api, fake, progress, tmp_path):
    cluster, _ = enrolled(api, tmp_path, progress)
    zones = deployer(api, tmp_path)
    zones.deploy_sync(load_zone(EXAMPLES / "hello"), {}, EXAMPLES / "hello", progress)
    fake.pod_status = failing("main", waiting("ImagePullBackOff", "Back-off pulling image"))
    pod = api.get("Pod", f"{cluster.id[:8]}-hello", "main-pod-0")
    api.request("PATCH", f"/api/v1/namespaces/{cluster.id[:8]}-hello/pods/main-pod-0", body={
        "status": fake.pod_status(pod)}, content_type="application/merge-patch+json")
    api.create("Event", f"{cluster.id[:8]}-hello", {
        "apiVersion": "v1", "kind": "Event", "metadata": {"name": "main-pod-0.1"}, "reason": "Failed",
        "message": "Failed to pull image: not found", "involvedObject": {"kind": "Pod", "name": "main-pod-0"},
        "lastTimestamp": "2026-11-30T10:00:00Z"})
    row = zones.status("hello")["pods"][0]
    assert row["problem"] == "ImagePullBackOff: Back-off pulling image"
    assert row["events"] == ["Failed: Failed to pull image: not found"]
    assert row["containers"][0]["state"] == "waiting (ImagePullBackOff)"


def test_no_build_reads_digests_from_the_registry_and_names_a_missing_image(api, progress, tmp_path):
    enrolled(api, tmp_path, progress)
    seen = []

    def digest(repository, tag):
        seen.append((repository, tag))
        return None if repository.endswith("/runner") else "sha256:" + "c" * 64

    zones = deployer(api, tmp_path, no_build=True, digest=digest)
    with pytest.raises(ClusterError, match=r"image 'runner': 127.0.0.1:5000/\w{8}-fanout/runner:\w{20} is not in"):
        zones.deploy_sync(load_zone(EXAMPLES / "fanout"), {}, EXAMPLES / "fanout", progress)
    assert [r.rsplit("/", 1)[1] for r, _ in seen] == ["main", "runner"]


def test_a_context_pointing_elsewhere_is_refused(api, progress, tmp_path):
    enrolled(api, tmp_path, progress)
    record = json.loads((tmp_path / "cluster.json").read_text())
    record["server"] = "https://other.example.com:6443"
    (tmp_path / "cluster.json").write_text(json.dumps(record))
    with pytest.raises(ClusterError, match="now points at"):
        deployer(api, tmp_path)
    assert load_record(tmp_path).server == "https://other.example.com:6443"


@pytest.mark.slow
def test_selectors_keep_zones_apart(api, fake, progress, tmp_path):
    cluster, _ = enrolled(api, tmp_path, progress)
    zones = deployer(api, tmp_path)
    zones.deploy_sync(load_zone(EXAMPLES / "hello"), {}, EXAMPLES / "hello", progress)
    zones.deploy_sync(load_zone(EXAMPLES / "tools"), {}, EXAMPLES / "tools", progress)
    assert sorted(z["zone"] for z in zones.zones()) == ["hello", "tools"]
    zones.delete_sync("hello")
    assert [z["zone"] for z in zones.zones()] == ["tools"]
    assert all(p["metadata"]["labels"][ZONE] == "tools" for p in fake.items("pods") if ZONE in p["metadata"]["labels"])


@pytest.mark.slow
def test_a_statefulset_whose_immutable_fields_changed_is_recreated(api, fake, progress, tmp_path):
    import kmock

    cluster, _ = enrolled(api, tmp_path, progress)
    zones = deployer(api, tmp_path)
    spec = load_zone(EXAMPLES / "hello")
    zones.deploy_sync(spec, {}, EXAMPLES / "hello", progress)
    ns = f"{cluster.id[:8]}-hello"
    old_uid = api.get("StatefulSet", ns, "main-pod")["metadata"]["uid"]
    refused = []

    def immutable(request):
        current = fake.store(request.resource, ns, "main-pod")
        if request.name != "main-pod" or current is None or current["metadata"]["uid"] != old_uid:
            raise NotImplementedError  # the re-created one: the server serves the request as usual
        refused.append(request.params.get("dryRun", "apply"))
        return kmock.Response(status=422, payload={
            "kind": "Status", "apiVersion": "v1", "status": "Failure", "reason": "Invalid", "code": 422,
            "message": "StatefulSet.apps \"main-pod\" is invalid: spec: Forbidden: updates to statefulset spec for "
                       "fields other than 'replicas', 'ordinals', 'template', ... are forbidden"})

    fake["patch", kmock.resource("apps", "v1", "statefulsets")] << immutable
    progress.clear()
    zones.deploy_sync(spec, {}, EXAMPLES / "hello", progress)
    assert refused == ["All", "apply"]  # the dry run lets it through, the apply re-creates it
    assert "StatefulSet/main-pod: re-created (a field that cannot change did)" in progress.details("apply")
    assert api.get("StatefulSet", ns, "main-pod")["metadata"]["uid"] != old_uid


def test_an_object_the_api_server_refuses_changes_nothing(api, fake, progress, tmp_path):
    import kmock

    cluster, _ = enrolled(api, tmp_path, progress)
    zones = deployer(api, tmp_path)

    def invalid(request):
        if request.name != "public":
            raise NotImplementedError
        return kmock.Response(status=422, payload={
            "kind": "Status", "apiVersion": "v1", "status": "Failure", "reason": "Invalid", "code": 422,
            "message": 'Ingress.networking.k8s.io "public" is invalid: spec.rules[0].host: Invalid value'})

    fake["patch", kmock.resource("networking.k8s.io", "v1", "ingresses")] << invalid
    with pytest.raises(ClusterError, match=r"Ingress/public: the API server refuses it: (.|\n)*host: Invalid value"):
        zones.deploy_sync(load_zone(EXAMPLES / "hello"), {}, EXAMPLES / "hello", progress)
    ns = f"{cluster.id[:8]}-hello"
    writes = [r for r in list(fake) if r.method == "PATCH" and r.namespace == ns and "dryRun" not in r.params]
    assert writes == []  # nothing but dry runs reached the zone's namespace
    assert api.get("Namespace", None, ns) is None
    assert progress.details("fabric") == []  # NATS was not touched


def test_a_wildcard_certificate_is_copied_into_public_zones(api, progress, tmp_path):
    cluster, _ = enroll(api, tmp_path, registry=REGISTRY, progress=progress, poll=0.02, timeout=60,
                        domain="apps.example.com", tls_secret="ingress/wildcard")
    zones = deployer(api, tmp_path)
    spec = load_zone(EXAMPLES / "hello")
    with pytest.raises(ClusterError, match="--tls-secret ingress/wildcard: no Secret with tls.crt and tls.key"):
        zones.deploy_sync(spec, {}, EXAMPLES / "hello", progress)
    api.apply({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "ingress"}})
    api.apply({"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "wildcard", "namespace": "ingress"},
               "type": "kubernetes.io/tls", "data": {"tls.crt": "Q0VSVA==", "tls.key": "S0VZ"}})
    result = zones.deploy_sync(spec, {}, EXAMPLES / "hello", progress)
    assert result["url"] == f"https://{cluster.id}-hello.apps.example.com/"
    copied = api.get("Secret", f"{cluster.id[:8]}-hello", "public-tls")
    assert copied["type"] == "kubernetes.io/tls" and copied["data"] == {"tls.crt": "Q0VSVA==", "tls.key": "S0VZ"}
    ingress = api.get("Ingress", f"{cluster.id[:8]}-hello", "public")
    assert ingress["spec"]["tls"][0]["secretName"] == "public-tls"


def test_an_unreachable_api_server_is_named_without_a_traceback():
    from autonomy.cluster.kubernetes.api import KubeApi

    api = KubeApi.from_url("http://127.0.0.1:1")
    try:
        with pytest.raises(ClusterError, match=r"Kubernetes API GET /version: cannot reach http://127.0.0.1:1"):
            api.version()
    finally:
        api.close()


def test_a_rollout_past_its_deadline_is_undone_too(api, fake, progress, tmp_path):
    cluster, _ = enrolled(api, tmp_path, progress)
    fake.pod_status = failing("main", lambda pod, status: {"phase": "Pending"})  # never ready, no reason to quit
    zones = open_deployer(tmp_path, api=api, publisher=fake_publisher([]), poll=0.05, timeout=1.5)
    with pytest.raises(ClusterError, match=r"main-pod not ready within 1.5 s \(main-pod-0: pending\)(.|\n)*left as it"):
        zones.deploy_sync(load_zone(EXAMPLES / "hello"), {}, EXAMPLES / "hello", progress)
    assert api.get("Namespace", None, f"{cluster.id[:8]}-hello") is None


def test_a_home_holding_a_local_cluster_is_not_overwritten(api, progress, tmp_path):
    from autonomy.cluster.kubernetes import enroll_cluster

    (tmp_path / "cluster.json").write_text('{"id": "' + "a" * 32 + '", "kind": "local", "created": 0}')
    with pytest.raises(ClusterError, match="already holds a local cluster"):
        enroll_cluster(tmp_path, progress, api=api, registry=REGISTRY)
    assert json.loads((tmp_path / "cluster.json").read_text())["kind"] == "local"
