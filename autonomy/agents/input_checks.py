"""Limits on what one request to an agent may carry, checked before anything is stored.

A body that passes is one the agent can remember, store and send to a model; one that does not is
refused (the HTTP routes answer 422 naming the field) and leaves no trace:

- no string (key or value) holds a lone surrogate (``"\\ud800"``): it cannot be stored or sent;
- JSON nesting at most ``AUTONOMY_MAX_JSON_DEPTH`` deep (default 32);
- at most ``AUTONOMY_MAX_MESSAGES_PER_REQUEST`` messages (default 100);
- ``scope`` and ``conversation`` at most 256 characters.
"""

from __future__ import annotations

import os
import re
from typing import Any

from autonomy.errors import ConfigError

__all__ = ["InputRefused", "MAX_ID_LENGTH", "check_request_json", "max_json_depth", "max_messages", "valid_text"]


class InputRefused(ConfigError):
    """A request over one of the limits; ``field`` is where (``message[2].content``), the text says why."""

    http_status = 422

    def __init__(self, field: str, problem: str) -> None:
        self.field = field
        super().__init__(f"{field} {problem}")

MAX_ID_LENGTH = 256
_SURROGATE = re.compile("[\ud800-\udfff]")


def _positive(name: str, default: int) -> int:
    raw = os.environ.get(name, "").strip()
    if not raw:
        return default
    try:
        value = int(raw)
    except ValueError:
        value = 0
    if value < 1:
        raise ConfigError(f"{name} must be a positive integer, not {raw!r}")
    return value


def max_json_depth() -> int:
    return _positive("AUTONOMY_MAX_JSON_DEPTH", 32)


def max_messages() -> int:
    return _positive("AUTONOMY_MAX_MESSAGES_PER_REQUEST", 100)


def _bad_string(text: str) -> bool:
    return not text.isascii() and _SURROGATE.search(text) is not None


def valid_text(text: str) -> bool:
    """True when ``text`` holds no lone surrogate (it can be encoded as UTF-8, stored and listed)."""
    return not _bad_string(text)


def check_request_json(data: Any, root: str = "body") -> None:
    """Raise InputRefused naming the first field (``message[2].content``) that breaks a limit above.
    Iterative: a hostile nesting cannot exhaust the stack."""
    limit = max_json_depth()
    stack: list[tuple[Any, str, int]] = [(data, root, 1)]
    while stack:
        value, path, depth = stack.pop()
        if isinstance(value, str):
            if _bad_string(value):
                raise InputRefused(path, "holds a lone surrogate (an invalid Unicode character): send valid "
                                   "UTF-8 text")
        elif isinstance(value, (dict, list)):
            if depth > limit:
                raise InputRefused(path, f"nests deeper than {limit} levels (AUTONOMY_MAX_JSON_DEPTH)")
            if isinstance(value, dict):
                for key, item in value.items():
                    if _bad_string(key):
                        raise InputRefused(path, "has a key holding a lone surrogate: send valid UTF-8 text")
                    stack.append((item, f"{path}.{key}" if path != "body" else key, depth + 1))
            else:
                stack.extend((item, f"{path}[{i}]", depth + 1) for i, item in enumerate(value))
    if isinstance(data, dict):
        message = data.get("message")
        if isinstance(message, list) and len(message) > max_messages():
            raise InputRefused("message", f"holds {len(message)} messages; at most {max_messages()} per request "
                                          "(AUTONOMY_MAX_MESSAGES_PER_REQUEST)")
        for field in ("scope", "conversation"):
            if isinstance(data.get(field), str) and len(data[field]) > MAX_ID_LENGTH:
                raise InputRefused(field, f"is {len(data[field])} characters long; at most {MAX_ID_LENGTH}")
