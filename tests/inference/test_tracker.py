"""Tracker: ids survive crossing and frame skipping; tracks end by time; new people get new ids."""

from __future__ import annotations

import numpy as np
import pytest

from inference.poses import Poses, TrackedPoses
from inference.tracker import Tracker, box_iou, keypoint_similarity
from tests.inference.skeletons import frame_poses, person


def walker_a(t: float) -> np.ndarray:
    """Walks left to right, waving."""
    return person(t, cx=80 + 160 * t, cy=300, height=300)


def walker_b(t: float) -> np.ndarray:
    """Walks right to left, a little smaller and lower (further away), not waving."""
    return person(t, cx=560 - 160 * t, cy=310, height=270, wave_amp=0.0)


def run(
    tracker: Tracker, times: np.ndarray, people: list, seed: int = 0
) -> tuple[list[TrackedPoses], list[dict[int, int]]]:
    """Feed frames (detections shuffled); return updates and, per frame, person index -> track id."""
    rng = np.random.default_rng(seed)
    updates, ids = [], []
    for t in times:
        present = [(i, f(float(t))) for i, f in enumerate(people) if f(float(t)) is not None]
        order = rng.permutation(len(present))
        poses = frame_poses([present[k][1] for k in order])
        update = tracker.update(poses, float(t))
        updates.append(update)
        frame: dict[int, int] = {}
        for track_id, tracked in zip(update.track_ids.tolist(), update.keypoints, strict=True):
            same = [i for i, kp in present if np.allclose(tracked, kp)]
            if len(same) == 1:  # people in exactly the same place cannot be told apart
                frame[same[0]] = track_id
        ids.append(frame)
    return updates, ids


def assert_ids_constant(ids: list[dict[int, int]], n_people: int) -> None:
    for i in range(n_people):
        seen = {frame[i] for frame in ids if i in frame}
        assert len(seen) == 1, f"person {i} had track ids {sorted(seen)}"
    assert len({next(iter({f[i] for f in ids if i in f})) for i in range(n_people)}) == n_people


@pytest.mark.parametrize("fps", [30, 10, 5])
def test_crossing_people_keep_their_ids(fps: int) -> None:
    times = np.arange(0, round(3 * fps) + 1) / fps  # they meet at t = 1.5 s
    mid = Poses.from_keypoints(np.stack([walker_a(1.5), walker_b(1.5)]))
    assert box_iou(mid.boxes[:1], mid.boxes[1:])[0, 0] > 0.45  # boxes really overlap
    _, ids = run(Tracker(), times, [walker_a, walker_b])
    assert all(len(frame) == 2 for frame in ids)
    assert_ids_constant(ids, 2)


def test_frame_skipping_keeps_ids() -> None:
    times = np.arange(0, 91) / 30.0
    _, ids = run(Tracker(), times[::3], [walker_a, walker_b], seed=3)
    assert_ids_constant(ids, 2)


def test_identical_people_crossing_need_motion_prediction() -> None:
    """Two people who look the same: only their motion tells them apart where they meet."""
    a = lambda t: person(t, cx=100 + 200 * t, cy=300, wave_amp=0.0)  # noqa: E731
    b = lambda t: person(t, cx=500 - 200 * t, cy=300, wave_amp=0.0)  # noqa: E731
    times = np.arange(0, 31) / 15.0
    _, ids = run(Tracker(predict_motion=True), times, [a, b], seed=1)
    assert_ids_constant(ids, 2)
    # Without the constant-velocity prediction the nearer (wrong) person wins after they meet.
    _, ids = run(Tracker(predict_motion=False), times, [a, b], seed=1)
    assert {f[0] for f in ids if 0 in f} == {1, 2}


def test_absent_longer_than_max_age_ends_and_comes_back_with_a_new_id() -> None:
    def visible(t: float) -> np.ndarray | None:
        return person(t) if t < 1.0 or t >= 2.5 else None

    times = np.arange(0, 91) / 30.0
    updates, ids = run(Tracker(max_age_s=1.0), times, [visible])
    ended_at = [float(t) for t, u in zip(times, updates, strict=True) if u.ended]
    last_seen = 29 / 30
    assert len(ended_at) == 1 and last_seen + 1.0 < ended_at[0] <= last_seen + 1.0 + 1 / 30 + 1e-9
    assert updates[times.tolist().index(ended_at[0])].ended == (1,)
    before = {f[0] for f, t in zip(ids, times, strict=True) if t < 1.0}
    after = {f[0] for f, t in zip(ids, times, strict=True) if t >= 2.5}
    assert before == {1} and after == {2}


def test_short_absence_keeps_the_id() -> None:
    def visible(t: float) -> np.ndarray | None:
        return person(t) if not 1.0 <= t < 1.6 else None

    _, ids = run(Tracker(max_age_s=1.0), np.arange(0, 61) / 30.0, [visible])
    assert {f[0] for f in ids if 0 in f} == {1}


@pytest.mark.parametrize("stride", [1, 3, 7])
def test_ending_is_time_based_whatever_the_stride(stride: int) -> None:
    def visible(t: float) -> np.ndarray | None:
        return person(t) if t <= 1.0 + 1e-9 else None

    times = (np.arange(0, 121) / 30.0)[::stride]
    updates, _ = run(Tracker(max_age_s=1.0), times, [visible])
    ended_at = [float(t) for t, u in zip(times, updates, strict=True) if u.ended]
    last_seen = max(t for t in times if t <= 1.0 + 1e-9)
    assert len(ended_at) == 1
    assert last_seen + 1.0 < ended_at[0] <= last_seen + 1.0 + stride / 30 + 1e-9


def test_new_person_gets_a_new_id() -> None:
    def late(t: float) -> np.ndarray | None:
        return person(t, cx=520, height=250, wave_amp=0.0) if t >= 1.0 else None

    _, ids = run(Tracker(), np.arange(0, 61) / 30.0, [lambda t: person(t, cx=150), late])
    assert {f[0] for f in ids} == {1}
    assert {f[1] for f in ids if 1 in f} == {2}


def test_min_hits_delays_reporting() -> None:
    tracker = Tracker(min_hits=3)
    counts = [len(tracker.update(frame_poses([person(t)]), t)) for t in np.arange(5) / 30.0]
    assert counts == [0, 0, 1, 1, 1]
    assert tracker.track_ids == [1]


def test_unconfirmed_track_that_misses_a_frame_is_dropped_silently() -> None:
    tracker = Tracker(min_hits=3)
    tracker.update(frame_poses([person(0.0)]), 0.0)
    update = tracker.update(Poses.empty(), 1 / 30)
    assert len(update) == 0 and update.ended == ()
    assert len(tracker.update(frame_poses([person(0.1)]), 0.1)) == 0


def test_pts_going_back_ends_every_track() -> None:
    tracker = Tracker()
    tracker.update(frame_poses([person(0.0)]), 5.0)
    update = tracker.update(frame_poses([person(0.0)]), 1.0)
    assert update.ended == (1,)
    assert update.track_ids.tolist() == [2]


def test_empty_frames_and_far_detections() -> None:
    tracker = Tracker()
    empty = tracker.update(Poses.empty(), 0.0)
    assert len(empty) == 0 and empty.ended == ()
    tracker.update(frame_poses([person(0.0, cx=100)]), 0.1)
    update = tracker.update(frame_poses([person(0.0, cx=600)]), 0.2)  # too far to be the same person
    assert update.track_ids.tolist() == [2]


def test_similarity_building_blocks() -> None:
    boxes = np.array([[0, 0, 10, 10], [5, 0, 15, 10], [20, 20, 30, 30]], np.float32)
    iou = box_iou(boxes, boxes)
    assert iou[0, 0] == pytest.approx(1.0) and iou[0, 1] == pytest.approx(50 / 150) and iou[0, 2] == 0
    a = person(0.0)[None]
    near = person(0.0, cx=323)[None]
    far = person(0.0, cx=420)[None]
    box = Poses.from_keypoints(a).boxes
    s_near = keypoint_similarity(a, near, box, box, min_confidence=0.3)[0, 0]
    s_far = keypoint_similarity(a, far, box, box, min_confidence=0.3)[0, 0]
    assert 0.9 < s_near <= 1.0 and s_far < 0.2
    hidden = a.copy()
    hidden[..., 2] = 0
    assert np.isnan(keypoint_similarity(a, hidden, box, box, min_confidence=0.3)[0, 0])
    # Scale-aware: the same pixel offset matters less for a bigger person.
    big = person(0.0, height=600)[None]
    big_box = Poses.from_keypoints(big).boxes
    shifted_big = person(0.0, height=600, cx=335)[None]
    s_big = keypoint_similarity(big, shifted_big, big_box, big_box, min_confidence=0.3)[0, 0]
    s_small = keypoint_similarity(a, person(0.0, cx=335)[None], box, box, min_confidence=0.3)[0, 0]
    assert s_big > s_small


def test_argument_validation() -> None:
    with pytest.raises(ValueError, match="max_age_s"):
        Tracker(max_age_s=0)
    with pytest.raises(ValueError, match="min_hits"):
        Tracker(min_hits=0)


def test_noisy_detections_at_ten_fps_keep_ids() -> None:
    """Pose noise (4 px), joints lost at random (15 %) and a person missed now and then."""
    rng = np.random.default_rng(11)

    def noisy(f):  # type: ignore[no-untyped-def]
        def g(t: float) -> np.ndarray | None:
            if rng.random() < 0.1:
                return None
            kp = f(t).copy()
            kp[:, :2] += rng.normal(0, 4, size=(17, 2))
            kp[rng.random(17) < 0.15, 2] = 0.0
            return kp

        return g

    a, b = noisy(walker_a), noisy(walker_b)
    tracker = Tracker()
    seen: dict[str, set[int]] = {"a": set(), "b": set()}
    for t in np.arange(0, 31) / 10.0:
        people = {"a": a(float(t)), "b": b(float(t))}
        present = {k: v for k, v in people.items() if v is not None}
        update = tracker.update(frame_poses(list(present.values())), float(t))
        for track_id, tracked in zip(update.track_ids.tolist(), update.keypoints, strict=True):
            for name, kp in present.items():
                if np.array_equal(tracked, kp):
                    seen[name].add(track_id)
    assert len(seen["a"]) == 1 and len(seen["b"]) == 1 and seen["a"] != seen["b"]


def test_max_people_tracks_the_most_confident_only() -> None:
    tracker = Tracker(max_people=1)
    poses = frame_poses([person(0.0, cx=150), person(0.0, cx=500)])
    poses = Poses(poses.keypoints, poses.boxes, np.array([0.6, 0.9], np.float32))
    update = tracker.update(poses, 0.0)
    assert update.track_ids.tolist() == [1] and update.scores.tolist() == pytest.approx([0.9])
    assert np.array_equal(update.keypoints[0], poses.keypoints[1])
    with pytest.raises(ValueError, match="max_people"):
        Tracker(max_people=0)
