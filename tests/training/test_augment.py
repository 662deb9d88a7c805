"""Augmentation: mirrors, label maps, geometry and time changes behave like a camera would."""

from __future__ import annotations

import numpy as np
import pytest

from training.augment import (
    AugmentConfig,
    augment,
    change_speed,
    drop_frames,
    dropout,
    jitter,
    mirror,
    resample,
    rotate,
    scale,
    shift,
    symmetric_label_map,
    time_warp,
)
from training.posestats import pose_stats
from training.synthetic import generate_sequence


@pytest.fixture(scope="module")
def seq():  # type: ignore[no-untyped-def]
    return generate_sequence("WAVING_1HAND", 22.0, 3.0, np.random.default_rng(4))


def test_mirror_twice_is_identity(seq) -> None:  # type: ignore[no-untyped-def]
    w = seq.image_size[0]
    once, label = mirror(seq.keypoints, w, seq.label)
    twice, label2 = mirror(once, w, label)
    assert not np.allclose(once, seq.keypoints)
    np.testing.assert_allclose(twice, seq.keypoints, atol=1e-4)
    assert label == label2 == "WAVING_1HAND"


def test_mirror_flips_the_waving_hand(seq) -> None:  # type: ignore[no-untyped-def]
    before = pose_stats(seq.times, seq.keypoints)
    after = pose_stats(seq.times, mirror(seq.keypoints, seq.image_size[0], seq.label)[0])
    high_before = "l" if before["l_wrist_y_p50"] > before["r_wrist_y_p50"] else "r"
    high_after = "l" if after["l_wrist_y_p50"] > after["r_wrist_y_p50"] else "r"
    assert high_before != high_after
    assert after["high_wrist_y_p50"] == pytest.approx(before["high_wrist_y_p50"], abs=1e-4)


def test_label_map_swaps_side_labels_only(seq) -> None:  # type: ignore[no-untyped-def]
    swap = symmetric_label_map([("raise_left", "raise_right")])
    assert swap == {"raise_left": "raise_right", "raise_right": "raise_left"}
    assert mirror(seq.keypoints, 640, "raise_left", swap)[1] == "raise_right"
    assert mirror(seq.keypoints, 640, "raise_right", swap)[1] == "raise_left"
    assert mirror(seq.keypoints, 640, "CLAPPING_HANDS", swap)[1] == "CLAPPING_HANDS"
    with pytest.raises(ValueError, match="symmetric"):
        mirror(seq.keypoints, 640, "a", {"a": "b"})
    with pytest.raises(ValueError, match="paired with both"):
        symmetric_label_map([("a", "b"), ("a", "c")])
    with pytest.raises(ValueError, match="symmetric"):
        AugmentConfig(label_map={"a": "b"})


def test_geometry_keeps_confidence_and_inverts(seq) -> None:  # type: ignore[no-untyped-def]
    kp = seq.keypoints
    c = (300.0, 200.0)
    np.testing.assert_allclose(rotate(rotate(kp, 10, c), -10, c), kp, atol=1e-3)
    np.testing.assert_allclose(scale(scale(kp, 2.0, c), 0.5, c), kp, atol=1e-3)
    np.testing.assert_allclose(
        shift(kp, 5, -7)[..., :2] - kp[..., :2], np.broadcast_to([5, -7], kp[..., :2].shape), atol=1e-4
    )
    for out in (rotate(kp, 5), scale(kp, 1.2), shift(kp, 1, 1)):
        np.testing.assert_array_equal(out[..., 2], kp[..., 2])
    # Scaling about the person keeps them in place: their mean position does not move.
    good = kp[..., 2] > 0
    np.testing.assert_allclose(scale(kp, 1.3)[..., :2][good].mean(0), kp[..., :2][good].mean(0), atol=1e-2)


def test_speed_changes_duration_not_shape(seq) -> None:  # type: ignore[no-untyped-def]
    fast = change_speed(seq.times, 1.25)
    assert fast.shape == seq.times.shape
    assert fast[-1] - fast[0] == pytest.approx((seq.times[-1] - seq.times[0]) / 1.25)
    with pytest.raises(ValueError, match="positive"):
        change_speed(seq.times, 0.0)


def test_resample_and_time_warp(seq) -> None:  # type: ignore[no-untyped-def]
    np.testing.assert_allclose(resample(seq.times, seq.keypoints, seq.times), seq.keypoints, atol=1e-4)
    mid = (seq.times[:-1] + seq.times[1:]) / 2
    np.testing.assert_allclose(
        resample(seq.times, seq.keypoints, mid), (seq.keypoints[:-1] + seq.keypoints[1:]) / 2, atol=1e-3
    )
    warped = time_warp(seq.times, 0.5, np.random.default_rng(0))
    assert np.all(np.diff(warped) > 0)
    assert warped[0] == pytest.approx(seq.times[0]) and warped[-1] == pytest.approx(seq.times[-1])


def test_noise_and_drops(seq) -> None:  # type: ignore[no-untyped-def]
    rng = np.random.default_rng(1)
    j = jitter(seq.keypoints, 2.0, rng)
    assert np.std(j[..., :2] - seq.keypoints[..., :2]) == pytest.approx(2.0, rel=0.15)
    d = dropout(seq.keypoints, 0.3, rng)
    assert 0.2 < np.mean(d[..., 2] == 0) < 0.4
    np.testing.assert_array_equal(d[..., :2], seq.keypoints[..., :2])
    t, k = drop_frames(seq.times, seq.keypoints, 0.5, rng)
    assert len(t) == len(k) < len(seq.times)
    assert t[0] == seq.times[0] and t[-1] == seq.times[-1]


def test_augment_is_deterministic_and_valid(seq) -> None:  # type: ignore[no-untyped-def]
    cfg = AugmentConfig(mirror_p=1.0, label_map=symmetric_label_map([("WAVING_1HAND", "other")]))
    a = augment(seq.times, seq.keypoints, seq.image_size, seq.label, np.random.default_rng(3), config=cfg)
    b = augment(seq.times, seq.keypoints, seq.image_size, seq.label, np.random.default_rng(3), config=cfg)
    np.testing.assert_array_equal(a.keypoints, b.keypoints)
    assert a.label == "other"
    assert a.keypoints.dtype == np.float32 and a.keypoints.shape[1:] == (17, 3)
    assert a.times.shape[0] == a.keypoints.shape[0] and np.all(np.diff(a.times) > 0)
    assert a.keypoints[..., 2].min() >= 0 and a.keypoints[..., 2].max() <= 1
    with pytest.raises(ValueError, match="probability"):
        AugmentConfig(mirror_p=2.0)
    with pytest.raises(ValueError, match=r"\(T, 17, 3\)"):
        scale(np.zeros((4, 18, 3)), 2.0)
