"""The logs API: levels, and InfoContext/DebugContext around blocks (which do not swallow failures)."""

from __future__ import annotations

import logging

import pytest

from autonomy import DebugContext, InfoContext, get_logger, set_log_level, set_log_levels
from autonomy.logs import get_log_levels


class Job(InfoContext, DebugContext):
    def __init__(self):
        self.logger = get_logger("job")

    def work(self, fail=False):
        with self.info("starting", "finished"):
            with self.debug("inner"):
                if fail:
                    raise RuntimeError("broken")
        return "done"


class _Records(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.seen: list[tuple[str, str]] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.seen.append((record.levelname, record.getMessage()))


def test_contexts_log_around_the_block():
    set_log_level("job", "DEBUG")
    records = _Records()
    logger = logging.getLogger("autonomy.job")
    logger.addHandler(records)
    try:
        assert Job().work() == "done"
        with pytest.raises(RuntimeError, match="broken"):
            Job().work(fail=True)
        assert records.seen[:3] == [("INFO", "starting"), ("DEBUG", "inner"), ("INFO", "finished")]
        assert ("ERROR", "starting: failed") in records.seen
    finally:
        logger.removeHandler(records)
        set_log_level("job", "INFO")


def test_levels_by_module():
    set_log_levels("job2=DEBUG,job3=warning")
    assert get_log_levels()["job2"] == "DEBUG" and get_log_levels()["job3"] == "WARNING"
    with pytest.raises(ValueError, match="Invalid log level 'LOUD'"):
        set_log_level("job2", "LOUD")
    set_log_levels("job2=INFO,job3=INFO")
