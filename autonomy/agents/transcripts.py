"""Transcripts: every model call of an agent, as JSON lines, when ``AUTONOMY_TRANSCRIPTS_DIR`` is set.

One file per conversation, ``{agent}_{scope}_{conversation}.jsonl`` (``none`` for an empty scope or
conversation), in the directory named by ``AUTONOMY_TRANSCRIPTS_DIR`` (read at each call; created
0700 if missing; files are 0600). Each line is ``{"time", "agent", "scope", "conversation",
"request": {"messages", "tools"}, "response": {"content", "tool_calls"} | null, "error": str | null}``.
A streamed answer is recorded once, assembled. Characters that could leave the directory or
confuse a shell (anything but letters, digits, ``_``, ``-``, ``.``) become ``_`` in file names.

Writing a transcript never fails a turn: a write error is logged once per file.
"""

from __future__ import annotations

import json
import logging
import os
import re
import time
from pathlib import Path
from typing import Any

__all__ = ["record", "transcript_path", "ENV"]

ENV = "AUTONOMY_TRANSCRIPTS_DIR"
logger = logging.getLogger("autonomy.agents.transcripts")
_UNSAFE = re.compile(r"[^A-Za-z0-9_.-]")
_failed: set[str] = set()


def _part(value: str | None) -> str:
    text = _UNSAFE.sub("_", value or "") or "none"
    return "_" + text[1:] if text.startswith(".") else text


def transcript_path(directory: str | os.PathLike[str], agent: str, scope: str | None,
                    conversation: str | None) -> Path:
    return Path(directory) / f"{_part(agent)}_{_part(scope)}_{_part(conversation)}.jsonl"


def record(agent: str, scope: str | None, conversation: str | None, messages: list[dict[str, Any]],
           tools: list[dict[str, Any]] | None, content: str | None = None,
           tool_calls: list[dict[str, Any]] | None = None, error: str | None = None) -> None:
    """Append one model call to the conversation's transcript (nothing when the variable is unset)."""
    directory = os.environ.get(ENV, "").strip()
    if not directory:
        return
    path = transcript_path(directory, agent, scope, conversation)
    line = json.dumps({"time": time.time(), "agent": agent, "scope": scope or "", "conversation": conversation or "",
                       "request": {"messages": messages, "tools": tools or []},
                       "response": None if error is not None else {"content": content, "tool_calls": tool_calls or []},
                       "error": error}, default=str)
    try:
        Path(directory).mkdir(parents=True, exist_ok=True, mode=0o700)
        fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
        with os.fdopen(fd, "a", encoding="utf-8") as f:
            f.write(line + "\n")
    except OSError as exc:
        if str(path) not in _failed:
            _failed.add(str(path))
            logger.warning("cannot write the transcript %s: %s", path, exc)
