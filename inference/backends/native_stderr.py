"""Keep known start-up chatter of C++ libraries off the user's console.

MediaPipe's C++ side (absl logging, TensorFlow Lite) writes straight to file descriptor 2 when a graph
first runs: ``All log messages before absl::InitializeLog() ...``, ``Feedback manager requires a model
with a single signature inference ...``, ``Created TensorFlow Lite XNNPACK delegate for CPU``. No
environment variable turns these off in mediapipe 0.10.14 (GLOG_minloglevel, TF_CPP_MIN_LOG_LEVEL and
ABSL_MIN_LOG_LEVEL were tried), so :func:`filtered_native_stderr` points fd 2 at a temporary file for
the length of a block, then writes back everything that is not known noise; the noise goes to the
DEBUG log instead, so ``--log-level DEBUG`` still shows it. Lines other threads write during the block
(our own log records) come out after it, delayed but not lost. The block holds a process-wide lock:
fd 2 is one per process.
"""

from __future__ import annotations

import logging
import os
import re
import sys
import tempfile
import threading
from collections.abc import Iterator
from contextlib import contextmanager

_lock = threading.Lock()


@contextmanager
def filtered_native_stderr(noise: re.Pattern[str], log: logging.Logger) -> Iterator[None]:
    """Within the block, lines written to fd 2 that match ``noise`` go to ``log.debug``, not the console."""
    with _lock:
        sys.stderr.flush()
        try:
            saved = os.dup(2)
        except OSError:  # no fd 2 (a daemon): nothing to protect
            yield
            return
        with tempfile.TemporaryFile() as capture:
            os.dup2(capture.fileno(), 2)
            try:
                yield
            finally:
                sys.stderr.flush()
                os.dup2(saved, 2)
                os.close(saved)
                capture.seek(0)
                _replay(capture.read().decode(errors="replace"), noise, log)


def _replay(text: str, noise: re.Pattern[str], log: logging.Logger) -> None:
    kept = []
    for line in text.splitlines(keepends=True):
        if noise.search(line):
            log.debug("native: %s", line.rstrip())
        else:
            kept.append(line)
    if kept:
        data = "".join(kept).encode()
        while data:
            data = data[os.write(2, data) :]
