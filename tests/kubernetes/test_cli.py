"""The `autonomy` command on a Kubernetes cluster, as a user runs it (real processes, in-memory API server)."""

from __future__ import annotations

import json
import shutil

import kubernetes_validate
import pytest
import yaml

from autonomy.images import image_references
from tests.cli.conftest import Cli
from tests.kubernetes.registry import fake_registry
from tests.kubernetes.support import EXAMPLES

pytestmark = pytest.mark.slow


def kubeconfig(path, url: str) -> str:
    path.write_text(yaml.safe_dump({
        "apiVersion": "v1", "kind": "Config", "current-context": "test",
        "clusters": [{"name": "fake", "cluster": {"server": url}}],
        "users": [{"name": "me", "user": {"token": "not-a-secret"}}],
        "contexts": [{"name": "test", "context": {"cluster": "fake", "user": "me"}}]}))
    return str(path)


@pytest.fixture
def cli(tmp_path, api) -> Cli:
    app = tmp_path / "fanout"
    shutil.copytree(EXAMPLES / "fanout", app)
    return Cli(home=tmp_path / "home", cwd=app)


def test_enroll_deploy_no_build_status_logs_and_delete(cli, api, fake, tmp_path):
    app = cli.cwd
    cluster_ids = {}
    digests = {}
    with fake_registry(digests) as (registry, accepts):
        config = kubeconfig(tmp_path / "kubeconfig", api.server)
        done = cli("cluster", "enroll", "--kubernetes", "--kubeconfig", config, "--registry", registry,
                   "--domain", "apps.example.com", "--insecure-http", "-o", "json")
        assert done.code == 0, done.stderr
        info = json.loads(done.stdout)
        cluster_ids["id"] = info["id"]
        assert info["kind"] == "kubernetes" and info["nats"] == "3/3 ready" and info["adopted"] is False
        assert {"step": "check", "detail": "permissions"} in [json.loads(line) for line in done.stderr.splitlines()]

        done = cli("cluster", "show")
        assert done.code == 0 and "3/3 ready" in done.stdout and registry in done.stdout

        # --dry-run -o yaml: manifests that pass strict validation, no secret, no API request
        requests = len(list(fake))
        done = cli("zone", "deploy", "--dry-run", "-o", "yaml")
        assert done.code == 0, done.stderr
        assert len(list(fake)) == requests
        docs = list(yaml.safe_load_all(done.stdout))
        assert {d["kind"] for d in docs} >= {"Namespace", "Secret", "StatefulSet", "Service", "Ingress"}
        for doc in docs:
            kubernetes_validate.validate(doc, "1.30.0", strict=True)
        assert all(set(d["data"].values()) <= {"<redacted>"} for d in docs if d["kind"] == "Secret")
        password = json.loads((cli.home / "fabric" / "credentials" / "cluster.json").read_text())["password"]
        assert password not in done.stdout

        # --no-build: refused while an image is not in the registry, naming it; nothing deployed
        repo = f"{info['id'][:8]}-fanout"
        tags = {name: ref.rsplit(":", 1)[1] for name, ref in
                image_references(app, ["main", "runner"], registry, info["id"], "fanout").items()}
        digests[(f"{repo}/main", tags["main"])] = "sha256:" + "a" * 64
        done = cli("zone", "deploy", "--no-build")
        assert done.code == 1 and "image 'runner'" in done.stderr and "is not in the registry" in done.stderr
        assert "Traceback" not in done.stderr
        assert "application/vnd.oci.image.manifest.v1+json" in accepts[0]
        digests[(f"{repo}/runner", tags["runner"])] = "sha256:" + "b" * 64
        done = cli("zone", "deploy", "--no-build", "-o", "json")
        assert done.code == 0, done.stderr
        result = json.loads(done.stdout)
        assert result["url"] == f"http://{info['id']}-fanout.apps.example.com/"
        steps = [json.loads(line) for line in done.stderr.splitlines() if line.startswith("{")]
        assert {"step": "node", "detail": f"{info['id']}-fanout-runner-pod-1 is up"} in steps
        image = api.get("StatefulSet", f"{repo}", "runner-pod")["spec"]["template"]["spec"]["containers"][0]["image"]
        assert image == f"{registry}/{repo}/runner@sha256:{'b' * 64}"

    done = cli("zone", "list", "-o", "json")
    assert [z["zone"] for z in json.loads(done.stdout)] == ["fanout"]
    done = cli("zone", "status", "-o", "json")
    assert sorted(p["node"] for p in json.loads(done.stdout)["pods"]) == sorted(
        [f"{info['id']}-fanout-main-pod"] + [f"{info['id']}-fanout-runner-pod-{i}" for i in range(3)])
    fake.logs[("main-pod-0", "main")] = ["hello from main"]
    done = cli("zone", "logs", "--pod", "main-pod")
    assert done.code == 0 and done.stdout == "hello from main\n"
    done = cli("zone", "delete")
    assert done.code == 0 and "Deleted zone fanout" in done.stdout
    assert api.get("Namespace", None, repo) is None


def test_kubernetes_options_need_kubernetes_and_a_registry(cli):
    done = cli("cluster", "enroll", "--registry", "127.0.0.1:5000")
    assert done.code == 2 and "--registry only apply with --kubernetes" in done.stderr
    done = cli("cluster", "enroll", "--kubernetes")
    assert done.code == 2 and "needs --registry" in done.stderr
    done = cli("cluster", "enroll", "--kubernetes", "--registry", "r:5000", "--domain", "apps.example.com",
               "--context", "nowhere", "--kubeconfig", str(cli.cwd / "missing"))
    assert done.code == 1 and "--domain needs how public zones are served" in done.stderr
    done = cli("cluster", "enroll", "--kubernetes", "--registry", "r:5000", "--context", "nowhere",
               "--kubeconfig", str(cli.cwd / "missing"))
    assert done.code == 1 and "Cannot use context 'nowhere' of " in done.stderr and "Traceback" not in done.stderr
    assert not (cli.home / "cluster.json").exists()
