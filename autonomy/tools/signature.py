"""A Python function's signature and docstring as a JSON schema, and arguments checked against it.

* JSON types come from the type hints (for a parameter without one, from its docstring type
  ``name (int): ...``, as upstream), through pydantic (``int`` -> integer, ``list[str]`` -> array of
  strings, ``Literal``/``Enum`` -> enum, pydantic models -> objects). ``Optional[X]`` is shown as ``X``
  and accepts null. A parameter without a hint is a string, passed to the function as it comes.
* ``required`` lists the parameters without a default; JSON-able defaults are shown as ``default``.
* The description is the docstring up to its ``Args:``/``Parameters:``/``Returns:`` section; each
  parameter's description comes from the ``Args:`` section (Google style, ``name (type): text``) or
  from ``:param name: text`` lines, else it is ``"parameter <name>"`` as upstream.
* Arguments are validated in pydantic's lax mode, so ``"5"`` becomes ``5`` for an ``int`` and
  ``"yes"``/``"true"``/``"1"``/``"on"`` become ``True`` for a ``bool``; as upstream, a JSON number
  given for a ``str`` becomes its text (``5`` -> ``"5"``).
"""

from __future__ import annotations

import inspect
import json
import re
import types
import typing
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from pydantic import ConfigDict, PydanticUserError, TypeAdapter, ValidationError

__all__ = ["Parameter", "describe", "parse_docstring"]

_SECTION = re.compile(r"^\s*(Args|Arguments|Parameters|Params|Returns|Return|Raises|Yields|Examples?|Notes?)\s*:?\s*$")
_ARG = re.compile(r"^\s*\*{0,2}(\w+)\s*(?:\(([^)]*)\))?\s*:\s*(.*)$")
_SPHINX = re.compile(r"^\s*:param\s+(?:[\w\[\], |]+\s+)?(\w+)\s*:\s*(.*)$")


@dataclass
class Parameter:
    """One parameter: its schema, whether it is required, and how to check a value for it."""

    name: str
    schema: dict[str, Any]
    required: bool
    adapter: TypeAdapter[Any] | None  # None: no type hint, the value is passed as it is

    def check(self, value: Any) -> Any:
        """``value`` converted to the parameter's type; raises ValueError naming the parameter."""
        if self.adapter is None:
            return value
        try:
            return self.adapter.validate_python(value)
        except ValidationError as exc:
            problem = exc.errors()[0].get("msg", str(exc)) if exc.errors() else str(exc)
            raise ValueError(f"argument {self.name!r} = {value!r}: {problem}") from None


def parse_docstring(doc: str | None) -> tuple[str, dict[str, str]]:
    """``(description, {parameter: description})`` from a Google- or Sphinx-style docstring."""
    text = inspect.cleandoc(doc or "")
    summary: list[str] = []
    params: dict[str, str] = {}
    section: str | None = None
    current: str | None = None
    params_indent = 0
    for line in text.splitlines():
        heading = _SECTION.match(line)
        if heading and not line.startswith((" ", "\t")):
            section = heading.group(1).lower()
            current = None
            continue
        sphinx = _SPHINX.match(line)
        if sphinx:
            current = sphinx.group(1)
            params[current] = sphinx.group(2).strip()
            section = "sphinx"
            continue
        if section in ("args", "arguments", "parameters", "params"):
            arg = _ARG.match(line)
            indent = len(line) - len(line.lstrip())
            if arg and (current is None or indent <= params_indent):
                current = arg.group(1)
                params_indent = indent
                params[current] = arg.group(3).strip()
            elif current is not None and line.strip():
                params[current] = f"{params[current]} {line.strip()}".strip()
        elif section == "sphinx":
            if current is not None and line.strip() and line.startswith((" ", "\t")):
                params[current] = f"{params[current]} {line.strip()}"
            elif line.strip().startswith(":"):
                current = None
        elif section is None:
            summary.append(line)
    return "\n".join(summary).strip(), params


_DOC_TYPES: dict[str, Any] = {"int": int, "integer": int, "float": float, "number": float, "bool": bool,
                               "boolean": bool, "str": str, "string": str, "list": list, "array": list,
                               "dict": dict, "object": dict}


def docstring_types(doc: str | None) -> dict[str, Any]:
    """``{parameter: type}`` from ``name (type): ...`` lines of a docstring's Args section, for the
    types upstream knows (int, float, bool, str, list, dict; ``Optional``/``, optional`` ignored)."""
    out: dict[str, Any] = {}
    section = None
    for line in inspect.cleandoc(doc or "").splitlines():
        heading = _SECTION.match(line)
        if heading and not line.startswith((" ", "\t")):
            section = heading.group(1).lower()
            continue
        if section in ("args", "arguments", "parameters", "params"):
            arg = _ARG.match(line)
            if arg and arg.group(2):
                name = arg.group(2).split(",")[0].strip().lower()
                if name in _DOC_TYPES:
                    out[arg.group(1)] = _DOC_TYPES[name]
    return out


def _unwrap_optional(hint: Any) -> tuple[Any, bool]:
    """``(X, True)`` for ``Optional[X]`` / ``X | None``, else ``(hint, False)``."""
    origin = typing.get_origin(hint)
    if origin is typing.Union or origin is types.UnionType:
        args = [a for a in typing.get_args(hint) if a is not type(None)]
        if len(args) < len(typing.get_args(hint)):
            inner = args[0] if len(args) == 1 else typing.Union[tuple(args)]  # noqa: UP007
            return inner, True
    return hint, False


def _schema(hint: Any) -> dict[str, Any]:
    schema = TypeAdapter(hint).json_schema()
    schema.pop("title", None)
    return schema


def _adapter(hint: Any) -> TypeAdapter[Any]:
    """A validating adapter; numbers given for strings become strings (``5`` -> ``"5"``), as upstream
    converts them (models often send a number for a string such as an id or a zip code)."""
    try:
        return TypeAdapter(hint, config=ConfigDict(coerce_numbers_to_str=True))
    except PydanticUserError:  # models, dataclasses, TypedDicts carry their own config
        return TypeAdapter(hint)


def describe(func: Callable[..., Any]) -> tuple[str, list[Parameter]]:
    """``(description, parameters)`` of ``func`` (``self``/``cls``, ``*args`` and ``**kwargs`` are left out)."""
    description, docs = parse_docstring(func.__doc__)
    doc_types = docstring_types(func.__doc__)
    try:
        hints = typing.get_type_hints(func)
    except Exception:  # unresolvable forward references: fall back to the raw annotations
        hints = {k: v for k, v in getattr(func, "__annotations__", {}).items() if not isinstance(v, str)}
    parameters: list[Parameter] = []
    for param in inspect.signature(func).parameters.values():
        if param.kind in (param.VAR_POSITIONAL, param.VAR_KEYWORD) or param.name in ("self", "cls"):
            continue
        hint = hints.get(param.name, inspect.Parameter.empty)
        if hint is inspect.Parameter.empty:  # as upstream, the docstring's type stands in for a missing hint
            hint = doc_types.get(param.name, hint)
        if hint is inspect.Parameter.empty or hint is Any:
            schema: dict[str, Any] = {"type": "string"}
            adapter = None
        else:
            inner, optional = _unwrap_optional(hint)
            schema = _schema(inner)
            adapter = _adapter(typing.Optional[inner] if optional else hint)  # noqa: UP045
        if param.default is not inspect.Parameter.empty and param.default is not None:
            try:
                schema["default"] = json.loads(json.dumps(param.default))
            except (TypeError, ValueError):
                pass  # a default JSON cannot show is simply not advertised
        schema["description"] = docs.get(param.name) or f"parameter {param.name}"
        parameters.append(Parameter(param.name, schema, param.default is inspect.Parameter.empty, adapter))
    return description, parameters
