"""The synthetic generator: determinism, shapes and ranges, frame-rate independence."""

from __future__ import annotations

import numpy as np
import pytest

from training.motions import rhythm_phase, sample_motion_params
from training.noise import _exp_filter
from training.synthetic import (
    ACTIONS,
    IDLE,
    SyntheticSequence,
    generate_dataset,
    generate_sequence,
    render_keypoints,
    sample_params,
)


def test_same_seed_same_dataset_and_other_seed_differs() -> None:
    a = generate_dataset(2, fps_range=(12, 28), duration_s=(1.5, 2.5), seed=11)
    b = generate_dataset(2, fps_range=(12, 28), duration_s=(1.5, 2.5), seed=11)
    c = generate_dataset(2, fps_range=(12, 28), duration_s=(1.5, 2.5), seed=12)
    assert [s.label for s in a] == [s.label for s in b] == [a_ for a_ in ACTIONS for _ in range(2)]
    for x, y in zip(a, b, strict=True):
        np.testing.assert_array_equal(x.times, y.times)
        np.testing.assert_array_equal(x.keypoints, y.keypoints)
        assert x.params == y.params
    assert any(
        x.keypoints.shape != z.keypoints.shape or not np.array_equal(x.keypoints, z.keypoints)
        for x, z in zip(a, c, strict=True)
    )


@pytest.mark.slow
def test_workers_give_the_same_dataset() -> None:
    serial = generate_dataset(4, duration_s=1.0, seed=8)
    parallel = generate_dataset(4, duration_s=1.0, seed=8, workers=2)
    assert len(serial) == len(parallel) == 24
    for a, b in zip(serial, parallel, strict=True):
        np.testing.assert_array_equal(a.keypoints, b.keypoints)
        assert a.label == b.label


def test_adding_classes_keeps_existing_sequences() -> None:
    small = generate_dataset(1, seed=3, actions=("BOXING",))
    big = generate_dataset(1, seed=3, include_idle=True)
    boxing = next(s for s in big if s.label == "BOXING")
    np.testing.assert_array_equal(small[0].keypoints, boxing.keypoints)
    assert big[-1].label == IDLE


@pytest.mark.parametrize("action", [*ACTIONS, IDLE])
def test_shapes_dtypes_and_ranges(action: str) -> None:
    inside, total = 0, 0
    for i in range(12):
        seq = generate_sequence(action, 22.0, 2.0, np.random.default_rng([5, i]))
        assert isinstance(seq, SyntheticSequence)
        assert seq.times.shape == (45,) and seq.keypoints.shape == (45, 17, 3)
        assert seq.keypoints.dtype == np.float32 and seq.label == action
        assert np.all(np.isfinite(seq.keypoints))
        conf = seq.keypoints[..., 2]
        assert conf.min() >= 0.0 and conf.max() <= 1.0
        assert np.median(conf) > 0.5, "most joints should be confidently detected"
        w, h = seq.image_size
        x, y = seq.keypoints[..., 0], seq.keypoints[..., 1]
        inside += int(np.sum((x >= 0) & (x < w) & (y >= 0) & (y < h)))
        total += x.size
    assert inside / total > 0.9, f"only {inside / total:.0%} of the joints are inside the image"


@pytest.mark.parametrize("fps", [10.0, 22.0, 30.0, 7.5, 60.0])
def test_any_frame_rate(fps: float) -> None:
    seq = generate_sequence("JUMPING_JACKS", fps, 3.0, np.random.default_rng(1))
    assert seq.keypoints.shape[0] == int(3.0 * fps) + 1
    assert seq.fps == pytest.approx(fps)
    assert seq.duration_s == pytest.approx(3.0, abs=1.0 / fps)


@pytest.mark.parametrize("action", [*ACTIONS, IDLE])
def test_same_params_same_motion_at_any_fps(action: str) -> None:
    """10 and 30 fps share timestamps exactly; 22 fps interpolated onto 30 fps stays close."""
    params = sample_params(action, np.random.default_rng(42)).without_noise()
    rng = np.random.default_rng(0)
    s10 = generate_sequence(action, 10.0, 3.0, rng, params)
    s22 = generate_sequence(action, 22.0, 3.0, rng, params)
    s30 = generate_sequence(action, 30.0, 3.0, rng, params)
    np.testing.assert_allclose(s30.keypoints[::3, :, :2], s10.keypoints[:, :, :2], atol=1e-3)
    torso = np.linalg.norm(s30.keypoints[:, 5:7, :2].mean(1) - s30.keypoints[:, 11:13, :2].mean(1), axis=1)
    for j in range(17):
        for c in range(2):
            interp = np.interp(s30.times, s22.times, s22.keypoints[:, j, c])
            err = np.abs(interp - s30.keypoints[:, j, c]) / np.median(torso)
            assert np.median(err) < 0.05 and err.max() < 0.5, f"joint {j} axis {c}: max error {err.max():.2f}"


def test_render_keypoints_with_noise_is_reproducible_from_params() -> None:
    params = sample_params("BOXING", np.random.default_rng(9))
    t = np.arange(50) / 25.0
    np.testing.assert_array_equal(render_keypoints(params, t), render_keypoints(params, t))


def test_noise_changes_positions_but_not_the_motion() -> None:
    params = sample_params("WAVING_2HANDS", np.random.default_rng(2))
    rng = np.random.default_rng(0)
    noisy = generate_sequence("WAVING_2HANDS", 22.0, 3.0, rng, params)
    clean = generate_sequence("WAVING_2HANDS", 22.0, 3.0, rng, params.without_noise())
    torso = np.median(np.linalg.norm(clean.keypoints[:, 5, :2] - clean.keypoints[:, 11, :2], axis=1))
    err = np.linalg.norm(noisy.keypoints[..., :2] - clean.keypoints[..., :2], axis=-1) / torso
    assert 0.0 < np.median(err) < 0.25
    assert np.all(clean.keypoints[..., 2] >= 0.0)


def test_bad_arguments_are_explained() -> None:
    rng = np.random.default_rng(0)
    with pytest.raises(ValueError, match="unknown action"):
        generate_sequence("DANCING", 22.0, 2.0, rng)
    with pytest.raises(ValueError, match="fps"):
        generate_sequence("BOXING", 0.0, 2.0, rng)
    with pytest.raises(ValueError, match="at least 2 frames"):
        generate_sequence("BOXING", 10.0, 0.05, rng)
    with pytest.raises(ValueError, match="params are for"):
        generate_sequence("BOXING", 10.0, 1.0, rng, sample_params("JUMPING", rng))
    with pytest.raises(ValueError, match="fps_range"):
        generate_dataset(1, fps_range=(30, 10))


def test_tempo_drifts_only_within_its_range() -> None:
    """The instantaneous tempo stays within freq * (1 +- tempo_mod): rhythm varies, it does not jump."""
    t = np.linspace(0, 20, 4001)
    for i in range(20):
        params = sample_motion_params("CLAPPING_HANDS", np.random.default_rng(i))
        freq, d = params["freq"], params["tempo_mod"]
        inst = np.gradient(rhythm_phase(t, params, freq), t) / (2 * np.pi)
        assert inst.min() >= freq * (1 - d) - 1e-3 and inst.max() <= freq * (1 + d) + 1e-3


@pytest.mark.parametrize("action", [*ACTIONS, IDLE])
def test_long_sequences_stay_cheap(action: str) -> None:
    """Ten minutes at 30 fps: memory grows with T, not T squared (no (T, T) or (T, slots) arrays)."""
    seq = generate_sequence(action, 30.0, 600.0, np.random.default_rng(3))
    assert seq.keypoints.shape == (18001, 17, 3)
    assert np.all(np.isfinite(seq.keypoints))


def test_detector_filters_match_their_recursion() -> None:
    """The matrix form (short clips) and the loop (long clips) of the noise filters agree."""
    x = np.random.default_rng(0).normal(size=(600, 3))
    short = np.vstack([_exp_filter(x[:300], 0.8, 0.6), np.zeros((300, 3))])
    long = _exp_filter(x, 0.8, 0.6)
    np.testing.assert_allclose(short[:300], long[:300], atol=1e-9)
