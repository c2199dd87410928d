"""Tool(func): schema from hints and docstrings, argument checking, errors returned as text."""

from __future__ import annotations

import asyncio
import json
import threading
from enum import Enum
from typing import Literal, Optional

import pytest

from autonomy.errors import ConfigError
from autonomy.tools import InvokableTool, Tool


def add(a: int, b: int = 2) -> int:
    """Add two numbers.

    Longer explanation.

    Args:
        a: The first number.
        b (int): The second number,
            defaulting to two.

    Returns:
        The sum.
    """
    return a + b


class Color(Enum):
    RED = "red"
    BLUE = "blue"


async def test_spec_comes_from_hints_and_the_docstring() -> None:
    tool = Tool(add)
    assert isinstance(tool, InvokableTool)
    spec = await tool.spec()
    assert spec == {"type": "function", "function": {
        "name": "add",
        "description": "Add two numbers.\n\nLonger explanation.",
        "parameters": {"type": "object", "required": ["a"], "properties": {
            "a": {"type": "integer", "description": "The first number."},
            "b": {"type": "integer", "default": 2, "description": "The second number, defaulting to two."},
        }},
    }}


async def test_richer_types_map_to_json_schema() -> None:
    @Tool
    def paint(colors: list[str], shade: Color, mode: Literal["fast", "slow"], note: Optional[str] = None,  # noqa: UP045
              strength: float | None = None, anything=None, flags: dict[str, bool] | None = None) -> str:
        """:param colors: the colors to use"""
        return f"{colors} {shade.value} {mode} {note} {strength} {anything} {flags}"

    props = (await paint.spec())["function"]["parameters"]["properties"]
    assert props["colors"]["type"] == "array" and props["colors"]["items"] == {"type": "string"}
    assert props["colors"]["description"] == "the colors to use"
    assert props["shade"]["enum"] == ["red", "blue"]
    assert props["mode"]["enum"] == ["fast", "slow"]
    assert props["note"]["type"] == "string" and props["strength"]["type"] == "number"
    assert props["anything"] == {"type": "string", "description": "parameter anything"}
    assert props["flags"]["type"] == "object"
    assert (await paint.spec())["function"]["description"] == "Function paint"
    result = await paint.invoke(json.dumps({"colors": ["a"], "shade": "blue", "mode": "slow", "strength": "0.5"}))
    assert result == "['a'] blue slow None 0.5 None None"


async def test_invoke_coerces_strings_and_str_s_the_result() -> None:
    tool = Tool(add)
    assert await tool.invoke('{"a": "40", "b": 2}') == "42"
    assert await tool.invoke('{"a": 1}') == "3"

    @Tool
    def flag(on: bool) -> dict[str, bool]:
        return {"on": on}

    assert await flag.invoke('{"on": "yes"}') == "{'on': True}"
    assert await flag.invoke('{"on": "0"}') == "{'on': False}"
    assert add(1, 1) == 2 and Tool(add)(1, 1) == 2  # the function stays callable


@pytest.mark.parametrize(("arguments", "expected"), [
    ('{"a": 1, "c": 3}', "unexpected argument(s) c for tool 'add'; it takes: a, b"),
    ('{"b": 1}', "missing required argument(s) a for tool 'add'"),
    ("[1, 2]", "arguments must be a JSON object, got list"),
    ("{not json", "arguments are not valid JSON"),
    ('{"a": "forty"}', "argument 'a' = 'forty'"),
])
async def test_bad_arguments_come_back_as_text(arguments: str, expected: str) -> None:
    result = await Tool(add).invoke(arguments)
    assert result.startswith("Tool execution failed: ValueError: ")
    assert expected in result


async def test_arguments_over_one_mebibyte_are_refused() -> None:
    @Tool
    def echo(text: str) -> str:
        return text

    result = await echo.invoke(json.dumps({"text": "x" * (1024 * 1024)}))
    assert "more than the limit of 1048576 bytes" in result
    assert await echo.invoke(json.dumps({"text": "x" * 1000})) == "x" * 1000


async def test_failures_are_returned_not_raised() -> None:
    @Tool
    async def broken() -> str:
        raise KeyError("gone")

    assert await broken.invoke(None) == "Tool execution failed: KeyError: 'gone'"
    assert await broken.invoke("") == "Tool execution failed: KeyError: 'gone'"


async def test_sync_tools_run_off_the_event_loop_and_async_ones_on_it() -> None:
    loop_thread = threading.get_ident()

    @Tool
    def blocking() -> bool:
        return threading.get_ident() != loop_thread

    @Tool
    async def nonblocking() -> bool:
        await asyncio.sleep(0)
        return threading.get_ident() == loop_thread

    assert await blocking.invoke("{}") == "True"
    assert await nonblocking.invoke("{}") == "True"


def test_names_must_be_lower_case_identifiers() -> None:
    def GetTime() -> str:  # noqa: N802
        return ""

    with pytest.raises(ConfigError, match="'GetTime'.*lower-case"):
        Tool(GetTime)
    assert Tool(GetTime, name="get_time").name == "get_time"
    with pytest.raises(ConfigError):
        Tool(lambda: 1)


async def test_a_json_number_for_a_string_argument_is_converted_as_upstream_does():
    def lookup(zip_code: str, tags: list[str] | None = None) -> str:
        return f"{zip_code!r} {tags!r}"

    assert await Tool(lookup).invoke('{"zip_code": 75001, "tags": [1, 2.5]}') == "'75001' ['1', '2.5']"


async def test_a_docstring_type_stands_in_for_a_missing_type_hint_as_upstream():
    def scale(value, factor, label):
        """Scale a value.

        Args:
            value (int): The value.
            factor (float, optional): The factor.
            label: A label.
        """
        return value * factor

    properties = Tool(scale).parameters["properties"]
    assert [properties[n]["type"] for n in ("value", "factor", "label")] == ["integer", "number", "string"]
    assert await Tool(scale).invoke('{"value": "3", "factor": 1.5, "label": "x"}') == "4.5"
