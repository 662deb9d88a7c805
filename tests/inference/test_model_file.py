"""The safetensors model file: exact round trip, and clear refusals of anything wrong."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch
from safetensors.torch import save_file

from inference.classifier import LSTMClassifier
from inference.model_file import (
    FORMAT_NAME,
    METADATA_KEY,
    ModelFileError,
    ModelMetadata,
    load_model,
    read_metadata,
    save_model,
)

LABELS = ("JUMPING", "JUMPING_JACKS", "BOXING", "WAVING_2HANDS", "WAVING_1HAND", "CLAPPING_HANDS")


def make_meta(**overrides: object) -> ModelMetadata:
    base: dict[str, object] = {"labels": LABELS, "metrics": {"val_acc": 0.9, "epoch": 3, "note": "test"}}
    base.update(overrides)
    return ModelMetadata(**base)  # type: ignore[arg-type]


def random_state(meta: ModelMetadata, seed: int = 0) -> dict[str, torch.Tensor]:
    torch.manual_seed(seed)
    return LSTMClassifier.from_metadata(meta).state_dict()


def write_raw(
    path: Path, tensors: dict[str, torch.Tensor], meta_dict: dict | None, fmt: str = FORMAT_NAME
) -> Path:
    """A safetensors file written around our checks, to test what load_model refuses."""
    header = None if meta_dict is None else {"format": fmt, METADATA_KEY: json.dumps(meta_dict)}
    save_file({k: v.contiguous() for k, v in tensors.items()}, str(path), metadata=header)
    return path


def test_round_trip_is_bitwise_exact(tmp_path: Path) -> None:
    meta = make_meta(
        num_layers=2, hidden_size=16, dropout=0.25, description="two layers", created="2024-01-01"
    )
    state = random_state(meta)
    path = save_model(tmp_path / "m.safetensors", state, meta)
    loaded, meta2 = load_model(path)
    assert meta2 == meta
    assert set(loaded) == set(state)
    for k, v in state.items():
        assert loaded[k].dtype == v.dtype
        assert torch.equal(loaded[k].view(torch.int32), v.view(torch.int32)), k
    assert read_metadata(path) == meta
    assert not list(tmp_path.glob(".*tmp")), "temporary file left behind"


def test_metadata_spec_and_json() -> None:
    meta = make_meta(steps=20, rate_hz=15.0, normalisation="body_centred", min_confidence=0.2)
    spec = meta.spec
    assert (spec.steps, spec.rate_hz, spec.normalisation, spec.min_confidence) == (
        20,
        15.0,
        "body_centred",
        0.2,
    )
    assert ModelMetadata.from_dict(json.loads(meta.to_json())) == meta
    assert meta.num_classes == 6


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"labels": ()}, "labels must be a non-empty"),
        ({"labels": ("A", "A")}, "labels must be unique"),
        ({"normalisation": "zscore"}, "normalisation must be one of raw_pixels, body_centred"),
        ({"keypoint_schema": "openpose18"}, "keypoint_schema 'openpose18' is not supported"),
        ({"input_size": 36}, "input_size=36 does not fit keypoint_schema 'coco17'"),
        ({"hidden_size": 0}, "hidden_size must be an int >= 1"),
        ({"dropout": 1.5}, "dropout must be in"),
        ({"metrics": {"val_acc": float("nan")}}, "metrics\\['val_acc'\\] must be a finite number"),
        ({"format_version": 4}, "format_version must be an int in 1..3"),
        ({"smoothing_s": 11.0}, "smoothing_s must be in \\[0, 10\\] seconds"),
    ],
)
def test_metadata_validation(overrides: dict, message: str) -> None:
    with pytest.raises(ModelFileError, match=message):
        make_meta(**overrides)


def test_wrong_shapes_say_which_tensor_and_why(tmp_path: Path) -> None:
    meta = make_meta()
    state = random_state(meta)
    state["lstm.weight_ih_l0"] = torch.zeros(200, 30)
    with pytest.raises(ModelFileError) as err:
        save_model(tmp_path / "x.safetensors", state, meta)
    assert "weights lstm.weight_ih_l0 has shape (200, 30) but metadata says input_size=34" in str(err.value)
    assert "expected (200, 34)" in str(err.value)
    path = write_raw(tmp_path / "bad.safetensors", state, meta.to_dict())
    with pytest.raises(
        ModelFileError, match=r"bad.safetensors: weights lstm.weight_ih_l0 has shape \(200, 30\)"
    ):
        load_model(path)
    with pytest.raises(ModelFileError, match=r"lstm.weight_ih_l0 has shape \(200, 30\)"):
        read_metadata(path)


def test_wrong_number_of_labels_is_caught_by_shape(tmp_path: Path) -> None:
    state = random_state(make_meta())
    path = write_raw(tmp_path / "m.safetensors", state, make_meta(labels=("A", "B", "C")).to_dict())
    with pytest.raises(
        ModelFileError, match=r"linear.weight has shape \(6, 50\).*3 labels.*expected \(3, 50\)"
    ):
        load_model(path)


def test_missing_and_extra_tensors(tmp_path: Path) -> None:
    meta = make_meta()
    state = random_state(meta)
    del state["linear.bias"]
    state["head.weight"] = torch.zeros(2)
    path = write_raw(tmp_path / "m.safetensors", state, meta.to_dict())
    with pytest.raises(ModelFileError, match=r"missing \['linear.bias'\], unexpected \['head.weight'\]"):
        load_model(path)


def test_wrong_schema_in_file(tmp_path: Path) -> None:
    meta = make_meta()
    d = meta.to_dict() | {"keypoint_schema": "mediapipe33"}
    path = write_raw(tmp_path / "m.safetensors", random_state(meta), d)
    with pytest.raises(ModelFileError, match="keypoint_schema 'mediapipe33' is not supported"):
        load_model(path)


def test_newer_format_version(tmp_path: Path) -> None:
    meta = make_meta()
    path = write_raw(tmp_path / "m.safetensors", random_state(meta), meta.to_dict() | {"format_version": 7})
    with pytest.raises(ModelFileError, match="format version 7 is newer than this actionstream supports"):
        load_model(path)


def test_missing_metadata(tmp_path: Path) -> None:
    path = write_raw(tmp_path / "plain.safetensors", random_state(make_meta()), None)
    with pytest.raises(ModelFileError, match="has no actionstream metadata"):
        load_model(path)
    path = write_raw(tmp_path / "nolabels.safetensors", random_state(make_meta()), {"format_version": 1})
    with pytest.raises(ModelFileError, match="no 'labels'"):
        load_model(path)


def test_unknown_metadata_key(tmp_path: Path) -> None:
    meta = make_meta()
    path = write_raw(tmp_path / "m.safetensors", random_state(meta), meta.to_dict() | {"colour": "red"})
    with pytest.raises(ModelFileError, match=r"unknown keys \['colour'\]"):
        load_model(path)


def test_not_a_safetensors_file(tmp_path: Path) -> None:
    text = tmp_path / "notes.txt"
    text.write_text("hello, I am not a model\n")
    with pytest.raises(ModelFileError, match=r"notes\.txt is not a safetensors model file"):
        load_model(text)
    pickled = tmp_path / "model.pt"
    torch.save({"a": torch.zeros(3)}, pickled)
    with pytest.raises(ModelFileError, match="is not a safetensors model file"):
        load_model(pickled)
    with pytest.raises(ModelFileError, match="does not exist"):
        load_model(tmp_path / "absent.safetensors")


def _single(tmp_path: Path, name: str, seed: int, **overrides: object) -> Path:
    meta = make_meta(**{"background": True, "hidden_size": 8, "temperature": 1.0 + seed / 2, **overrides})
    return save_model(tmp_path / f"{name}.safetensors", random_state(meta, seed), meta)


def test_an_ensemble_file_round_trips_and_averages_its_members_calibrated_probabilities(
    tmp_path: Path,
) -> None:
    import numpy as np  # noqa: PLC0415

    from inference.classifier import ActionClassifier  # noqa: PLC0415
    from inference.decision import DecisionRule  # noqa: PLC0415
    from inference.model_file import ENSEMBLE, ensemble  # noqa: PLC0415

    paths = [_single(tmp_path, "a", 1), _single(tmp_path, "b", 2, hidden_size=12, num_layers=2)]
    state, meta = ensemble([load_model(p) for p in paths], rule=DecisionRule(0.6, 0.4, 1.0), source="test")
    assert meta.architecture == ENSEMBLE and meta.temperature == 1.0 and meta.format_version == 3
    assert [(m.hidden_size, m.num_layers, m.temperature) for m in meta.members] == [(8, 1, 1.5), (12, 2, 2.0)]
    assert meta.rule == DecisionRule(0.6, 0.4, 1.0) and meta.metrics["members"] == 2
    assert sorted(state)[0].startswith("members.0.")
    path = save_model(tmp_path / "ens.safetensors", state, meta)
    assert read_metadata(path) == meta
    ens = ActionClassifier.load(path)
    x = np.random.default_rng(0).normal(0, 1, (4, 32, 34)).astype(np.float32)
    members = [ActionClassifier.load(p) for p in paths]
    want = np.mean(
        [np.column_stack([*m.predict_outputs(x)[:1], m.predict_outputs(x)[1]]) for m in members], axis=0
    )
    probs, bg = ens.predict_outputs(x)
    assert bg is not None
    np.testing.assert_allclose(probs, want[:, :6], rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(bg, want[:, 6], rtol=1e-5, atol=1e-6)


def test_ensembles_refuse_what_does_not_fit(tmp_path: Path) -> None:
    from inference.model_file import MemberSpec, ensemble  # noqa: PLC0415

    a = load_model(_single(tmp_path, "a", 1))
    with pytest.raises(ModelFileError, match="two or more models"):
        ensemble([a])
    other = load_model(_single(tmp_path, "o", 2, labels=("A", "B")))
    with pytest.raises(ModelFileError, match=r"member 1 has labels=.*must share labels"):
        ensemble([a, other])
    slow = load_model(_single(tmp_path, "s", 3, rate_hz=10.0))
    with pytest.raises(ModelFileError, match=r"member 1 has rate_hz=10\.0"):
        ensemble([a, slow])
    state, meta = ensemble([a, load_model(_single(tmp_path, "b", 2))])
    with pytest.raises(ModelFileError, match="is itself an ensemble"):
        ensemble([(state, meta), a])
    two = (MemberSpec(8), MemberSpec(8))
    with pytest.raises(ModelFileError, match="needs two or more members"):
        make_meta(architecture="lstm-ensemble", members=two[:1])
    with pytest.raises(ModelFileError, match="has temperature 1"):
        make_meta(architecture="lstm-ensemble", members=two, temperature=2.0)
    with pytest.raises(ModelFileError, match="members are only for architecture"):
        make_meta(members=two)
    with pytest.raises(ModelFileError, match=r"members\[1\].hidden_size must be an int >= 1"):
        make_meta(architecture="lstm-ensemble", members=(MemberSpec(8), MemberSpec(0)))
    d = meta.to_dict()
    d["members"][0]["colour"] = "red"
    with pytest.raises(ModelFileError, match=r"members\[0\] must have hidden_size and only"):
        ModelMetadata.from_dict(d)
    # weights that do not fit the declared members are refused with the members' sizes
    bad = dict(state)
    bad["members.1.linear.bias"] = torch.zeros(3)
    with pytest.raises(ModelFileError, match=r"an ensemble of 2 LSTMs \(8x1 xy, 8x1 xy\)"):
        save_model(tmp_path / "bad.safetensors", bad, meta)
