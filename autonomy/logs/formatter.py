"""Log record formatters: :class:`Formatter` (human-readable, upstream's ``autonomy.logs.formatter``
path) and :class:`JsonFormatter` (one JSON object a line, ``DEFAULT_LOG_FORMAT=json``).

Upstream's ``Formatter`` is a colorlog subclass; ours prints the same fields (UTC ISO time, level,
logger, message) without colours or a colorlog dependency, so it is safe for files and pipes.
"""

from __future__ import annotations

import json
import logging
import time
from datetime import UTC, datetime
from typing import Any

__all__ = ["Formatter", "JsonFormatter", "DEFAULT_FORMAT"]

DEFAULT_FORMAT = "%(asctime)s %(levelname)-7s %(name)s: %(message)s"


class Formatter(logging.Formatter):
    """``2026-01-01T12:00:00.000000Z INFO    autonomy.node: message``: times in UTC.

    Accepts (and ignores) colorlog's ``log_colors`` so an upstream ``dictConfig`` naming
    ``autonomy.logs.formatter.Formatter`` works unchanged.
    """

    def __init__(self, fmt: str | None = None, datefmt: str | None = None, style: Any = "%",
                 validate: bool = True, **_colorlog_options: Any) -> None:
        super().__init__(fmt or DEFAULT_FORMAT, datefmt or "%Y-%m-%dT%H:%M:%S.%fZ", style, validate)

    def formatTime(self, record: logging.LogRecord, datefmt: str | None = None) -> str:  # noqa: N802 (logging's name)
        return datetime.fromtimestamp(record.created, UTC).strftime(datefmt or self.datefmt or "%Y-%m-%dT%H:%M:%SZ")


class JsonFormatter(logging.Formatter):
    """One JSON object per record: ``time``, ``level``, ``logger``, ``message`` (+ ``exception``)."""

    def format(self, record: logging.LogRecord) -> str:
        payload = {"time": time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(record.created)),
                   "level": record.levelname.lower(), "logger": record.name, "message": record.getMessage()}
        if record.exc_info:
            payload["exception"] = self.formatException(record.exc_info)
        return json.dumps(payload)
