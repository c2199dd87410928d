"""Image plans: upstream-style Dockerfiles map to this interpreter; mcp-proxy maps to its command."""

from __future__ import annotations

import sys
import textwrap
from pathlib import Path

import pytest

from autonomy.errors import ZoneSpecError
from autonomy.zones import ContainerSpec, parse_zone
from autonomy.zones.dockerfile import parse_dockerfile
from autonomy.zones.images import image_repository, plan_container, plan_zone


def image(tmp_path: Path, dockerfile: str, name: str = "main", **files: str) -> ContainerSpec:
    folder = tmp_path / "images" / name
    folder.mkdir(parents=True)
    (folder / "Dockerfile").write_text(textwrap.dedent(dockerfile))
    for file, text in files.items():
        (folder / file.replace("__", ".")).write_text(text)
    return ContainerSpec(name="c", image=name)


def test_upstream_dockerfile_runs_main_py_with_this_interpreter(tmp_path: Path) -> None:
    container = image(tmp_path, """
        FROM ghcr.io/build-trust/autonomy-python
        COPY . .
        ENTRYPOINT ["python", "main.py"]
    """, main__py="print('hi')")
    plan = plan_container(tmp_path, container)
    assert plan.kind == "local" and plan.image_dir == tmp_path / "images" / "main"
    assert plan.argv == [sys.executable, "main.py"]
    assert (plan.workdir, plan.env, plan.requirements, plan.warnings) == (".", {}, None, [])


def test_multi_stage_dev_dockerfile_installs_requirements(tmp_path: Path) -> None:
    container = image(tmp_path, """
        # syntax=docker/dockerfile:1
        FROM ghcr.io/build-trust/autonomy-python-dev:latest AS dev
        WORKDIR /app
        COPY requirements.txt .
        RUN python -m venv venv && \\
            # comment inside a continuation
            venv/bin/pip install --no-cache-dir -r requirements.txt

        FROM ghcr.io/build-trust/autonomy-python
        ARG VERSION=1
        WORKDIR /app
        COPY --from=dev /app/venv /app/venv
        ENV PATH="/app/venv/bin:$PATH"
        ENV MODE=prod GREETING="hello world"
        ENV LEGACY some value
        ENV DERIVED=${MODE}-x
        EXPOSE 8000
        COPY . .
        ENTRYPOINT ["python", "/app/main.py"]
    """, requirements__txt="httpx\n")
    plan = plan_container(tmp_path, container)
    assert plan.requirements == tmp_path / "images" / "main" / "requirements.txt"
    assert plan.argv == [sys.executable, "main.py"]
    assert plan.env == {"MODE": "prod", "GREETING": "hello world", "LEGACY": "some value", "DERIVED": "prod-x"}
    assert plan.warnings == []


def test_requirements_txt_alone_is_installed(tmp_path: Path) -> None:
    container = image(tmp_path, 'FROM ghcr.io/build-trust/autonomy-python\nCOPY . .\nCMD python main.py\n',
                      requirements__txt="x\n")
    plan = plan_container(tmp_path, container)
    assert plan.requirements is not None and plan.argv == [sys.executable, "main.py"]


def test_cmd_and_container_args(tmp_path: Path) -> None:
    container = image(tmp_path, """
        FROM ghcr.io/build-trust/autonomy-python
        COPY . /srv/app
        WORKDIR /srv/app/src
        ENTRYPOINT ["python", "-m", "app"]
        CMD ["--port", "8000"]
    """)
    assert plan_container(tmp_path, container).argv == [sys.executable, "-m", "app", "--port", "8000"]
    assert plan_container(tmp_path, container).workdir == "src"
    with_args = container.model_copy(update={"args": ["--port", "9000"]})
    assert plan_container(tmp_path, with_args).argv[-2:] == ["--port", "9000"]


def test_shell_form_with_shell_syntax_runs_under_sh(tmp_path: Path) -> None:
    container = image(tmp_path, "FROM ghcr.io/build-trust/autonomy-python\nCMD python main.py > out.log 2>&1\n")
    assert plan_container(tmp_path, container).argv == ["/bin/sh", "-c", "python main.py > out.log 2>&1"]


def test_unsupported_instructions_become_warnings(tmp_path: Path) -> None:
    container = image(tmp_path, """
        FROM python:3.12-slim
        RUN apt-get update && apt-get install -y ffmpeg
        RUN pip install httpx rich
        USER app
        COPY . .
        ENTRYPOINT ["python", "main.py"]
    """)
    plan = plan_container(tmp_path, container)
    text = "\n".join(plan.warnings)
    assert "line 2: FROM python:3.12-slim" in text and "instead of python:3.12-slim" in text
    assert "'apt-get update' is not run" in text and "'apt-get install -y ffmpeg' is not run" in text
    assert "packages httpx rich are not installed" in text
    assert "line 5: USER app" in text
    assert plan.argv == [sys.executable, "main.py"]


def test_missing_entrypoint_missing_folder_and_missing_dockerfile_are_refused(tmp_path: Path) -> None:
    container = image(tmp_path, "FROM ghcr.io/build-trust/autonomy-python\nCOPY . .\n")
    with pytest.raises(ZoneSpecError, match="no ENTRYPOINT or CMD"):
        plan_container(tmp_path, container)
    with pytest.raises(ZoneSpecError, match="no folder images/nope/"):
        plan_container(tmp_path, ContainerSpec(name="c", image="nope"))
    (tmp_path / "images" / "empty").mkdir()
    with pytest.raises(ZoneSpecError, match="images/empty/Dockerfile is missing"):
        plan_container(tmp_path, ContainerSpec(name="c", image="empty"))


def test_mcp_proxy_maps_to_the_installed_command_with_new_flags() -> None:
    container = ContainerSpec(name="time", image="ghcr.io/build-trust/mcp-proxy:v1", args=[
        "--sse-port", "8001", "--sse-host=0.0.0.0", "--pass-environment", "--", "mcp-server-time", "--sse-port"])
    plan = plan_container(Path("."), container)
    assert plan.kind == "external" and plan.image_dir is None
    assert plan.argv == [str(Path(sys.executable).parent / "mcp-proxy"), "--port", "8001", "--host=0.0.0.0",
                         "--pass-environment", "--", str(Path(sys.executable).parent / "mcp-server-time"),
                         "--sse-port"]
    assert Path(plan.argv[0]).exists() and plan.warnings == []


def test_mcp_proxy_without_args_and_unknown_tool_command() -> None:
    with pytest.raises(ZoneSpecError, match="needs args"):
        plan_container(Path("."), ContainerSpec(name="t", image="ghcr.io/build-trust/mcp-proxy"))
    plan = plan_container(Path("."), ContainerSpec(
        name="t", image="ghcr.io/build-trust/mcp-proxy", args=["--", "no-such-tool-xyz"]))
    assert "'no-such-tool-xyz', which is not on this machine's PATH" in plan.warnings[0]


def test_other_external_images_are_refused_saying_what_can_run() -> None:
    with pytest.raises(ZoneSpecError) as info:
        plan_container(Path("."), ContainerSpec(name="db", image="docker.io/library/postgres:16"))
    message = str(info.value)
    assert "containers.db.image" in message and "cannot run that image" in message
    assert "ghcr.io/build-trust/mcp-proxy" in message and "images/NAME/" in message


def test_plan_zone_reports_every_container_at_its_full_path(tmp_path: Path) -> None:
    zone = parse_zone({"name": "a", "pods": [
        {"name": "main-pod", "containers": [{"name": "main", "image": "nope"}]},
        {"name": "db-pod", "containers": [{"name": "db", "image": "x.io/postgres"}]}]})
    with pytest.raises(ZoneSpecError) as info:
        plan_zone(tmp_path, zone)
    assert [p for p, _ in info.value.problems] == ["pods[0].containers[0].image", "pods[1].containers[0].image"]


def test_dockerfile_reader_keeps_line_numbers_and_forms() -> None:
    instructions = parse_dockerfile('# c\n\nFROM a AS b\nRUN x \\\n  y\ncmd ["p", "q"]\n')
    assert [(i.keyword, i.text, i.line) for i in instructions] == [
        ("FROM", "a AS b", 3), ("RUN", "x y", 4), ("CMD", '["p", "q"]', 6)]
    assert instructions[2].exec_form == ["p", "q"] and instructions[1].exec_form is None


def test_image_repository_drops_tag_and_digest() -> None:
    assert image_repository("ghcr.io/build-trust/mcp-proxy:latest") == "ghcr.io/build-trust/mcp-proxy"
    assert image_repository("localhost:5000/x@sha256:ab") == "localhost:5000/x"
    assert image_repository("main") == "main"
