"""``secrets.yaml``: the zone's secret values, and resolving ``secrets.NAME`` in a container's env.

Two formats are read (upstream's):

- the simplified one, a flat map ``NAME: value``;
- the raw one, a list ``[{name: N, fields: {k: v, ...}}]``. An entry whose only field is ``value``
  gives the secret ``N``; any other entry gives one secret per field, named by the field (as in
  Kubernetes, where ``secrets.K`` reads key ``K`` of the zone's secret). A name defined twice is
  refused.

Values must be strings or numbers (numbers are stringified). Secret values never appear in
messages: errors name the secret, never its value.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from autonomy.errors import ZoneSpecError
from autonomy.zones.loading import display_path, read_structured
from autonomy.zones.spec import SECRET_NAME_RE, ContainerSpec, SecretRef, ZoneSpec

__all__ = ["SECRETS_FILES", "find_secrets_file", "load_secrets", "parse_secrets", "resolve_env", "check_secrets"]

SECRETS_FILES = ("secrets.yaml", "secrets.yml")


def find_secrets_file(directory: Path) -> Path | None:
    """``secrets.yaml`` (or ``.yml``) in ``directory``, or None."""
    for name in SECRETS_FILES:
        if (directory / name).is_file():
            return directory / name
    return None


def load_secrets(directory: Path | str) -> dict[str, str]:
    """The secrets in ``directory``'s ``secrets.yaml``; a missing file gives ``{}``."""
    path = find_secrets_file(Path(directory))
    if path is None:
        return {}
    shown = display_path(path)
    return parse_secrets(read_structured(path, shown), shown)


def parse_secrets(data: Any, file: str = "secrets.yaml") -> dict[str, str]:
    """Check already-parsed secrets data (either format); ``file`` is the name used in messages."""
    problems: list[tuple[str, str]] = []
    out: dict[str, str] = {}

    def add(name: Any, value: Any, path: str) -> None:
        if not isinstance(name, str) or not SECRET_NAME_RE.match(name):
            problems.append((path, f"{name!r} is not a secret name: use a-z, A-Z, 0-9, '-', '_' and '.'"))
        elif name in out:
            problems.append((path, f"{name!r} is defined twice: keep one"))
        elif isinstance(value, bool) or not isinstance(value, str | int | float):
            # Never echo the value: it may be a secret pasted in the wrong shape.
            problems.append((path, f"the value of {name!r} must be a string (quote it)"))
        elif "\0" in str(value):
            problems.append((path, f"the value of {name!r} contains a NUL character, which a process's "
                                   "environment cannot hold"))
        else:
            out[name] = str(value)

    if data is None:
        return {}
    if isinstance(data, dict):
        for name, value in data.items():
            add(name, value, str(name))
    elif isinstance(data, list):
        for i, entry in enumerate(data):
            fields = entry.get("fields") if isinstance(entry, dict) else None
            if not isinstance(entry, dict) or not isinstance(fields, dict) or "name" not in entry:
                problems.append((f"[{i}]", "must be {name: NAME, fields: {KEY: value}}"))
                continue
            if list(fields) == ["value"]:
                add(entry["name"], fields["value"], f"[{i}].fields.value")
            else:
                for key, value in fields.items():
                    add(key, value, f"[{i}].fields.{key}")
    else:
        problems.append(("", "must be a map of NAME: value (or a list of {name, fields})"))
    if problems:
        raise ZoneSpecError(file, problems)
    return out


def resolve_env(container: ContainerSpec, secrets: dict[str, str]) -> dict[str, str]:
    """``container.env`` with every ``secrets.NAME`` replaced by its value.

    Raises ZoneSpecError naming the env variable and the secret when ``secrets`` lacks it.
    """
    env: dict[str, str] = {}
    problems: list[tuple[str, str]] = []
    for key, value in container.env.items():
        if isinstance(value, SecretRef):
            if value.name not in secrets:
                problems.append((f"containers.{container.name}.env.{key}", _missing(value.name)))
                continue
            env[key] = secrets[value.name]
        else:
            env[key] = value
    if problems:
        raise ZoneSpecError("secrets.yaml", problems)
    return env


def check_secrets(zone: ZoneSpec, secrets: dict[str, str], file: str = "autonomy.yaml") -> None:
    """Refuse, naming every env variable concerned, when the zone uses secrets that are not defined."""
    problems = [
        (f"pods[{i}].containers[{j}].env.{key}", _missing(value.name))
        for i, pod in enumerate(zone.pods)
        for j, container in enumerate(pod.containers)
        for key, value in container.env.items()
        if isinstance(value, SecretRef) and value.name not in secrets
    ]
    if problems:
        raise ZoneSpecError(file, problems)


def _missing(name: str) -> str:
    return f"secrets.{name} is not defined in secrets.yaml: add '{name}: ...' to secrets.yaml next to autonomy.yaml"
