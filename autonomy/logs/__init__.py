"""The logs API (upstream's ``autonomy.logs``): the real home is :mod:`autonomy.logs.logs`, formatters
are in :mod:`autonomy.logs.formatter` (both at upstream's module paths)."""

from logging import Logger

from autonomy.logs.formatter import Formatter, JsonFormatter
from autonomy.logs.logs import (
    AVAILABLE_LEVELS,
    DebugContext,
    InfoContext,
    apply_log_levels,
    configure_from_env,
    debug,
    error,
    get_log_levels,
    get_logger,
    info,
    set_log_level,
    set_log_levels,
    warning,
)

__all__ = [
    "get_logger", "info", "warning", "error", "debug", "set_log_level", "set_log_levels", "get_log_levels",
    "apply_log_levels", "configure_from_env", "AVAILABLE_LEVELS", "InfoContext", "DebugContext", "Formatter",
    "JsonFormatter", "Logger",
]
