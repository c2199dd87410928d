"""The error tree: every exception of autonomy is an AutonomyError, drawn in autonomy/errors.py with its status."""

from __future__ import annotations

import importlib
import inspect
import pkgutil
import re

import pytest

import autonomy
from autonomy import errors
from autonomy.errors import AutonomyError


def _exception_classes() -> list[type[BaseException]]:
    found: dict[str, type[BaseException]] = {}
    for info in pkgutil.walk_packages(autonomy.__path__, "autonomy."):
        if info.name.endswith("__main__"):
            continue
        try:
            module = importlib.import_module(info.name)
        except ImportError:  # a module of an extra that is not installed here
            continue
        for value in vars(module).values():
            if (inspect.isclass(value) and issubclass(value, BaseException)
                    and value.__module__ == module.__name__):
                found[f"{value.__module__}.{value.__qualname__}"] = value
    return list(found.values())


CLASSES = _exception_classes()
# Raised and caught inside one middleware to stop a request body: never seen by a caller, and must not be
# an AutonomyError (a handler catching the tree would answer it instead of the middleware).
CONTROL_FLOW = {"autonomy.http.guard._TooLarge"}
DRAWN = {m.group(1): m.group(2)
         for m in re.finditer(r"(\w+)(?: \(also [\w.]+\))? \[([\w' 4x]+)\]", errors.__doc__ or "")}


def test_the_tree_was_found():
    assert {"AutonomyError", "AgentError", "UpstreamError", "TurnFailed"} <= {c.__name__ for c in CLASSES}


@pytest.mark.parametrize("cls", CLASSES, ids=lambda c: c.__qualname__)
def test_every_exception_is_under_the_root_and_drawn_with_its_status(cls):
    if f"{cls.__module__}.{cls.__qualname__}" in CONTROL_FLOW:
        return
    assert issubclass(cls, AutonomyError), f"{cls.__module__}.{cls.__qualname__} is outside AutonomyError"
    internal = ("RetryableStatus", "RequestRefused")  # named below the drawing
    if cls.__name__.startswith("_") or cls.__name__ in internal:
        assert cls.__name__ in (errors.__doc__ or "")
        return
    assert cls.__name__ in DRAWN, f"{cls.__name__} is missing from the tree drawn in autonomy/errors.py"
    drawn = DRAWN[cls.__name__]
    if drawn.isdigit():
        assert cls.http_status == int(drawn), f"{cls.__name__}: drawn [{drawn}], http_status {cls.http_status}"


def test_address_in_use_is_a_named_error_that_still_is_a_value_error():
    error = errors.AddressInUse("echo", "node-1")
    assert isinstance(error, ValueError) and error.http_status == 409
    assert "'echo'" in str(error) and "'node-1'" in str(error)


def test_the_gateway_keeps_status_as_its_name_for_http_status():
    assert errors.ModelNotFound("m", []).status == 404 == errors.ModelNotFound.http_status


def test_every_drawn_class_exists():
    names = {c.__name__ for c in CLASSES}
    assert set(DRAWN) <= names, f"drawn but not defined: {set(DRAWN) - names}"


def _drawn_parents() -> dict[str, str]:
    """``{class: parent}`` as the drawing in errors.py nests them (by the column of each name)."""
    parents: dict[str, str] = {}
    stack: list[tuple[int, str]] = []
    for line in (errors.__doc__ or "").splitlines():
        match = re.match(r"^    ([│ ]*(?:├── |└── ))?([A-Z]\w+) ", line)
        if not match:
            continue
        column = match.start(2)
        while stack and stack[-1][0] >= column:
            stack.pop()
        if stack:
            parents[match.group(2)] = stack[-1][1]
        stack.append((column, match.group(2)))
    return parents


def test_the_drawing_nests_each_class_under_its_real_parent():
    by_name = {c.__name__: c for c in CLASSES}
    for name, parent in _drawn_parents().items():
        assert by_name[parent] in by_name[name].__bases__, f"{name} is drawn under {parent}"
