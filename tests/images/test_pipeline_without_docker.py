"""The image pipeline's pure parts and refusals, with no Docker Engine needed."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import pytest

from autonomy.errors import ConfigError, MissingExtra
from autonomy.images import (
    DockerUnavailable,
    ImagePushError,
    base_key,
    connect,
    content_tag,
    image_references,
    publish,
    push_image,
)
from autonomy.images import rootfs as rootfs_module
from autonomy.images.errors import BaseImageError
from autonomy.images.publish import uses_autonomy_base
from autonomy.images.rootfs import RootfsRecipe, make_tarball
from autonomy.images.wheels import copy_source, find_python, project_source, source_files

CLUSTER = "0123456789abcdef0123456789abcdef"
NOWHERE = "unix:///nonexistent/docker.sock"


def _image(zone: Path, name: str, dockerfile: str) -> Path:
    folder = zone / "images" / name
    folder.mkdir(parents=True)
    (folder / "Dockerfile").write_text(dockerfile)
    (folder / "main.py").write_text("print('hi')\n")
    return folder


@pytest.mark.parametrize(("argument", "value", "named"), [
    ("registry", "http://127.0.0.1:5000", "registry 'http://127.0.0.1:5000' must be a host[:port]"),
    ("registry", "", "registry '' must be"),
    ("cluster_id", "not-hex", "cluster_id 'not-hex' must be the cluster's id"),
    ("zone", "My_Zone", "zone 'My_Zone' must be at most 10 characters"),
])
def test_publish_refuses_a_bad_argument_naming_it_before_contacting_docker(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, argument: str, value: str, named: str) -> None:
    monkeypatch.setenv("DOCKER_HOST", NOWHERE)
    _image(tmp_path, "main", "FROM python:3.12-slim\n")
    arguments: dict[str, Any] = {"registry": "127.0.0.1:5000", "cluster_id": CLUSTER, "zone": "app", argument: value}
    with pytest.raises(ConfigError) as caught:
        publish(tmp_path, ["main"], arguments["registry"], arguments["cluster_id"], arguments["zone"], None)
    assert str(caught.value).startswith(named)


def test_publish_refuses_an_image_folder_name_docker_cannot_use(tmp_path: Path) -> None:
    _image(tmp_path, "Main", "FROM python:3.12-slim\n")
    with pytest.raises(ConfigError, match=r"image 'Main' \(images/Main/Dockerfile\): an image name must be lowercase"):
        publish(tmp_path, ["Main"], "127.0.0.1:5000", CLUSTER, "app", None)


def test_publish_refuses_a_zone_folder_that_does_not_exist(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="source_dir .* is not a folder"):
        publish(tmp_path / "missing", ["main"], "127.0.0.1:5000", CLUSTER, "app", None)


def test_publish_of_external_images_only_builds_nothing_and_needs_no_docker(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DOCKER_HOST", NOWHERE)
    assert publish(tmp_path, ["ghcr.io/build-trust/mcp-proxy"], "127.0.0.1:5000", CLUSTER, "app", None) == {}


def test_a_docker_engine_that_does_not_answer_is_named_with_how_to_start_one() -> None:
    with pytest.raises(DockerUnavailable) as caught:
        connect(NOWHERE)
    assert caught.value.url == NOWHERE
    assert str(caught.value).startswith(f"The Docker Engine at {NOWHERE} does not answer")
    assert "start the Docker Engine" in str(caught.value) and "DOCKER_HOST" in str(caught.value)


def test_without_the_docker_sdk_the_error_names_the_extra_to_install(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "docker", None)
    monkeypatch.setitem(sys.modules, "docker.errors", None)
    with pytest.raises(MissingExtra, match=r"pip install 'autonomy-runtime\[docker\]'"):
        connect(NOWHERE)


@pytest.mark.parametrize(("dockerfile", "expected"), [
    ("FROM ghcr.io/build-trust/autonomy-python\nCOPY . .\n", True),
    ("FROM ghcr.io/build-trust/autonomy-python:latest AS build\n", True),
    ("# a comment\nfrom ghcr.io/build-trust/autonomy-python-dev\n", True),
    ("FROM --platform=linux/amd64 ghcr.io/build-trust/autonomy-python@sha256:" + "0" * 64 + "\n", True),
    ("FROM python:3.12-slim\nRUN pip install autonomy\n", False),
    ("FROM ghcr.io/build-trust/autonomy-python-extra\n", False),
])
def test_only_dockerfiles_from_our_base_are_salted_with_its_key(tmp_path: Path, dockerfile: str,
                                                                 expected: bool) -> None:
    assert uses_autonomy_base(_image(tmp_path, "main", dockerfile)) is expected


def test_image_references_are_where_publish_pushes_and_need_no_docker(tmp_path: Path,
                                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DOCKER_HOST", NOWHERE)
    ours = _image(tmp_path, "main", "FROM ghcr.io/build-trust/autonomy-python\nCOPY . .\n")
    theirs = _image(tmp_path, "tool", "FROM python:3.12-slim\n")
    refs = image_references(tmp_path, ["main", "tool", "ghcr.io/x/y"], "127.0.0.1:5000/", CLUSTER, "app")
    assert refs == {
        "main": f"127.0.0.1:5000/01234567-app/main:{content_tag(ours, salt=base_key())}",
        "tool": f"127.0.0.1:5000/01234567-app/tool:{content_tag(theirs)}",
    }
    assert image_references(tmp_path, ["main", "tool"], "127.0.0.1:5000", CLUSTER, "app") == refs


class _FakeApi:
    """Answers ``push`` with a stream captured from dockerd 20.10 (abridged)."""

    def __init__(self, chunks: list[dict[str, Any]]) -> None:
        self.chunks = chunks

    def push(self, repository: str, tag: str, stream: bool, decode: bool) -> Any:
        return iter(self.chunks)


class _FakeClient:
    def __init__(self, chunks: list[dict[str, Any]]) -> None:
        self.api = _FakeApi(chunks)


DIGEST = "sha256:" + "ab" * 32


def test_the_digest_is_read_from_the_push_stream() -> None:
    lines: list[str] = []
    chunks = [
        {"status": "The push refers to repository [127.0.0.1:5000/01234567-app/main]"},
        {"status": "Preparing", "progressDetail": {}, "id": "5f70bf18a086"},
        {"status": "Pushed", "progressDetail": {}, "id": "5f70bf18a086"},
        {"status": "Layer already exists", "progressDetail": {}, "id": "e0ad2ab8f3b4"},
        {"status": f"0a1b2c: digest: {DIGEST} size: 1571"},
        {"progressDetail": {}, "aux": {"Tag": "0a1b2c", "Digest": DIGEST, "Size": 1571}},
    ]
    digest = push_image(_FakeClient(chunks), "127.0.0.1:5000/01234567-app/main:0a1b2c", image="main",  # type: ignore[arg-type]
                        progress=lines.append)
    assert digest == DIGEST
    assert lines == ["main: 5f70bf18a086 Pushed", "main: e0ad2ab8f3b4 Layer already exists",
                     f"main: pushed 127.0.0.1:5000/01234567-app/main@{DIGEST}"]


def test_a_refused_push_names_the_image_the_reference_and_the_registry_error() -> None:
    chunks = [{"status": "Preparing", "id": "5f70bf18a086"},
              {"errorDetail": {"message": "unauthorized: authentication required"},
               "error": "unauthorized: authentication required"}]
    with pytest.raises(ImagePushError) as caught:
        push_image(_FakeClient(chunks), "registry.example/a-b/main:1", image="main")  # type: ignore[arg-type]
    assert (caught.value.image, caught.value.reference) == ("main", "registry.example/a-b/main:1")
    assert "unauthorized: authentication required" in str(caught.value) and "docker login" in str(caught.value)


def test_the_debian_root_key_changes_with_each_input(monkeypatch: pytest.MonkeyPatch) -> None:
    plain = RootfsRecipe()
    assert len(plain.key) == 16 and plain.key == RootfsRecipe().key
    assert RootfsRecipe(mirror="http://mirror.example/debian").key != plain.key
    assert RootfsRecipe(extra_cas=(("proxy.crt", b"PEM"),)).key != plain.key
    assert plain.reference == f"autonomy/debian-rootfs:{plain.key}"
    monkeypatch.setenv("AUTONOMY_DEBIAN_MIRROR", "http://mirror.example/debian")
    assert RootfsRecipe.default().mirror == "http://mirror.example/debian"


def test_the_cache_folder_follows_autonomy_image_cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AUTONOMY_IMAGE_CACHE", str(tmp_path))
    assert rootfs_module.cache_dir() == tmp_path
    monkeypatch.delenv("AUTONOMY_IMAGE_CACHE")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert rootfs_module.cache_dir() == tmp_path / "xdg" / "autonomy" / "images"


def test_making_the_debian_root_without_root_says_to_run_it_as_root(tmp_path: Path,
                                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(rootfs_module.os, "geteuid", lambda: 1000)
    with pytest.raises(BaseImageError, match="needs root .*run 'autonomy image build-base' as root once"):
        make_tarball(RootfsRecipe(), tmp_path / "root.tar.gz")
    assert not (tmp_path / "root.tar.gz").exists()


def test_the_wheel_is_built_from_a_copy_of_the_package_files_only(tmp_path: Path) -> None:
    root = project_source()
    files = source_files(root)
    assert {"pyproject.toml", "autonomy/images/base/Dockerfile", "autonomy/images/base.py"} <= set(files)
    assert not [f for f in files if f.startswith(("tests/", "docs/", "examples/")) or "__pycache__" in f]
    copy = copy_source(root, tmp_path / "copy")
    assert (copy / "autonomy" / "images" / "base" / "Dockerfile").read_bytes() == \
        (root / "autonomy" / "images" / "base" / "Dockerfile").read_bytes()
    assert base_key() == base_key(copy)  # the key is a function of those files, wherever they are


def test_a_folder_that_is_not_this_project_is_refused_naming_the_option(tmp_path: Path) -> None:
    with pytest.raises(BaseImageError, match="is not a checkout of autonomy-runtime.*--source DIR"):
        project_source(tmp_path)


def test_wheels_for_another_python_need_that_python(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("autonomy.images.wheels.shutil.which", lambda name: None)
    with pytest.raises(BaseImageError, match=r"runs Python 3\.99 .* no python3\.99 with pip is on PATH"):
        find_python("3.99")
