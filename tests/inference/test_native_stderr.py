"""The fd-2 filter that keeps C++ start-up chatter off the console: noise to DEBUG, the rest kept."""

from __future__ import annotations

import logging
import os
import re
import threading

import pytest

from inference.backends.native_stderr import filtered_native_stderr

NOISE = re.compile(r"Feedback manager requires")
log = logging.getLogger("test.native")


def test_noise_goes_to_debug_and_everything_else_comes_through(
    capfd: pytest.CaptureFixture[str], caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.DEBUG, logger="test.native"), filtered_native_stderr(NOISE, log):
        os.write(2, b"W0000 inference_feedback_manager.cc:114] Feedback manager requires a model\n")
        os.write(2, b"E0000 something real went wrong\n")
    err = capfd.readouterr().err
    assert "something real went wrong" in err
    assert "Feedback manager" not in err
    assert [r.getMessage() for r in caplog.records] == [
        "native: W0000 inference_feedback_manager.cc:114] Feedback manager requires a model"
    ]


def test_fd_2_is_restored_even_when_the_block_raises(capfd: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(ValueError, match="boom"), filtered_native_stderr(NOISE, log):
        raise ValueError("boom")
    os.write(2, b"after the block\n")
    assert "after the block" in capfd.readouterr().err


def test_other_threads_lines_are_delayed_not_lost(capfd: pytest.CaptureFixture[str]) -> None:
    inside, done = threading.Event(), threading.Event()

    def other() -> None:
        inside.wait(5)
        os.write(2, b"a line from another thread\n")
        done.set()

    thread = threading.Thread(target=other)
    thread.start()
    with filtered_native_stderr(NOISE, log):
        inside.set()
        assert done.wait(5)
    thread.join(5)
    assert "a line from another thread" in capfd.readouterr().err
