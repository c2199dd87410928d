"""``Tool(func)``: a Python function (sync or async) offered to a model as a tool.

Usable as ``Tool(func)`` or as a decorator (``@Tool``). The schema comes from the signature and the
docstring (``signature.py``). ``invoke`` never raises for what the model sent or for the function
failing: it returns ``"Tool execution failed: <Type>: <message>"``, which the model reads.

Sync functions run in a worker thread (``asyncio.to_thread``), because a tool may block (files,
HTTP, subprocesses) and must not stall the node's event loop; a sync tool must therefore not rely on
the event loop's thread. Async functions run on the loop. Cancellation is not caught.
"""

from __future__ import annotations

import asyncio
import functools
import inspect
import json
from collections.abc import Callable
from typing import Any

from autonomy.tools.protocol import check_tool_name
from autonomy.tools.signature import describe

__all__ = ["Tool", "MAX_ARGUMENT_BYTES"]

MAX_ARGUMENT_BYTES = 1024 * 1024


def _failed(exc: BaseException) -> str:
    return f"Tool execution failed: {type(exc).__name__}: {exc}"


class Tool:
    """A function as a tool: ``name`` (``func.__name__``, ``a-z 0-9 _ -``), ``description``, ``parameters``.

    ``name`` and ``description`` may be overridden. Calling the Tool calls the function.
    """

    def __init__(self, func: Callable[..., Any], name: str | None = None, description: str | None = None) -> None:
        if not callable(func):
            raise TypeError(f"Tool(func) needs a function, got {type(func).__name__}")
        self.func = func
        self.name = check_tool_name(name if name is not None else getattr(func, "__name__", None))
        doc_description, self._parameters = describe(func)
        self.description = description or doc_description or f"Function {self.name}"
        self._is_async = inspect.iscoroutinefunction(func) or inspect.iscoroutinefunction(
            getattr(func, "__call__", None)  # noqa: B004 - callable objects with an async __call__
        )
        functools.update_wrapper(self, func, assigned=("__module__", "__qualname__", "__doc__"), updated=())

    def __repr__(self) -> str:
        return f"Tool({self.name!r})"

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        return self.func(*args, **kwargs)

    @property
    def parameters(self) -> dict[str, Any]:
        """The JSON schema of the arguments (an object)."""
        return {
            "type": "object",
            "properties": {p.name: p.schema for p in self._parameters},
            "required": [p.name for p in self._parameters if p.required],
        }

    async def spec(self) -> dict[str, Any]:
        """The OpenAI function spec."""
        return {"type": "function",
                "function": {"name": self.name, "description": self.description, "parameters": self.parameters}}

    def _arguments(self, json_argument: str | None) -> dict[str, Any]:
        """The checked keyword arguments, or ValueError saying what is wrong and what is expected."""
        if json_argument is None or not json_argument.strip():
            raw: Any = {}
        else:
            size = len(json_argument.encode())
            if size > MAX_ARGUMENT_BYTES:
                raise ValueError(f"arguments are {size} bytes, more than the limit of {MAX_ARGUMENT_BYTES} bytes "
                                 "(1 MiB): send a reference (a file name, a URL) instead")
            try:
                raw = json.loads(json_argument)
            except json.JSONDecodeError as exc:
                raise ValueError(f"arguments are not valid JSON ({exc.msg} at position {exc.pos}): "
                                 "send a JSON object") from None
        if not isinstance(raw, dict):
            raise ValueError(f"arguments must be a JSON object, got {type(raw).__name__}")
        known = {p.name: p for p in self._parameters}
        unexpected = sorted(set(raw) - set(known))
        if unexpected:
            raise ValueError(f"unexpected argument(s) {', '.join(unexpected)} for tool {self.name!r}; "
                             f"it takes: {', '.join(known) or 'no arguments'}")
        missing = [name for name, p in known.items() if p.required and name not in raw]
        if missing:
            raise ValueError(f"missing required argument(s) {', '.join(missing)} for tool {self.name!r}")
        return {name: known[name].check(value) for name, value in raw.items()}

    async def invoke(self, json_argument: str | None) -> str:
        """Run the function with the model's JSON arguments; its result ``str()``-ed, or the error as text."""
        try:
            kwargs = self._arguments(json_argument)
            if self._is_async:
                result = await self.func(**kwargs)
            else:
                result = await asyncio.to_thread(self.func, **kwargs)
                if inspect.isawaitable(result):  # a sync wrapper that returned a coroutine
                    result = await result
        except Exception as exc:
            return _failed(exc)
        return str(result)
