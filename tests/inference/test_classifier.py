"""The LSTM and the serving wrapper: same numbers as the raw network, batched in one pass."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from inference.classifier import ActionClassifier, LSTMClassifier, resolve_device
from inference.model_file import ModelMetadata, save_model
from inference.windows import Window

LABELS = ("JUMPING", "JUMPING_JACKS", "BOXING", "WAVING_2HANDS", "WAVING_1HAND", "CLAPPING_HANDS")


@pytest.fixture
def saved(tmp_path: Path) -> tuple[Path, LSTMClassifier, ModelMetadata]:
    torch.manual_seed(1)
    meta = ModelMetadata(labels=LABELS)
    net = LSTMClassifier().eval()
    return save_model(tmp_path / "m.safetensors", net.state_dict(), meta), net, meta


def features(n: int, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).normal(200, 80, size=(n, 32, 34)).astype(np.float32)


def test_module_names_match_the_original_checkpoint() -> None:
    keys = set(LSTMClassifier().state_dict())
    assert keys == {
        "lstm.weight_ih_l0",
        "lstm.weight_hh_l0",
        "lstm.bias_ih_l0",
        "lstm.bias_hh_l0",
        "linear.weight",
        "linear.bias",
    }
    net = LSTMClassifier(num_layers=2, hidden_size=8, num_classes=3, dropout=0.3)
    assert net(torch.zeros(4, 10, 34)).shape == (4, 3)
    assert "lstm.weight_ih_l1" in net.state_dict()


def test_action_classifier_equals_the_raw_network(saved: tuple[Path, LSTMClassifier, ModelMetadata]) -> None:
    path, net, meta = saved
    clf = ActionClassifier.load(path)
    assert clf.labels == LABELS and clf.spec == meta.spec and clf.device.type == "cpu"
    x = features(5)
    with torch.no_grad():
        expected = torch.softmax(net(torch.from_numpy(x)), dim=1).numpy()
    got = clf.predict(x)
    assert got.shape == (5, 6) and got.dtype == np.float32
    np.testing.assert_allclose(got, expected, rtol=0, atol=1e-6)
    np.testing.assert_allclose(got.sum(axis=1), 1.0, atol=1e-5)


def test_batched_predict_equals_one_by_one(saved: tuple[Path, LSTMClassifier, ModelMetadata]) -> None:
    clf = ActionClassifier.load(saved[0])
    x = features(9, seed=3)
    batched = clf.predict(x)
    single = np.concatenate([clf.predict(x[i : i + 1]) for i in range(len(x))])
    np.testing.assert_allclose(batched, single, rtol=0, atol=1e-6)


def test_predict_windows_and_edge_cases(saved: tuple[Path, LSTMClassifier, ModelMetadata]) -> None:
    clf = ActionClassifier.load(saved[0])
    x = features(3)
    windows = [Window(track_id=i, start_pts=0.0, end_pts=1.4, features=x[i]) for i in range(3)]
    np.testing.assert_array_equal(clf.predict_windows(windows), clf.predict(x))
    assert clf.predict_windows([]).shape == (0, 6)
    assert clf.predict(np.zeros((0, 32, 34), np.float32)).shape == (0, 6)
    with pytest.raises(ValueError, match=r"\(N, 32, 34\), got \(2, 31, 34\)"):
        clf.predict(np.zeros((2, 31, 34), np.float32))


def test_dropout_is_off_when_serving(tmp_path: Path) -> None:
    meta = ModelMetadata(labels=LABELS, num_layers=2, dropout=0.5)
    path = save_model(tmp_path / "d.safetensors", LSTMClassifier.from_metadata(meta).state_dict(), meta)
    clf = ActionClassifier.load(path)
    x = features(2)
    np.testing.assert_array_equal(clf.predict(x), clf.predict(x))


def test_device_resolution() -> None:
    assert resolve_device("cpu") == torch.device("cpu")
    assert resolve_device("auto").type == ("cuda" if torch.cuda.is_available() else "cpu")


@pytest.mark.skipif(not torch.cuda.is_available(), reason="no CUDA device on this machine")
def test_cuda_matches_cpu(saved: tuple[Path, LSTMClassifier, ModelMetadata]) -> None:
    cpu = ActionClassifier.load(saved[0])
    gpu = ActionClassifier.load(saved[0], device="cuda")
    x = features(16, seed=5)
    np.testing.assert_allclose(gpu.predict(x), cpu.predict(x), atol=1e-4)
