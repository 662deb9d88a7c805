"""FrameQueue: live drops the oldest and never blocks; lossless makes the producer wait."""

from __future__ import annotations

import threading
import time

import numpy as np
import pytest

from capture.frame import Frame
from capture.queue import FrameQueue


def frame(seq: int) -> Frame:
    return Frame(
        camera_id="c",
        seq=seq,
        pts=seq / 25,
        capture_time=time.monotonic(),
        image=np.zeros((2, 2, 3), np.uint8),
    )


def test_live_queue_drops_oldest_and_counts() -> None:
    q = FrameQueue(maxsize=3, lossless=False)
    started = time.monotonic()
    for i in range(10):
        assert q.put(frame(i), timeout=5.0) is True
    assert time.monotonic() - started < 1.0, "a live put must never wait"
    assert q.qsize() == 3 and q.peak == 3
    assert q.dropped == 7
    assert [q.get(timeout=0.1).seq for _ in range(3)] == [7, 8, 9]  # type: ignore[union-attr]
    assert q.get(timeout=0.05) is None


def test_lossless_put_times_out_when_full_and_drops_nothing() -> None:
    q = FrameQueue(maxsize=2, lossless=True)
    assert q.put(frame(0), 0.1) and q.put(frame(1), 0.1)
    started = time.monotonic()
    assert q.put(frame(2), timeout=0.2) is False
    assert 0.15 <= time.monotonic() - started < 2.0
    assert q.dropped == 0 and q.qsize() == 2


def test_lossless_producer_resumes_when_consumer_takes() -> None:
    q = FrameQueue(maxsize=1, lossless=True)
    received: list[int] = []

    def consume() -> None:
        for _ in range(20):
            f = q.get(timeout=5.0)
            assert f is not None
            received.append(f.seq)
            time.sleep(0.005)

    consumer = threading.Thread(target=consume)
    consumer.start()
    for i in range(20):
        assert q.put(frame(i), timeout=5.0)
    consumer.join(10)
    assert received == list(range(20))
    assert q.dropped == 0 and q.peak == 1


def test_get_times_out_and_clear_wakes_producer() -> None:
    q = FrameQueue(maxsize=1, lossless=True)
    started = time.monotonic()
    assert q.get(timeout=0.1) is None
    assert time.monotonic() - started >= 0.09
    q.put(frame(0), 0.1)
    result: list[bool] = []
    producer = threading.Thread(target=lambda: result.append(q.put(frame(1), timeout=5.0)))
    producer.start()
    time.sleep(0.1)
    assert q.clear() == 1
    producer.join(5)
    assert result == [True] and q.get(0.1).seq == 1  # type: ignore[union-attr]


@pytest.mark.parametrize("bad", [0, -1, 1.5, True])
def test_maxsize_validated(bad: object) -> None:
    with pytest.raises(ValueError, match="maxsize"):
        FrameQueue(maxsize=bad, lossless=False)  # type: ignore[arg-type]


def test_the_end_comes_after_the_last_frame() -> None:
    q = FrameQueue(4, lossless=True)
    for i in range(3):
        assert q.put(frame(i), timeout=0.1)
    q.close()
    assert not q.ended, "frames are still queued: the end has not arrived"
    seqs = []
    while not q.ended:
        got = q.get(timeout=0.1)
        assert got is not None
        seqs.append(got.seq)
    assert seqs == [0, 1, 2]
    assert q.get(timeout=0.5) is None and q.ended
