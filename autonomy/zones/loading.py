"""Reading ``autonomy.yaml``: every problem collected, each named by file, field path and fix.

:func:`load_zone` finds the file in a directory, parses it (YAML, or JSON when the text starts
with ``{``), walks the raw data and raises one :class:`~autonomy.errors.ZoneSpecError` listing every
problem, e.g. ``autonomy.yaml: pods[1].clones: 'many' is not a whole number >= 1``. A file that
passes becomes a :class:`~autonomy.zones.spec.ZoneSpec`.

Accepted and normalised: ``zone_name`` for ``name``; ``env`` as a map or as a list of one-key maps;
numbers and booleans in ``env`` and ``args`` become strings (booleans as ``true``/``false``).
Accepted and ignored, with a note: ``portals``/``portal`` (the local backend gives containers of a
pod a shared ``localhost`` and the gateway serves the public pod, so no portals are needed), and
unknown keys (kept in ``extra``; the note suggests the nearest known key, to catch typos).
"""

from __future__ import annotations

import difflib
import json
from pathlib import Path
from typing import Any

import yaml

from autonomy.errors import ZoneSpecError
from autonomy.zones.spec import (
    DNS_LABEL_RE,
    DNS_LABEL_RULE,
    ENV_NAME_RE,
    SECRET_NAME_RE,
    SECRET_PREFIX,
    ZONE_NAME_RE,
    ZONE_NAME_RULE,
    ZoneSpec,
)

__all__ = ["ZONE_FILES", "find_zone_file", "load_zone", "parse_zone", "read_structured", "display_path"]

ZONE_FILES = ("autonomy.yaml", "autonomy.yml", "ockam.yaml", "ockam.yml")
_ZONE_KEYS = ("name", "pods")
_POD_KEYS = ("name", "public", "size", "clones", "containers")
_CONTAINER_KEYS = ("name", "image", "env", "args")
_PORTAL_KEYS = ("portals", "portal")


def display_path(path: Path) -> str:
    """``path`` relative to the working directory when it is under it, else absolute."""
    try:
        return str(path.resolve().relative_to(Path.cwd().resolve()))
    except ValueError:
        return str(path.resolve())


def find_zone_file(directory: Path) -> Path:
    """The zone file in ``directory`` (``autonomy.yaml`` first); ZoneSpecError if there is none."""
    for name in ZONE_FILES:
        candidate = directory / name
        if candidate.is_file():
            return candidate
    if not directory.is_dir():
        why = "does not exist" if not directory.exists() else "is not a directory"
        raise ZoneSpecError(display_path(directory), [("", f"{why}: --dir must name the zone's directory "
                                                           "(the one holding autonomy.yaml)")])
    raise ZoneSpecError(
        display_path(directory / "autonomy.yaml"),
        [("", "not found: run the command in the zone's directory, or pass --dir DIR")],
    )


def read_structured(path: Path, shown: str) -> Any:
    """Parse ``path`` as JSON (text starting with ``{``) or YAML; syntax errors name the line."""
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise ZoneSpecError(shown, [("", f"cannot be read ({exc}): check the file")]) from exc
    if text.lstrip().startswith("{"):
        try:
            return json.loads(text)
        except json.JSONDecodeError as exc:
            raise ZoneSpecError(
                shown, [("", f"line {exc.lineno}, column {exc.colno}: invalid JSON: {exc.msg}")]
            ) from exc
    try:
        return yaml.safe_load(text)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        where = f"line {mark.line + 1}, column {mark.column + 1}: " if mark else ""
        what = " ".join(str(p) for p in (exc.context, exc.problem) if p)
        raise ZoneSpecError(shown, [("", f"{where}invalid YAML: {what}")]) from exc
    except yaml.YAMLError as exc:
        raise ZoneSpecError(shown, [("", f"invalid YAML: {exc}")]) from exc


def load_zone(directory: Path | str) -> ZoneSpec:
    """Load and check the zone spec in ``directory``. Raises ZoneSpecError with every problem."""
    path = find_zone_file(Path(directory))
    shown = display_path(path)
    return parse_zone(read_structured(path, shown), shown)


def parse_zone(data: Any, file: str = "autonomy.yaml") -> ZoneSpec:
    """Check already-parsed zone data; ``file`` is the name used in messages."""
    checker = _Checker()
    normalized = checker.zone(data)
    if checker.problems:
        raise ZoneSpecError(file, checker.problems)
    normalized["notes"] = checker.notes
    return ZoneSpec.model_validate(normalized)


def _show(value: Any) -> str:
    return repr(value) if not isinstance(value, dict | list) else type(value).__name__


class _Checker:
    def __init__(self) -> None:
        self.problems: list[tuple[str, str]] = []
        self.notes: list[str] = []

    def problem(self, path: str, message: str) -> None:
        self.problems.append((path, message))

    def extras(self, raw: dict, known: tuple[str, ...], path: str) -> dict[str, Any]:
        extra = {}
        for key, value in raw.items():
            if key in known:
                continue
            extra[key] = value
            where = f"{path}.{key}" if path else str(key)
            if key in _PORTAL_KEYS:
                self.notes.append(
                    f"{where}: ignored: pods share localhost and the gateway serves the public pod, "
                    "so portals are not needed here"
                )
                continue
            close = difflib.get_close_matches(str(key), known, n=1)
            hint = f" (did you mean {close[0]!r}?)" if close else ""
            self.notes.append(f"{where}: unknown key, kept but not used{hint}")
        return extra

    def zone(self, data: Any) -> dict[str, Any]:
        if data is None:
            self.problem("", "is empty: write at least 'name:' and 'pods:'")
            return {}
        if not isinstance(data, dict):
            self.problem("", f"must be a mapping with 'name' and 'pods', not a {type(data).__name__}")
            return {}
        data = dict(data)
        if "zone_name" in data:
            alias = data.pop("zone_name")
            if "name" in data and data["name"] != alias:
                self.problem("zone_name", f"{alias!r} differs from name {data['name']!r}: keep only one")
            data.setdefault("name", alias)
        out: dict[str, Any] = {"extra": self.extras(data, _ZONE_KEYS, "")}
        name = data.get("name")
        if name is None:
            self.problem("name", "is missing: add 'name: myapp' (1 to 10 of a-z and 0-9)")
        elif not isinstance(name, str) or not ZONE_NAME_RE.match(name):
            self.problem("name", f"{_show(name)} {ZONE_NAME_RULE}")
        out["name"] = name
        pods = data.get("pods")
        if pods is None:
            self.problem("pods", "is missing: add at least one pod with 'name' and 'containers'")
            return out
        if not isinstance(pods, list) or not pods:
            self.problem("pods", "must be a non-empty list of pods")
            return out
        out["pods"] = [self.pod(p, f"pods[{i}]") for i, p in enumerate(pods)]
        names: list[str] = []
        for i, pod in enumerate(out["pods"]):
            name = pod.get("name")
            if isinstance(name, str) and name in names:
                self.problem(f"pods[{i}].name", f"{name!r} is used by another pod: pod names are unique")
            if isinstance(name, str):
                names.append(name)
        if len(pods) > 1 and "main-pod" not in names:
            self.problem("pods", "a zone with several pods needs one named 'main-pod': rename its entry pod")
        return out

    def pod(self, raw: Any, path: str) -> dict[str, Any]:
        if not isinstance(raw, dict):
            self.problem(path, f"must be a mapping with 'name' and 'containers', not {_show(raw)}")
            return {}
        out: dict[str, Any] = {"extra": self.extras(raw, _POD_KEYS, path)}
        out["name"] = self.label(raw.get("name"), f"{path}.name", "main-pod")
        public = raw.get("public", False)
        if not isinstance(public, bool):
            self.problem(f"{path}.public", f"{_show(public)} must be true or false (unquoted)")
        out["public"] = public
        size = raw.get("size", "regular")
        if size not in ("regular", "big"):
            self.problem(f"{path}.size", f"{_show(size)} must be 'regular' or 'big'")
        out["size"] = size
        clones = raw.get("clones", 1)
        if isinstance(clones, bool) or not isinstance(clones, int) or clones < 1:
            self.problem(f"{path}.clones", f"{_show(clones)} is not a whole number >= 1")
        out["clones"] = clones
        containers = raw.get("containers")
        if containers is None:
            self.problem(f"{path}.containers", "is missing: add a list with at least one container")
            return out
        if not isinstance(containers, list) or not containers:
            self.problem(f"{path}.containers", "must be a non-empty list of containers")
            return out
        out["containers"] = [self.container(c, f"{path}.containers[{j}]") for j, c in enumerate(containers)]
        seen: set[str] = set()
        for j, container in enumerate(out["containers"]):
            name = container.get("name")
            if isinstance(name, str) and name in seen:
                self.problem(
                    f"{path}.containers[{j}].name",
                    f"{name!r} is used by another container of this pod: container names are unique in a pod",
                )
            if isinstance(name, str):
                seen.add(name)
        return out

    def label(self, name: Any, path: str, example: str) -> Any:
        if name is None:
            self.problem(path, f"is missing: add 'name: {example}'")
        elif not isinstance(name, str) or not DNS_LABEL_RE.match(name):
            self.problem(path, f"{_show(name)} {DNS_LABEL_RULE}")
        return name

    def container(self, raw: Any, path: str) -> dict[str, Any]:
        if not isinstance(raw, dict):
            self.problem(path, f"must be a mapping with 'name' and 'image', not {_show(raw)}")
            return {}
        out: dict[str, Any] = {"extra": self.extras(raw, _CONTAINER_KEYS, path)}
        out["name"] = self.label(raw.get("name"), f"{path}.name", "main")
        image = raw.get("image")
        if image is None:
            self.problem(f"{path}.image", "is missing: add 'image: main' (a folder under images/) "
                         "or an external image such as ghcr.io/build-trust/mcp-proxy")
        elif not isinstance(image, str) or not image or any(c.isspace() for c in image):
            self.problem(f"{path}.image", f"{_show(image)} must be an image name without spaces")
        out["image"] = image
        out["env"] = self.env(raw.get("env"), f"{path}.env")
        out["args"] = self.args(raw.get("args"), f"{path}.args")
        return out

    def env(self, raw: Any, path: str) -> dict[str, str]:
        if raw is None:
            return {}
        pairs: list[tuple[str, Any, str]] = []
        if isinstance(raw, dict):
            pairs = [(k, v, f"{path}.{k}") for k, v in raw.items()]
        elif isinstance(raw, list):
            for i, item in enumerate(raw):
                if not isinstance(item, dict) or len(item) != 1:
                    self.problem(f"{path}[{i}]", f"{_show(item)} must be a one-key map like '- LOG_LEVEL: INFO'")
                    continue
                ((k, v),) = item.items()
                if any(k == seen for seen, _, _ in pairs):
                    self.problem(f"{path}[{i}]", f"{k!r} is set twice: keep one")
                pairs.append((k, v, f"{path}[{i}]"))
        else:
            self.problem(path, f"{_show(raw)} must be a map {{KEY: value}} or a list of one-key maps")
            return {}
        out: dict[str, str] = {}
        for key, value, where in pairs:
            if not isinstance(key, str) or not ENV_NAME_RE.match(key):
                self.problem(where, f"{key!r} is not a variable name: use letters, digits and '_'")
                continue
            text = self.scalar(value, where)
            if text is None:
                continue
            if text.startswith(SECRET_PREFIX) and not SECRET_NAME_RE.match(text[len(SECRET_PREFIX):]):
                self.problem(where, f"{text!r} is not a secret reference: write secrets.NAME")
                continue
            out[key] = text
        return out

    def args(self, raw: Any, path: str) -> list[str]:
        if raw is None:
            return []
        if not isinstance(raw, list):
            self.problem(path, f"{_show(raw)} must be a list of strings, e.g. [\"--port\", \"8001\"]")
            return []
        return [t for i, v in enumerate(raw) if (t := self.scalar(v, f"{path}[{i}]")) is not None]

    def scalar(self, value: Any, path: str) -> str | None:
        if isinstance(value, bool):
            return "true" if value else "false"
        if isinstance(value, str) and "\0" in value:  # a process's env and argv cannot carry NUL
            self.problem(path, "contains a NUL character (\\0): a process's environment and arguments cannot hold one")
            return None
        if isinstance(value, str | int | float):
            return str(value)
        if value is None:
            self.problem(path, "is empty: write a value, or \"\" for an empty string")
        else:
            self.problem(path, f"{_show(value)} must be a string or a number")
        return None
