"""The image pipeline against a real Docker Engine and a real registry (Debian's docker.io and
docker-registry, started by scripts/system-deps): the base image built offline, an upstream-style
Dockerfile built FROM it, pushed, pinned by the registry's digest, and run as a deployer runs a node.

The base image is kept between runs (it is rebuilt only when autonomy's source changes: ~1-2 min;
the very first build on a machine, with debootstrap, takes ~2-4 min). Every other image, container
and registry manifest a test makes is removed by the test.
"""

from __future__ import annotations

import asyncio
import os
import secrets
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from autonomy.errors import WorkerNotFound
from autonomy.images import (
    BASE_TAGS,
    BaseImage,
    BaseImageError,
    ImageBuildError,
    ImagePushError,
    build_base_image,
    connect,
    image_references,
    publish,
)
from autonomy.nodes.discovery import Zone
from tests.support.until import until
from tests.transport.fabric import Fabric

pytestmark = [
    pytest.mark.slow,
    pytest.mark.timeout(900),  # the first base image build on a loaded 2-core machine
    pytest.mark.skipif(os.geteuid() != 0 or not Path("/etc/debian_version").exists(),
                       reason="needs root on Debian (scripts/system-deps installs and starts Docker there)"),
]

REGISTRY = "127.0.0.1:5000"
LABEL = "computer.autonomy.test"
MAIN = '''
import os

from autonomy import Node


class Echo:
    async def handle_message(self, context, message):
        await context.reply(f"{message} from {os.environ['NODE']}")


async def main(node):
    await node.start_worker("echo", Echo())


Node.start(main)
'''
UPSTREAM_DOCKERFILE = 'FROM ghcr.io/build-trust/autonomy-python\nCOPY . .\nENTRYPOINT ["python", "main.py"]\n'


@pytest.fixture(scope="module")
def engine() -> Iterator[object]:
    try:
        client = connect()
    except Exception as exc:  # noqa: BLE001 (the message says what to run)
        pytest.fail(f"{exc}\n(as root on Debian the tests need Docker: run scripts/system-deps)")
    try:
        httpx.get(f"http://{REGISTRY}/v2/", timeout=5).raise_for_status()
    except httpx.HTTPError as exc:
        pytest.fail(f"no registry answers on {REGISTRY} ({exc}): run scripts/system-deps")
    yield client
    client.close()


@pytest.fixture(scope="module")
def base(engine) -> BaseImage:
    lines: list[str] = []
    image = build_base_image(engine, progress=lines.append)
    assert image.tags == BASE_TAGS
    return image


@pytest.fixture(scope="module")
def cluster_id() -> str:
    return secrets.token_hex(16)


@pytest.fixture(scope="module")
def cleanup(engine, cluster_id) -> Iterator[None]:
    """Removes, after the module, every container labelled by these tests, every image pushed under
    this module's cluster id and the registry's manifests of them."""
    yield
    for container in engine.containers.list(all=True, filters={"label": LABEL}):
        container.remove(force=True)
    for image in engine.images.list():
        for tag in image.tags:
            if f"/{cluster_id[:8]}-" in tag:
                engine.images.remove(tag, force=True)
    for name, digest in _pushed:
        httpx.delete(f"http://{REGISTRY}/v2/{name}/manifests/{digest}", timeout=10)


_pushed: list[tuple[str, str]] = []  # (registry repository name, digest): deleted by `cleanup`


def _zone(tmp_path: Path, image: str = "main", dockerfile: str = UPSTREAM_DOCKERFILE) -> Path:
    folder = tmp_path / "zone" / "images" / image
    folder.mkdir(parents=True)
    (folder / "Dockerfile").write_text(dockerfile)
    (folder / "main.py").write_text(MAIN)
    return tmp_path / "zone"


def _remember(reference: str) -> tuple[str, str]:
    repository, digest = reference.split("@")
    name = repository.removeprefix(f"{REGISTRY}/")
    _pushed.append((name, digest))
    return name, digest


def _output(engine, image: str, command: list[str]) -> str:
    """Run ``command`` in ``image`` with no network and return its output (detach, wait, logs: with the
    engine's "local" log driver, a non-detached run returns no output through the SDK)."""
    container = engine.containers.run(image, command, detach=True, network_mode="none", labels={LABEL: "images"})
    try:
        assert container.wait(timeout=120)["StatusCode"] == 0, container.logs().decode(errors="replace")
        return container.logs().decode()
    finally:
        container.remove(force=True)


def test_the_base_image_has_autonomy_in_a_venv_and_needs_no_network(engine, base) -> None:
    script = "import autonomy, os, sys; print(sys.executable, os.getcwd())"
    assert _output(engine, BASE_TAGS[1], ["python", "-c", script]).split() == ["/app/venv/bin/python", "/app"]
    assert {tag: engine.images.get(tag).id for tag in BASE_TAGS} == dict.fromkeys(BASE_TAGS, base.id)


def test_an_unchanged_base_image_is_reused_not_rebuilt(engine, base) -> None:
    started = time.monotonic()
    again = build_base_image(engine)
    assert (again.built, again.id, again.key) == (False, base.id, base.key)
    assert time.monotonic() - started < 60  # generous: it hashes the checkout and asks the engine once


async def test_an_upstream_dockerfile_is_pushed_pinned_by_the_registry_digest_and_its_node_joins_the_zone(
        engine, base, cleanup, cluster_id, fabric: Fabric, tmp_path: Path) -> None:
    zone_dir = _zone(tmp_path)
    lines: list[str] = []
    refs = await asyncio.to_thread(publish, zone_dir, ["main", "ghcr.io/build-trust/mcp-proxy"], REGISTRY,
                                   cluster_id, "app", lines.append)

    shown = "\n".join(lines[-20:])  # the pipeline's progress, for any failure below
    assert list(refs) == ["main"], shown  # external images are not built
    name, digest = _remember(refs["main"])
    assert name == f"{cluster_id[:8]}-app/main"
    async with httpx.AsyncClient(timeout=10) as http:
        answer = await http.head(f"http://{REGISTRY}/v2/{name}/manifests/{digest}", headers={
            "Accept": "application/vnd.docker.distribution.manifest.v2+json"})
    assert answer.status_code == 200, (answer.status_code, answer.text, shown)
    assert answer.headers["Docker-Content-Digest"] == digest, (dict(answer.headers), shown)
    tagged = image_references(zone_dir, ["main"], REGISTRY, cluster_id, "app")["main"]
    pushed_tags = engine.images.get(refs["main"]).tags
    assert tagged in pushed_tags, (tagged, pushed_tags, shown)  # --no-build computes the tag that was pushed
    assert any("main: Step 2/3 : COPY . ." in line for line in lines), shown
    assert any(line.startswith("main: pushed ") for line in lines), shown

    # run it as a deployer does: host network here (no bridge), credentials mounted read-only
    node_name = fabric.name("main")
    container = engine.containers.run(refs["main"], detach=True, network_mode="host", init=True,
                                      labels={LABEL: "images"}, environment={
                                          "CLUSTER": fabric.a.cluster, "ZONE": fabric.zone, "NODE": node_name,
                                          "AUTONOMY_FABRIC_URL": fabric.server.url,
                                          "AUTONOMY_FABRIC_CREDENTIALS": "/run/autonomy/fabric.json",
                                          "DEFAULT_PORT_HTTP": "0", "DEFAULT_HOST_HTTP": "127.0.0.1"},
                                      volumes={str(fabric.file_a): {"bind": "/run/autonomy/fabric.json", "mode": "ro"}})
    probe = await fabric.node("probe")
    try:
        deadline = time.monotonic() + 120
        while node_name not in {n.name for n in await Zone.nodes(probe)}:
            container.reload()
            if container.status == "exited" or time.monotonic() > deadline:
                logs = container.logs(tail=30).decode(errors="replace")
                pytest.fail(f"the node {node_name} did not join (container {container.status}):\n{logs}")
            await asyncio.sleep(0.5)
        remote = await Zone.node(probe, node_name.removeprefix(Zone.prefix(probe) or ""))
        assert remote is not None, node_name

        async def echoed() -> str | None:  # the node joins the fabric before its main() starts the worker
            try:
                return await remote.send_and_receive("echo", "ping", timeout=30)
            except WorkerNotFound:
                return None

        answer_text = await until(echoed, timeout=60, what="the echo worker's answer",
                                  describe=lambda: container.logs(tail=30).decode(errors="replace"))
        assert answer_text == f"ping from {node_name}", container.logs(tail=30).decode(errors="replace")
    finally:
        await probe.stop()
        await asyncio.to_thread(container.remove, force=True)


def test_a_failing_run_step_names_the_image_the_step_and_the_output(engine, base, cleanup, cluster_id,
                                                                     tmp_path: Path) -> None:
    dockerfile = "FROM ghcr.io/build-trust/autonomy-python\nRUN echo the-tool-is-missing >&2 && exit 3\n"
    with pytest.raises(ImageBuildError) as caught:
        publish(_zone(tmp_path, "broken", dockerfile), ["broken"], REGISTRY, cluster_id, "app", None)
    error = caught.value
    assert error.image == "broken"
    assert error.step == "Step 2/2 : RUN echo the-tool-is-missing >&2 && exit 3"
    assert "returned a non-zero code: 3" in error.error
    assert "the-tool-is-missing" in str(error) and "fix the Dockerfile" in str(error)
    assert not engine.containers.list(all=True, filters={"ancestor": base.id, "status": "exited"})


def test_a_push_to_a_registry_that_does_not_answer_names_the_image_and_the_registry(engine, base, cleanup,
                                                                                   cluster_id, tmp_path: Path) -> None:
    with pytest.raises(ImagePushError) as caught:
        publish(_zone(tmp_path), ["main"], "127.0.0.1:9", cluster_id, "app", None)
    assert caught.value.image == "main"
    assert "127.0.0.1:9/" in str(caught.value) and "registry is running" in str(caught.value)


def test_without_a_source_checkout_the_base_image_in_the_engine_is_used(engine, base, cleanup, cluster_id,
                                                                       tmp_path: Path, monkeypatch) -> None:
    def no_checkout(source=None):
        raise BaseImageError("not a checkout")

    monkeypatch.setattr("autonomy.images.base.project_source", no_checkout)  # as when installed from a wheel
    lines: list[str] = []
    refs = publish(_zone(tmp_path), ["main"], REGISTRY, cluster_id, "app", lines.append)
    _remember(refs["main"])
    assert any(f"using {BASE_TAGS[0]} as it is in the engine (key {base.key})" in line for line in lines)
    assert refs["main"].startswith(f"{REGISTRY}/{cluster_id[:8]}-app/main@sha256:")
