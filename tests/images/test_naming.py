from pathlib import Path

import pytest

from autonomy.images import content_tag, image_repository, local_image_dirs


def _image(tmp_path: Path, main: str = "print('hi')\n") -> Path:
    folder = tmp_path / "images" / "main"
    folder.mkdir(parents=True)
    (folder / "Dockerfile").write_text("FROM ghcr.io/build-trust/autonomy-python\nCOPY . .\n")
    (folder / "main.py").write_text(main)
    return folder


def test_the_same_files_give_the_same_tag_anywhere(tmp_path: Path) -> None:
    first = _image(tmp_path / "a")
    second = _image(tmp_path / "b")
    (second / "__pycache__").mkdir()
    (second / "__pycache__" / "main.cpython-311.pyc").write_bytes(b"cache")
    assert content_tag(first) == content_tag(second)
    assert len(content_tag(first)) == 20


def test_a_changed_file_or_salt_changes_the_tag(tmp_path: Path) -> None:
    folder = _image(tmp_path)
    before = content_tag(folder)
    assert content_tag(folder, salt="base@sha256:1") != before
    (folder / "main.py").write_text("print('bye')\n")
    assert content_tag(folder) != before


def test_a_missing_context_is_refused(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match="not a folder"):
        content_tag(tmp_path / "nope")


def test_repositories_are_per_cluster_and_zone(tmp_path: Path) -> None:
    assert image_repository("127.0.0.1:5000/", "19f138000c5dcc2eaa7d8f21594fc0c3", "hello", "main") == (
        "127.0.0.1:5000/19f13800-hello/main")
    _image(tmp_path)
    assert local_image_dirs(tmp_path, ["main", "ghcr.io/build-trust/mcp-proxy"]) == {
        "main": tmp_path / "images" / "main"}
