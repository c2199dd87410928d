"""A small Dockerfile reader: instructions, with continuations, comments and both argument forms.

It understands what an Autonomy app's Dockerfile uses; :mod:`autonomy.zones.images` decides what each
instruction means for a process. Parsing never refuses: a line it cannot read becomes an
:class:`Instruction` with ``keyword`` as written, and the planner warns about it.

- ``#`` comments (and parser directives such as ``# syntax=...``) are dropped, as are blank lines;
- a ``\\`` at the end of a line continues it (comment lines inside a continuation are skipped, as
  Docker does);
- ``args`` is the exec form (a JSON array) when the text is one, else ``None`` and ``text`` holds the
  shell form.
"""

from __future__ import annotations

import json
import re
import shlex
from dataclasses import dataclass
from pathlib import Path

__all__ = ["Instruction", "parse_dockerfile", "read_dockerfile", "parse_env", "substitute"]


@dataclass(frozen=True)
class Instruction:
    """One instruction. ``line`` is the 1-based line it starts on; ``keyword`` is upper case."""

    keyword: str
    text: str
    line: int

    @property
    def exec_form(self) -> list[str] | None:
        """The JSON-array arguments (``["python", "main.py"]``), or None for the shell form."""
        stripped = self.text.strip()
        if not stripped.startswith("["):
            return None
        try:
            value = json.loads(stripped)
        except json.JSONDecodeError:
            return None
        if isinstance(value, list) and all(isinstance(v, str) for v in value):
            return value
        return None

    @property
    def flags(self) -> dict[str, str]:
        """Leading ``--name=value`` options (``COPY --from=dev``), by name."""
        out = {}
        for word in self.text.split():
            if not word.startswith("--"):
                break
            name, _, value = word[2:].partition("=")
            out[name] = value
        return out

    @property
    def words(self) -> list[str]:
        """The shell-form arguments after any ``--flags`` (exec form if it is one)."""
        words = self.exec_form
        if words is None:
            try:
                words = shlex.split(self.text)
            except ValueError:
                words = self.text.split()
        return [w for w in words if not w.startswith("--")] if self.flags else words

    def __str__(self) -> str:
        text = self.text if len(self.text) <= 60 else self.text[:57] + "..."
        return f"line {self.line}: {self.keyword} {text}"


_CONTINUATION = re.compile(r"\\\s*$")


def parse_dockerfile(text: str) -> list[Instruction]:
    """The instructions of a Dockerfile's ``text``, in order."""
    instructions: list[Instruction] = []
    parts: list[str] = []
    start = 0
    for number, raw in enumerate(text.splitlines(), start=1):
        stripped = raw.strip()
        if not parts and (not stripped or stripped.startswith("#")):
            continue
        if parts and stripped.startswith("#"):
            continue  # comment inside a continuation
        if not parts:
            start = number
        if _CONTINUATION.search(raw):
            parts.append(_CONTINUATION.sub("", raw).strip())
            continue
        parts.append(stripped)
        instructions.append(_instruction(" ".join(p for p in parts if p), start))
        parts = []
    if parts:
        instructions.append(_instruction(" ".join(p for p in parts if p), start))
    return instructions


def read_dockerfile(path: Path) -> list[Instruction]:
    """Parse the Dockerfile at ``path`` (OSError if it cannot be read)."""
    return parse_dockerfile(path.read_text(encoding="utf-8"))


def _instruction(line: str, number: int) -> Instruction:
    keyword, _, rest = line.partition(" ")
    return Instruction(keyword.upper(), rest.strip(), number)


def parse_env(text: str) -> list[tuple[str, str]]:
    """``ENV`` arguments in either form: ``K=V K2="v 2"`` or the legacy ``K some value``."""
    words = shlex.split(text, posix=True)
    if not words:
        return []
    if "=" not in words[0]:
        # Legacy form: the first word is the name, the rest of the line (as written) is the value.
        name, _, value = text.strip().partition(" ")
        return [(name, value.strip())]
    pairs = []
    for word in words:
        name, _, value = word.partition("=")
        pairs.append((name, value))
    return pairs


_VARIABLE = re.compile(r"\$(?:\{(\w+)(?::?-([^}]*))?\}|(\w+))")


def substitute(value: str, env: dict[str, str]) -> str:
    """Replace ``$VAR``, ``${VAR}`` and ``${VAR:-default}`` from ``env`` (unknown -> default or "")."""

    def replace(match: re.Match[str]) -> str:
        name = match.group(1) or match.group(3)
        default = match.group(2) or ""
        return env.get(name, default)

    return _VARIABLE.sub(replace, value)
