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
        ({"format_version": 3}, "format_version must be an int in 1..2"),
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
