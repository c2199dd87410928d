"""Logging: human-readable by default, JSON lines with ``DEFAULT_LOG_FORMAT=json``.

Levels come from ``AUTONOMY_LOG_LEVEL`` (``INFO`` or ``"INFO,agent=DEBUG"``). Nothing here ever
formats a secret: callers log names, never values of secrets.
"""

from __future__ import annotations

import contextlib
import logging
import os
import sys
from collections.abc import Iterator
from typing import Any

from autonomy.logs.formatter import Formatter, JsonFormatter

__all__ = [
    "get_logger", "info", "warning", "error", "debug", "set_log_level", "set_log_levels", "get_log_levels",
    "configure_from_env", "apply_log_levels", "AVAILABLE_LEVELS", "InfoContext", "DebugContext",
]

AVAILABLE_LEVELS = ["critical", "error", "warning", "info", "debug"]
_ROOT = "autonomy"
_configured = False


def _logger_name(module: str | None) -> str:
    if not module or module == "default":
        return _ROOT
    return module if module.startswith(_ROOT) else f"{_ROOT}.{module}"


def get_logger(name: str = "node") -> logging.Logger:
    """The logger ``autonomy.<name>``."""
    return logging.getLogger(_logger_name(name))


def info(message: str, *args: object, **kwargs: Any) -> None:
    get_logger().info(message, *args, stacklevel=2, **kwargs)


def warning(message: str, *args: object, **kwargs: Any) -> None:
    get_logger().warning(message, *args, stacklevel=2, **kwargs)


def error(message: str, *args: object, **kwargs: Any) -> None:
    get_logger().error(message, *args, stacklevel=2, **kwargs)


def debug(message: str, *args: object, **kwargs: Any) -> None:
    get_logger().debug(message, *args, stacklevel=2, **kwargs)


def _parse_level(level: str) -> int:
    name = str(level).strip().upper()
    if name == "WARN":
        name = "WARNING"
    if name.lower() not in AVAILABLE_LEVELS:
        raise ValueError(f"Invalid log level {level!r}: use one of {', '.join(AVAILABLE_LEVELS)}")
    return logging.getLevelName(name)


def set_log_level(module: str | None, level: str) -> None:
    """Set the level of ``module`` (``None`` or ``"default"``: all of autonomy)."""
    logging.getLogger(_logger_name(module)).setLevel(_parse_level(level))


def set_log_levels(spec: str) -> None:
    """Set levels from ``"INFO"`` or ``"INFO,agent=DEBUG,nodes=WARNING"``."""
    for part in filter(None, (p.strip() for p in spec.split(","))):
        module, _, level = part.rpartition("=")
        set_log_level(module or None, level)


def get_log_levels() -> dict[str, str]:
    """``{"default": level, "<module>": level, ...}`` for the loggers with a level of their own."""
    levels = {"default": logging.getLevelName(logging.getLogger(_ROOT).getEffectiveLevel())}
    for name, logger in logging.Logger.manager.loggerDict.items():
        if name.startswith(_ROOT + ".") and isinstance(logger, logging.Logger) and logger.level:
            levels[name[len(_ROOT) + 1:]] = logging.getLevelName(logger.level)
    return levels


def apply_log_levels(spec: str | None = None) -> None:
    """Apply ``spec`` (``set_log_levels`` syntax), else ``$AUTONOMY_LOG_LEVEL``, to autonomy's loggers now."""
    spec = os.environ.get("AUTONOMY_LOG_LEVEL", "") if spec is None else spec
    if spec.strip():
        set_log_levels(spec)


def configure_from_env() -> None:
    """Install a stderr handler for autonomy's loggers, once, honouring the environment."""
    global _configured
    if _configured:
        return
    _configured = True
    root = logging.getLogger(_ROOT)
    if os.environ.get("AUTONOMY_LOGGING", "1").strip() == "0":
        root.addHandler(logging.NullHandler())
        root.propagate = False
        return
    handler = logging.StreamHandler(sys.stderr)
    if os.environ.get("DEFAULT_LOG_FORMAT", "").strip().lower() == "json":
        handler.setFormatter(JsonFormatter())
    else:
        handler.setFormatter(Formatter())
    root.addHandler(handler)
    root.propagate = False
    root.setLevel(logging.INFO)
    spec = os.environ.get("AUTONOMY_LOG_LEVEL", "").strip()
    if spec:
        try:
            set_log_levels(spec)
        except ValueError as exc:
            root.warning("AUTONOMY_LOG_LEVEL ignored: %s", exc)


class _LogContext:
    @contextlib.contextmanager
    def _log_around(self, level: int, before: str, after: str | None) -> Iterator[None]:
        logger = getattr(self, "logger", None)
        if not isinstance(logger, logging.Logger):
            logger = get_logger(getattr(self, "log_name", None) or type(self).__name__.lower())
        logger.log(level, before)
        try:
            yield
        except Exception:
            # Our decision (upstream swallows it: spec §10.1): log it, and let it go on to the caller.
            logger.exception("%s: failed", before)
            raise
        if after:
            logger.log(level, after)


class InfoContext(_LogContext):
    """Mixin: ``with self.info("before", "after"):`` logs at info level around a block (upstream names)."""

    def info(self, before: str, after: str | None = None) -> contextlib.AbstractContextManager[None]:
        return self._log_around(logging.INFO, before, after)


class DebugContext(_LogContext):
    """Mixin: ``with self.debug("before", "after"):`` logs at debug level around a block."""

    def debug(self, before: str, after: str | None = None) -> contextlib.AbstractContextManager[None]:
        return self._log_around(logging.DEBUG, before, after)
