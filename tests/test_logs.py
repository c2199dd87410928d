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


def test_contexts_log_around_the_block(caplog):
    set_log_level("job", "DEBUG")
    try:
        with caplog.at_level(logging.DEBUG, logger="autonomy.job"):
            logger = logging.getLogger("autonomy")
            logger.propagate, old = True, logger.propagate
            try:
                assert Job().work() == "done"
                with pytest.raises(RuntimeError, match="broken"):
                    Job().work(fail=True)
            finally:
                logger.propagate = old
        messages = [(r.levelname, r.getMessage()) for r in caplog.records]
        assert messages[:3] == [("INFO", "starting"), ("DEBUG", "inner"), ("INFO", "finished")]
        assert ("ERROR", "starting: failed") in messages
    finally:
        set_log_level("job", "INFO")


def test_levels_by_module():
    set_log_levels("job2=DEBUG,job3=warning")
    assert get_log_levels()["job2"] == "DEBUG" and get_log_levels()["job3"] == "WARNING"
    with pytest.raises(ValueError, match="Invalid log level 'LOUD'"):
        set_log_level("job2", "LOUD")
    set_log_levels("job2=INFO,job3=INFO")
