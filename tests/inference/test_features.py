"""The network's input transforms: exact, and invariant where they promise to be."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from inference.features import VELOCITY_SCALE, input_size, transform


def test_xy_is_the_window_itself() -> None:
    x = torch.randn(2, 32, 34)
    assert transform(x, "xy", 22.0) is x and input_size("xy") == 34


def test_motion_is_posture_velocity_and_root() -> None:
    rng = np.random.default_rng(0)
    x = torch.from_numpy(rng.normal(0, 1, (3, 32, 34)).astype(np.float32))
    y = transform(x, "motion", 22.0)
    assert y.shape == (3, 32, input_size("motion")) == (3, 32, 72)
    pos = x.reshape(3, 32, 17, 2)
    hip = pos[:, :, 11:13].mean(dim=2)
    torch.testing.assert_close(y[..., :34].reshape(3, 32, 17, 2), pos - hip[:, :, None])
    torch.testing.assert_close(y[:, 1:, 34:68], (x[:, 1:] - x[:, :-1]) * 22.0 / VELOCITY_SCALE)
    assert torch.all(y[:, 0, 34:68] == 0)
    torch.testing.assert_close(y[..., 68:70], hip)
    # Walking across the picture: the posture part does not change, only the root moves.
    shift = torch.zeros(1, 32, 17, 2)
    shift[..., 0] = torch.linspace(0, 3, 32)[None, :, None]
    moved = transform(x[:1] + shift.reshape(1, 32, 34), "motion", 22.0)
    torch.testing.assert_close(moved[..., :34], y[:1, :, :34])


def test_unknown_kind() -> None:
    with pytest.raises(ValueError, match="unknown input features 'nope'"):
        transform(torch.zeros(1, 2, 34), "nope", 22.0)
    with pytest.raises(ValueError, match="unknown input features"):
        input_size("nope")
