"""The rendered manifests: valid at Kubernetes 1.30 and 1.34 (strict schemas), and what schemas can't see."""

from __future__ import annotations

import base64
import json

import kubernetes_validate
import pytest
import yaml

from autonomy.cluster.kubernetes.config import KubeCluster
from autonomy.cluster.kubernetes.fabric import zone_user
from autonomy.cluster.kubernetes.labels import CONFIG_HASH, POD, ZONE
from autonomy.cluster.kubernetes.manifests import REDACTED, to_yaml
from autonomy.cluster.kubernetes.render import render_zone
from autonomy.cluster.kubernetes.system import render_system
from autonomy.errors import ConfigError
from autonomy.transport.credentials import ClusterCredentials
from autonomy.zones import ZoneSpec, load_zone
from tests.kubernetes.support import CLUSTER_ID, EXAMPLES, cluster, inputs

EXAMPLE_ZONES = sorted(p.name for p in EXAMPLES.iterdir() if (p / "autonomy.yaml").is_file())
SECRET_VALUE = "s3cr3t-Value-0123456789"


@pytest.fixture(scope="module")
def creds() -> ClusterCredentials:
    return ClusterCredentials.generate(CLUSTER_ID)


def by_kind(docs: list[dict], kind: str) -> dict[str, dict]:
    return {d["metadata"]["name"]: d for d in docs if d["kind"] == kind}


def secret_zone() -> ZoneSpec:
    return ZoneSpec.model_validate({"name": "shop", "pods": [
        {"name": "main-pod", "public": True, "size": "big", "containers": [
            {"name": "main", "image": "main", "env": {"API_KEY": "secrets.API_KEY", "PRICE": "$(HOME) costs $5",
                                                       "NODE": "mine"}},
            {"name": "mcp", "image": "ghcr.io/build-trust/mcp-proxy", "args": ["--sse-port", "8001"]}]},
        {"name": "worker", "clones": 2, "containers": [{"name": "w", "image": "worker"}]}]})


@pytest.mark.slow
@pytest.mark.parametrize("version,minor", [("1.30.0", 30), ("1.34.0", 34)])
def test_every_example_and_the_system_namespace_pass_strict_validation(creds, version, minor):
    target = cluster(server_minor=minor)
    docs = render_system(target, creds, [zone_user(creds, "fanout", ["a", "b"])])
    for name in EXAMPLE_ZONES:
        spec = load_zone(EXAMPLES / name)
        docs += render_zone(target, spec, inputs(spec, creds))
    spec = secret_zone()
    docs += render_zone(target, spec, inputs(spec, creds, {"API_KEY": SECRET_VALUE}))
    # What `zone deploy --dry-run -o yaml` prints (Secret data redacted) is valid too.
    docs += list(yaml.safe_load_all(to_yaml(docs)))
    for doc in docs:
        kubernetes_validate.validate(doc, version, strict=True)


def test_pod_level_resources_only_from_1_34(creds):
    spec = secret_zone()
    new = by_kind(render_zone(cluster(server_minor=34), spec, inputs(spec, creds, {"API_KEY": "x"})), "StatefulSet")
    old = by_kind(render_zone(cluster(server_minor=33), spec, inputs(spec, creds, {"API_KEY": "x"})), "StatefulSet")
    big = {"cpu": "4", "memory": "2Gi"}
    assert new["main-pod"]["spec"]["template"]["spec"]["resources"] == {"requests": big, "limits": big}
    assert old["main-pod"]["spec"]["template"]["spec"]["containers"][0]["resources"] == {"requests": big, "limits": big}
    assert "resources" not in old["main-pod"]["spec"]["template"]["spec"]
    regular = {"cpu": "250m", "memory": "256Mi"}
    assert new["worker"]["spec"]["template"]["spec"]["resources"]["limits"] == regular
    # the gate matters: a 1.34 rendering is refused by the 1.30 schema
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(new["main-pod"], "1.30.0", strict=True)


def test_fanout_names_labels_selectors_node_names_and_digests(creds):
    spec = load_zone(EXAMPLES / "fanout")
    target = cluster()
    docs = render_zone(target, spec, inputs(spec, creds))
    ns = "d2c25cc3-fanout"
    assert docs[0] == {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": ns, "labels": {
        "app.kubernetes.io/managed-by": "autonomy", "autonomy.computer/cluster": CLUSTER_ID,
        "autonomy.computer/zone": "fanout", "pod-security.kubernetes.io/enforce": "baseline"}}}
    assert all(d["metadata"].get("namespace", ns) == ns for d in docs)
    assert all(d["metadata"]["labels"][ZONE] == "fanout" for d in docs)
    sets = by_kind(docs, "StatefulSet")
    assert sorted(sets) == ["main-pod", "runner-pod"]
    runner = sets["runner-pod"]["spec"]
    assert runner["replicas"] == 3 and runner["serviceName"] == "runner-pod"
    assert runner["podManagementPolicy"] == "Parallel"
    assert runner["selector"]["matchLabels"].items() <= runner["template"]["metadata"]["labels"].items()
    assert runner["selector"]["matchLabels"] == {ZONE: "fanout", POD: "runner-pod"}
    services = by_kind(docs, "Service")
    assert services["runner-pod"]["spec"]["clusterIP"] == "None"
    assert services["runner-pod"]["spec"]["selector"] == runner["selector"]["matchLabels"]
    container = runner["template"]["spec"]["containers"][0]
    assert container["image"] == inputs(spec, creds).images["runner"] and "@sha256:" in container["image"]
    env = {e["name"]: e for e in container["env"]}
    names = [e["name"] for e in container["env"]]
    # $(VAR) expansion only sees variables defined earlier in the list
    assert names.index("CLUSTER") < names.index("NODE") and names.index("POD_NAME") < names.index("NODE")
    assert env["NODE"]["value"] == "$(CLUSTER)-$(ZONE)-$(POD_NAME)"
    assert env["POD_NAME"]["valueFrom"] == {"fieldRef": {"fieldPath": "metadata.name"}}
    assert env["CLUSTER"]["value"] == CLUSTER_ID and env["ZONE"]["value"] == "fanout"
    # the NODE a StatefulSet pod runner-pod-2 gets is the local backend's name for clone 2
    assert spec.pod("runner-pod").node_names(CLUSTER_ID, "fanout")[2] == f"{CLUSTER_ID}-fanout-runner-pod-2"
    # one clone: the literal local name, without an ordinal
    main_env = {e["name"]: e for e in sets["main-pod"]["spec"]["template"]["spec"]["containers"][0]["env"]}
    assert main_env["NODE"]["value"] == f"{CLUSTER_ID}-fanout-main-pod"
    assert env["AUTONOMY_FABRIC_URL"]["value"] == "tls://nats.autonomy-d2c25cc3.svc:4222"
    assert env["AUTONOMY_FABRIC_CREDENTIALS"]["value"] == "/var/run/autonomy/node.json"
    assert env["AUTONOMY_EXTERNAL_APIS_GATEWAY_API_KEY"]["valueFrom"] == {
        "secretKeyRef": {"name": "autonomy-runtime", "key": "gateway-key"}}
    assert container["readinessProbe"] == {"tcpSocket": {"port": 8000}, "periodSeconds": 2}
    assert container["volumeMounts"] == [{"name": "autonomy-runtime", "mountPath": "/var/run/autonomy",
                                          "readOnly": True}]
    assert runner["template"]["spec"]["automountServiceAccountToken"] is False


def test_public_pod_gets_a_service_and_an_https_ingress(creds):
    spec = load_zone(EXAMPLES / "fanout")
    docs = render_zone(cluster(), spec, inputs(spec, creds))
    public = by_kind(docs, "Service")["public"]["spec"]
    assert public["selector"] == {ZONE: "fanout", POD: "main-pod", "statefulset.kubernetes.io/pod-name": "main-pod-0"}
    ingress = by_kind(docs, "Ingress")["public"]
    host = f"{CLUSTER_ID}-fanout.apps.example.com"
    assert ingress["spec"]["rules"][0]["host"] == host
    assert ingress["spec"]["tls"] == [{"hosts": [host], "secretName": "public-tls"}]
    assert ingress["spec"]["ingressClassName"] == "nginx"
    assert ingress["metadata"]["annotations"] == {"cert-manager.io/cluster-issuer": "letsencrypt"}
    assert cluster().public_url("fanout") == f"https://{host}/"
    # plain HTTP only when asked; no domain: not public at all
    plain = by_kind(render_zone(cluster(cluster_issuer=None, insecure_http=True), spec, inputs(spec, creds)), "Ingress")
    assert "tls" not in plain["public"]["spec"] and cluster(cluster_issuer=None, insecure_http=True).public_url(
        "fanout").startswith("http://")
    private = render_zone(cluster(domain=None, cluster_issuer=None), spec, inputs(spec, creds))
    assert not by_kind(private, "Ingress") and "public" not in by_kind(private, "Service")
    # a wildcard certificate named at enroll is copied into the zone as public-tls
    tls = {"tls.crt": "CERT", "tls.key": "KEY"}
    with_tls = render_zone(cluster(cluster_issuer=None, tls_secret="ingress/wild"), spec,
                           inputs(spec, creds).__class__(images=inputs(spec, creds).images, secrets={},
                                                         credentials=creds, public_tls=tls))
    secret = by_kind(with_tls, "Secret")["public-tls"]
    assert secret["type"] == "kubernetes.io/tls" and base64.b64decode(secret["data"]["tls.key"]) == b"KEY"


def test_secrets_are_references_and_their_values_only_in_the_secret(creds):
    spec = secret_zone()
    docs = render_zone(cluster(), spec, inputs(spec, creds, {"API_KEY": SECRET_VALUE, "UNUSED": "other"}))
    secrets = by_kind(docs, "Secret")
    zone_secret = secrets["zone-secrets"]
    assert "stringData" not in zone_secret and base64.b64decode(zone_secret["data"]["API_KEY"]).decode() == SECRET_VALUE
    assert "UNUSED" not in zone_secret["data"]  # only what the zone refers to
    encoded = base64.b64encode(SECRET_VALUE.encode()).decode()
    for doc in docs:
        if doc["kind"] != "Secret":
            text = json.dumps(doc)
            assert SECRET_VALUE not in text and encoded not in text
            assert creds.password not in text
    main = by_kind(docs, "StatefulSet")["main-pod"]["spec"]["template"]["spec"]["containers"]
    env = {e["name"]: e for e in main[0]["env"]}
    assert env["API_KEY"] == {"name": "API_KEY", "valueFrom": {"secretKeyRef": {"name": "zone-secrets",
                                                                               "key": "API_KEY"}}}
    assert env["PRICE"]["value"] == "$$(HOME) costs $$5"  # kubelet turns $$ into $: the value stays literal
    assert env["NODE"]["value"] == f"{CLUSTER_ID}-shop-main-pod"  # the cluster's name wins, as locally
    # the tool container: no probe, no fabric credentials, args kept
    assert "readinessProbe" not in main[1] and main[1]["args"] == ["--sse-port", "8001"]
    assert "AUTONOMY_FABRIC_CREDENTIALS" not in {e["name"] for e in main[1]["env"]}
    # redacted YAML: keys visible, values not
    text = to_yaml(docs)
    assert SECRET_VALUE not in text and encoded not in text and f"API_KEY: {REDACTED}" in text
    node = json.loads(base64.b64decode(secrets["autonomy-runtime"]["data"]["node.json"]))
    assert node["user"] == "zone_shop" and node["password"] != creds.password and node["cluster"] == CLUSTER_ID


def test_config_hash_rolls_pods_when_a_secret_changes_and_hides_the_value(creds):
    spec = secret_zone()

    def hash_of(value: str) -> str:
        docs = render_zone(cluster(), spec, inputs(spec, creds, {"API_KEY": value}))
        return by_kind(docs, "StatefulSet")["main-pod"]["spec"]["template"]["metadata"]["annotations"][CONFIG_HASH]

    assert hash_of("a") == hash_of("a") != hash_of("b")
    import hashlib
    assert hash_of("a") not in hashlib.sha256(b"a").hexdigest()


def test_network_policy_limits_the_zone_to_itself_nats_gateway_and_dns(creds):
    spec = load_zone(EXAMPLES / "hello")
    policy = by_kind(render_zone(cluster(), spec, inputs(spec, creds)), "NetworkPolicy")["zone-isolation"]["spec"]
    assert policy["podSelector"] == {} and policy["policyTypes"] == ["Ingress", "Egress"]
    system = {"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "autonomy-d2c25cc3"}}}
    assert {"to": [system], "ports": [{"protocol": "TCP", "port": 4222}, {"protocol": "TCP", "port": 8080}]} \
        in policy["egress"]
    cidr = [e for e in policy["egress"] if "ipBlock" in e["to"][0]][0]["to"][0]["ipBlock"]
    assert cidr["except"] == ["10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16"]


def test_system_namespace_nats_and_gateway(creds):
    docs = render_system(cluster(), creds, [zone_user(creds, "fanout", [f"{CLUSTER_ID}-fanout-main-pod"])])
    nats = by_kind(docs, "StatefulSet")["nats"]["spec"]
    assert nats["replicas"] == 3 and nats["podManagementPolicy"] == "Parallel"
    assert nats["template"]["spec"]["terminationGracePeriodSeconds"] >= 45
    headless = by_kind(docs, "Service")["nats-headless"]["spec"]
    assert headless["clusterIP"] == "None" and headless["publishNotReadyAddresses"] is True
    assert by_kind(docs, "ConfigMap")["autonomy-cluster"]["data"] == {"id": CLUSTER_ID}
    conf = base64.b64decode(by_kind(docs, "Secret")["nats-config"]["data"]["nats.conf"]).decode()
    assert '"zone_fanout"' in conf and "nats-2.nats-headless.autonomy-d2c25cc3.svc:6222" in conf
    assert by_kind(docs, "Deployment")["model-gateway"]["spec"]["strategy"] == {"type": "Recreate"}
    for doc in docs:
        if doc["kind"] != "Secret":
            assert creds.password not in json.dumps(doc)


def test_missing_secret_and_image_are_named(creds):
    spec = secret_zone()
    with pytest.raises(ConfigError, match="API_KEY missing"):
        render_zone(cluster(), spec, inputs(spec, creds, {}))
    bad = inputs(spec, creds, {"API_KEY": "x"})
    bad = bad.__class__(images={}, secrets=bad.secrets, credentials=creds)
    with pytest.raises(ConfigError, match=r"pods.main-pod.containers.main.image: no built image 'main'"):
        render_zone(cluster(), spec, bad)


@pytest.mark.parametrize("fields,message", [
    ({"id": "xyz"}, "32 lowercase hex"),
    ({"registry": "not a registry"}, "--registry"),
    ({"domain": "Bad_Domain"}, "--domain"),
    ({"cluster_issuer": None}, "--domain needs how public zones are served"),
    ({"tls_secret": "wild"}, "choose one of --tls-secret, --cluster-issuer"),
])
def test_cluster_record_errors_name_the_option(fields, message):
    with pytest.raises(ConfigError, match=message):
        cluster(**fields)


def test_cluster_record_round_trips():
    target = cluster(context="kind-dev", server="https://127.0.0.1:6443", server_minor=34)
    assert KubeCluster.from_record(json.loads(target.dumps())) == target
    assert target.system_namespace == "autonomy-d2c25cc3" and target.zone_namespace("fanout") == "d2c25cc3-fanout"
