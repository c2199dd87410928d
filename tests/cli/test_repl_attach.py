"""`autonomy zone repl`'s terminal side: upstream's REPL frames decoded for a person, and a clear refusal."""

from __future__ import annotations

import pytest

from autonomy.cli.repl import FrameDecoder, attach
from autonomy.errors import ClusterError


def test_frames_split_anywhere_decode_to_the_text_and_a_prompt_after_each_answer():
    decoder = FrameDecoder()
    stream = b"14\nWelcome here\n\n5\nHello6\n world0\n"
    shown = b"".join(decoder.feed(stream[i:i + 3]) for i in range(0, len(stream), 3))
    assert shown == b"Welcome here\n\n> Hello world\n> "


def test_a_line_that_is_not_a_frame_is_shown_as_it_is():
    assert FrameDecoder().feed(b"not a frame\n4\nabcd") == b"not a frame\nabcd"


def test_a_socket_that_is_gone_is_a_clear_error(tmp_path):
    with pytest.raises(ClusterError, match="serves one client and closes 30 s after"):
        attach(str(tmp_path / "gone.sock"))
