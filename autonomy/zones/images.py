"""Images -> processes: how a container of ``autonomy.yaml`` runs without a container engine.

:func:`plan_container` is pure: it reads ``images/NAME/Dockerfile`` and starts nothing. The control
plane executes the :class:`ContainerPlan`. What this backend can run:

- a **local image** (``image: main``): a copy of ``images/main/`` run as the Dockerfile says. ``FROM
  ghcr.io/build-trust/autonomy-python`` (or ``-dev``) is this machine's interpreter, the one that has
  autonomy installed (``sys.executable``); ``python`` in ``ENTRYPOINT``/``CMD`` means it. ``COPY . .``
  means the copy. ``WORKDIR``, ``ENV`` and ``ENTRYPOINT``/``CMD`` (exec and shell forms) are honoured;
  the container's ``args`` replace ``CMD`` as in Docker. ``requirements.txt`` in the image folder, or
  ``RUN pip install -r FILE``, sets ``requirements``: the controller installs it into a virtualenv
  layered on the autonomy one. ``ARG``, ``EXPOSE``, ``LABEL`` are ignored; other instructions that
  would change the result (``RUN apt-get ...``, ``USER``, another ``FROM``) become ``warnings``;
- ``ghcr.io/build-trust/mcp-proxy`` (any tag): the ``mcp-proxy`` command installed next to
  ``sys.executable`` with the container's ``args``; the deprecated ``--sse-port``/``--sse-host`` become
  ``--port``/``--host``;
- in both, a bare command installed next to ``sys.executable`` (``mcp-server-time``, ``uvicorn``) is
  given by its full path: a zone's processes need not have that ``bin`` folder on their ``PATH``;
- nothing else: another external image is refused with a ZoneSpecError that says what can run.
"""

from __future__ import annotations

import posixpath
import re
import shlex
import shutil
import sys
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, Field

from autonomy.errors import ZoneSpecError
from autonomy.zones.dockerfile import Instruction, parse_env, read_dockerfile, substitute
from autonomy.zones.spec import ContainerSpec, ZoneSpec

__all__ = ["AUTONOMY_BASES", "MCP_PROXY", "ContainerPlan", "plan_container", "plan_zone", "image_repository"]

AUTONOMY_BASES = ("ghcr.io/build-trust/autonomy-python", "ghcr.io/build-trust/autonomy-python-dev")
MCP_PROXY = "ghcr.io/build-trust/mcp-proxy"
_RUNNABLE = (
    "a local image (a folder images/NAME/ with a Dockerfile FROM ghcr.io/build-trust/autonomy-python) "
    f"and {MCP_PROXY}"
)
_PYTHON = re.compile(r"^python(3(\.\d+)?)?$")
_SHELL_CHARS = re.compile(r"[$|&;<>()`*?~\\\n]")
_IGNORED = {"ARG", "EXPOSE", "LABEL", "MAINTAINER", "STOPSIGNAL"}
_MCP_FLAGS = {"--sse-port": "--port", "--sse-host": "--host"}
_EXAMPLE_DOCKERFILE = 'FROM ghcr.io/build-trust/autonomy-python\nCOPY . .\nENTRYPOINT ["python", "main.py"]'


class ContainerPlan(BaseModel):
    """How to run one container as processes on this machine.

    - ``kind``: ``"local"`` (from ``image_dir``) or ``"external"`` (mcp-proxy).
    - ``image_dir``: the folder to copy (``images/NAME/``), None for external images.
    - ``workdir``: where to run, **relative to the copy of image_dir** (``"."`` almost always; it is the
      Dockerfile's ``WORKDIR`` seen from where ``COPY . <dest>`` put the files). ``"."`` for external.
    - ``argv``: the command; ``argv[0]`` is ``sys.executable`` for ``python``. Paths the Dockerfile
      wrote under the image's copy destination (``/app/main.py``) are made relative to ``workdir``.
      When ``requirements`` is set, the controller swaps ``sys.executable`` for its virtualenv's python.
    - ``env``: the image's own environment (Dockerfile ``ENV``). The controller adds the platform
      variables and the container's resolved env on top (the container's env wins).
    - ``requirements``: a requirements file to install, or None.
    - ``warnings``: what the Dockerfile asks that this backend does not do; the CLI shows them.
    """

    kind: Literal["local", "external"]
    image_dir: Path | None
    workdir: str = "."
    argv: list[str]
    env: dict[str, str] = Field(default_factory=dict)
    requirements: Path | None = None
    warnings: list[str] = Field(default_factory=list)


def image_repository(image: str) -> str:
    """``image`` without its ``:tag`` or ``@digest``."""
    name = image.split("@", 1)[0]
    head, _, last = name.rpartition("/")
    last = last.split(":", 1)[0]
    return f"{head}/{last}" if head else last


def plan_container(source_dir: Path | str, container: ContainerSpec) -> ContainerPlan:
    """The plan for ``container`` of the zone in ``source_dir``; ZoneSpecError if it cannot run here.

    Problems are reported at ``containers.NAME.image``; :func:`plan_zone` reports full paths.
    """
    where = f"containers.{container.name}.image"
    if container.is_local_image:
        return _LocalPlanner(Path(source_dir), container, where).plan()
    if image_repository(container.image) == MCP_PROXY:
        return _plan_mcp_proxy(container, where)
    raise ZoneSpecError(
        "autonomy.yaml",
        [(where, f"{container.image!r}: this local backend cannot run that image; it runs {_RUNNABLE}")],
    )


def plan_zone(source_dir: Path | str, zone: ZoneSpec, file: str = "autonomy.yaml") -> dict[str, ContainerPlan]:
    """Plans for every container, keyed ``"pod/container"``. Collects every problem into one error."""
    plans: dict[str, ContainerPlan] = {}
    problems: list[tuple[str, str]] = []
    for i, pod in enumerate(zone.pods):
        for j, container in enumerate(pod.containers):
            try:
                plans[f"{pod.name}/{container.name}"] = plan_container(source_dir, container)
            except ZoneSpecError as error:
                prefix = f"containers.{container.name}."
                problems += [
                    (f"pods[{i}].containers[{j}]." + p.removeprefix(prefix), m) for p, m in error.problems
                ]
    if problems:
        raise ZoneSpecError(file, problems)
    return plans


def _plan_mcp_proxy(container: ContainerSpec, where: str) -> ContainerPlan:
    executable = Path(sys.executable).parent / "mcp-proxy"
    if not executable.exists():
        raise ZoneSpecError("autonomy.yaml", [(where, (
            f"{container.image} runs the mcp-proxy command, which is not installed next to {sys.executable}: "
            "pip install 'autonomy-runtime[mcp-tools]'"))])
    if not container.args:
        raise ZoneSpecError("autonomy.yaml", [(where.replace(".image", ".args"), (
            f"{container.image} needs args: the command to proxy, e.g. "
            '["--sse-port", "8001", "--", "mcp-server-time"]'))])
    args, warnings = list(container.args), []
    split = args.index("--") if "--" in args else len(args)
    head = []
    for arg in args[:split]:
        name, eq, value = arg.partition("=")
        head.append(_MCP_FLAGS.get(name, name) + eq + value if name in _MCP_FLAGS else arg)
    tail = args[split:]
    if len(tail) > 1:
        tail[1] = _installed(tail[1])
        if "/" not in tail[1] and shutil.which(tail[1]) is None:
            warnings.append(f"mcp-proxy runs {tail[1]!r}, which is not on this machine's PATH: the tool "
                            "server will fail to start until it is installed")
    return ContainerPlan(kind="external", image_dir=None, argv=[str(executable), *head, *tail], warnings=warnings)


def _installed(command: str) -> str:
    """A bare command installed next to ``sys.executable`` (``mcp-server-time``), by its full path.

    The processes of a zone do not necessarily have this virtualenv's ``bin`` on their ``PATH``.
    """
    if "/" not in command and (Path(sys.executable).parent / command).is_file():
        return str(Path(sys.executable).parent / command)
    return command


class _Stage:
    def __init__(self, base: str) -> None:
        self.base = base
        self.workdir = "/"
        self.env: dict[str, str] = {}
        self.entrypoint: Instruction | None = None
        self.cmd: Instruction | None = None
        self.roots: list[str] = []  # where COPY put the build context

    def inherit(self, other: _Stage) -> None:
        self.workdir, self.env = other.workdir, dict(other.env)
        self.entrypoint, self.cmd, self.roots = other.entrypoint, other.cmd, list(other.roots)


class _LocalPlanner:
    def __init__(self, source_dir: Path, container: ContainerSpec, where: str) -> None:
        self.container = container
        self.where = where
        self.image_dir = source_dir / "images" / container.image
        self.shown = f"images/{container.image}/Dockerfile"
        self.warnings: list[str] = []
        self.requirements: Path | None = None

    def refuse(self, message: str) -> ZoneSpecError:
        return ZoneSpecError("autonomy.yaml", [(self.where, message)])

    def warn(self, instruction: Instruction, message: str) -> None:
        self.warnings.append(f"{self.shown} {instruction}: {message}")

    def plan(self) -> ContainerPlan:
        if not self.image_dir.is_dir():
            raise self.refuse(f"{self.container.image!r}: no folder images/{self.container.image}/ in "
                              f"{self.image_dir.parent.parent}: create it with a Dockerfile, or fix the name "
                              f"(external images need a '/'; this backend runs {_RUNNABLE})")
        dockerfile = self.image_dir / "Dockerfile"
        if not dockerfile.is_file():
            raise self.refuse(f"{self.shown} is missing: add one, e.g.\n{_EXAMPLE_DOCKERFILE}")
        try:
            instructions = read_dockerfile(dockerfile)
        except (OSError, UnicodeDecodeError) as exc:
            raise self.refuse(f"cannot read {self.shown} ({exc}): add one, e.g.\n{_EXAMPLE_DOCKERFILE}") from exc
        stage = self.run(instructions)
        if (self.image_dir / "requirements.txt").is_file() and self.requirements is None:
            self.requirements = self.image_dir / "requirements.txt"
        root = stage.roots[0] if stage.roots else stage.workdir
        workdir = posixpath.relpath(stage.workdir, root)
        if workdir.startswith(".."):
            self.warnings.append(f"{self.shown}: WORKDIR {stage.workdir} is outside where COPY put the files "
                                 f"({root}): running from the copy of images/{self.container.image}/")
            workdir = "."
        argv = self.argv(stage, posixpath.normpath(posixpath.join(root, workdir)))
        return ContainerPlan(kind="local", image_dir=self.image_dir, workdir=workdir, argv=argv, env=stage.env,
                             requirements=self.requirements, warnings=self.warnings)

    def run(self, instructions: list[Instruction]) -> _Stage:
        stages: dict[str, _Stage] = {}
        stage: _Stage | None = None
        for ins in instructions:
            if ins.keyword == "FROM":
                stage = self.from_(ins, stages)
            elif stage is None:
                if ins.keyword not in _IGNORED:
                    self.warn(ins, "comes before FROM: ignored")
            elif ins.keyword == "WORKDIR":
                stage.workdir = posixpath.normpath(posixpath.join(stage.workdir, substitute(ins.text, stage.env)))
            elif ins.keyword == "ENV":
                self.env(ins, stage)
            elif ins.keyword in ("COPY", "ADD"):
                self.copy(ins, stage)
            elif ins.keyword == "RUN":
                self.run_(ins)
            elif ins.keyword == "ENTRYPOINT":
                stage.entrypoint = ins
            elif ins.keyword == "CMD":
                stage.cmd = ins
            elif ins.keyword not in _IGNORED:
                self.warn(ins, "not supported by this backend: ignored")
        if stage is None:
            raise self.refuse(f"{self.shown} has no FROM: start it with\n{_EXAMPLE_DOCKERFILE}")
        return stage

    def from_(self, ins: Instruction, stages: dict[str, _Stage]) -> _Stage:
        words = ins.words
        base = words[0] if words else ""
        stage = _Stage(base)
        if base in stages:
            stage.inherit(stages[base])
        elif image_repository(base) not in AUTONOMY_BASES:
            self.warn(ins, f"runs with this machine's Python ({sys.executable}) instead of {base}")
        if len(words) >= 3 and words[1].upper() == "AS":
            stages[words[2]] = stage
        return stage

    def env(self, ins: Instruction, stage: _Stage) -> None:
        for name, value in parse_env(ins.text):
            if name in ("PATH", "VIRTUAL_ENV"):
                if "venv" not in value:
                    self.warn(ins, f"{name} is set by this backend: ignored")
                continue
            stage.env[name] = substitute(value, stage.env)

    def copy(self, ins: Instruction, stage: _Stage) -> None:
        if "from" in ins.flags:
            return  # build artefacts from another stage (a virtualenv): the controller makes its own
        words = ins.words
        if len(words) < 2:
            self.warn(ins, "needs a source and a destination: ignored")
            return
        *sources, dest = words
        dest_dir = posixpath.normpath(posixpath.join(stage.workdir, dest))
        into_dir = dest.endswith("/") or dest in (".", "./") or len(sources) > 1
        for source in sources:
            if source.startswith(("http://", "https://")):
                self.warn(ins, "downloads are not supported: ignored")
                continue
            source = posixpath.normpath(source)
            if source == ".":
                stage.roots.append(dest_dir)
                continue
            # A directory's contents land in dest; a file lands in dest/ or at dest.
            is_dir = (self.image_dir / source).is_dir()
            lands = dest_dir if is_dir or not into_dir else posixpath.join(dest_dir, posixpath.basename(source))
            root = stage.roots[0] if stage.roots else stage.workdir
            if lands != posixpath.normpath(posixpath.join(root, source)):
                self.warn(ins, f"{source} would land at {lands}; this backend runs from a copy of "
                               f"images/{self.container.image}/ as it is laid out there")

    def run_(self, ins: Instruction) -> None:
        for command in re.split(r"&&|;|\|\|", ins.text):
            try:
                words = shlex.split(command)
            except ValueError:
                words = command.split()
            if not words:
                continue
            pip = _pip_install_args(words)
            if pip is None:
                if words[0] in ("mkdir", "true", "echo") or _is_venv_creation(words):
                    continue
                self.warn(ins, f"{' '.join(words)!r} is not run: this backend builds no image; "
                               "install what it needs on this machine, or list Python packages in requirements.txt")
                continue
            files = _requirement_files(pip)
            for name in files:
                path = self.image_dir / name if not posixpath.isabs(name) else self.image_dir / posixpath.basename(name)
                if path.is_file():
                    self.requirements = self.requirements or path
                else:
                    self.warn(ins, f"{name} is not in images/{self.container.image}/: nothing to install")
            packages = [w for w in pip if not w.startswith("-") and w not in files and w != "pip"]
            if packages and not files:
                self.warn(ins, f"packages {' '.join(packages)} are not installed: list them in requirements.txt")

    def argv(self, stage: _Stage, root: str) -> list[str]:
        entry, cmd = stage.entrypoint, stage.cmd
        args = list(self.container.args) or None
        if entry is not None and entry.exec_form is None:
            if args:
                self.warnings.append(f"{self.shown}: ENTRYPOINT in shell form ignores the container's args")
            argv = _shell(entry.text)
        else:
            tail = args if args is not None else (_command(cmd) if cmd is not None else [])
            argv = ((entry.exec_form or []) if entry is not None else []) + tail
        if not argv:
            raise self.refuse(f'{self.shown} has no ENTRYPOINT or CMD: add one, e.g. ENTRYPOINT ["python", "main.py"]')
        argv[0] = sys.executable if _PYTHON.match(posixpath.basename(argv[0])) else _installed(argv[0])
        return [argv[0]] + [_relative(arg, root) for arg in argv[1:]]


def _command(ins: Instruction) -> list[str]:
    return ins.exec_form if ins.exec_form is not None else _shell(ins.text)


def _shell(text: str) -> list[str]:
    """Shell form: split it when it is a plain command, so ``python`` can be mapped; else ``sh -c``."""
    if _SHELL_CHARS.search(text):
        return ["/bin/sh", "-c", text]
    return shlex.split(text)


def _relative(arg: str, root: str) -> str:
    if root != "/" and arg.startswith(root.rstrip("/") + "/"):
        return arg[len(root.rstrip("/")) + 1:]
    return arg


def _pip_install_args(words: list[str]) -> list[str] | None:
    """The arguments after ``pip install`` (any pip spelling), or None if it is not a pip install."""
    for i, word in enumerate(words):
        if posixpath.basename(word) in ("pip", "pip3") or (word == "pip" and i > 0):
            if words[i + 1:i + 2] == ["install"]:
                return words[i + 2:]
            return None
    return None


def _requirement_files(args: list[str]) -> list[str]:
    files = []
    for i, arg in enumerate(args):
        if arg in ("-r", "--requirement") and i + 1 < len(args):
            files.append(args[i + 1])
        elif arg.startswith("--requirement="):
            files.append(arg.split("=", 1)[1])
        elif arg.startswith("-r") and len(arg) > 2:
            files.append(arg[2:])
    return files


def _is_venv_creation(words: list[str]) -> bool:
    return ("venv" in words and "-m" in words) or words[:2] == ["uv", "venv"] or words[0] == "virtualenv"
