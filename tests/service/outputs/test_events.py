"""Event payloads: validation at construction, and every payload matches the shipped JSON Schema."""

from __future__ import annotations

import enum
import json
from typing import Any

import jsonschema
import numpy as np
import pytest

from capture.state import SourceState
from inference.poses import TrackedPoses
from service.outputs.events import (
    SCHEMA_VERSION,
    STATUS_STATES,
    ActionEvent,
    PoseEvent,
    StatusEvent,
    event_schema,
    topic,
)
from service.outputs.metrics import CAMERA_STATES

LABELS = ("JUMPING", "JUMPING_JACKS", "BOXING", "WAVING_2HANDS", "WAVING_1HAND", "CLAPPING_HANDS")


def action(**kw: Any) -> ActionEvent:
    probs = np.array([0.02, 0.03, 0.85, 0.04, 0.03, 0.03], dtype=np.float32)
    args: dict[str, Any] = {
        "type": "update",
        "camera": "cam0",
        "track_id": np.int64(3),
        "label": "BOXING",
        "confidence": probs[2],
        "probabilities": dict(zip(LABELS, probs, strict=True)),
        "window_start_pts": 10.0,
        "window_end_pts": 11.45,
        "frame_seq": 345,
        "pts": 11.45,
        "capture_time": 100.0,
    }
    args.update(kw)
    return ActionEvent(**args)


@pytest.fixture(scope="module")
def validator() -> jsonschema.Draft202012Validator:
    schema = event_schema()
    jsonschema.Draft202012Validator.check_schema(schema)
    return jsonschema.Draft202012Validator(schema)


def test_action_event_round_trips_through_json_and_schema(validator: jsonschema.Draft202012Validator) -> None:
    e = action().stamped(now_monotonic=100.25, now_wall=1_700_000_000.0)
    payload = json.loads(e.to_json())
    validator.validate(payload)
    assert list(payload)[:4] == ["schema_version", "event_id", "type", "camera"]
    assert payload["schema_version"] == SCHEMA_VERSION
    assert payload["latency_s"] == pytest.approx(0.25)
    assert payload["emitted_at"] == 1_700_000_000.0
    assert "capture_time" not in payload
    assert payload["probabilities"]["BOXING"] == pytest.approx(0.85)
    assert isinstance(payload["track_id"], int)
    assert e.topic == "action.cam0"


def test_start_and_end_events_validate(validator: jsonschema.Draft202012Validator) -> None:
    validator.validate(json.loads(action(type="start").stamped().to_json()))
    end = action(type="end", probabilities={}, confidence=0.7).stamped()
    validator.validate(json.loads(end.to_json()))


def test_unstamped_event_still_valid(validator: jsonschema.Draft202012Validator) -> None:
    payload = json.loads(action().to_json())
    assert payload["latency_s"] is None and payload["emitted_at"] is None
    validator.validate(payload)


def test_status_and_pose_events_validate(validator: jsonschema.Draft202012Validator) -> None:
    s = StatusEvent(camera="lobby_2", state="RECONNECTING", reason="read timeout").stamped()
    payload = json.loads(s.to_json())
    validator.validate(payload)
    assert payload["state"] == "reconnecting" and s.topic == "status.lobby_2"

    people = TrackedPoses(
        keypoints=np.random.rand(1, 17, 3).astype(np.float32),
        boxes=np.array([[1, 2, 30, 40]], np.float32),
        scores=np.array([0.9], np.float32),
        track_ids=np.array([7], np.int64),
    )
    p = PoseEvent(camera="cam0", frame_seq=9, pts=0.3, people=people, capture_time=5.0).stamped(
        now_monotonic=5.1
    )
    payload = json.loads(p.to_json())
    validator.validate(payload)
    assert len(payload["tracks"][0]["keypoints"]) == 17 and p.topic == "pose.cam0"


def test_status_from_state_change_accepts_enum_states() -> None:
    class SourceState(str, enum.Enum):
        ONLINE = "online"

    class Change:
        camera_id, state, reason = "cam0", SourceState.ONLINE, "first frame"

    assert StatusEvent.from_state_change(Change()).state == "online"


@pytest.mark.parametrize(
    ("mutate", "why"),
    [
        (lambda p: p.pop("event_id"), "missing field"),
        (lambda p: p.update(type="begin"), "unknown type"),
        (lambda p: p.update(confidence=1.5), "confidence out of range"),
        (lambda p: p.update(camera="Cam 0"), "camera not a slug"),
        (lambda p: p.update(extra=1), "unknown field"),
        (lambda p: p.update(schema_version=1), "other schema version"),
        (lambda p: p["probabilities"].update(BOXING=-0.1), "negative probability"),
        (lambda p: p.update(track_id=-1), "negative track id"),
    ],
)
def test_invalid_payloads_fail_the_schema(
    validator: jsonschema.Draft202012Validator, mutate: Any, why: str
) -> None:
    payload = json.loads(action().stamped().to_json())
    mutate(payload)
    assert not validator.is_valid(payload), why


@pytest.mark.parametrize(
    ("kw", "message"),
    [
        ({"type": "begin"}, "ActionEvent.type must be one of"),
        ({"camera": "Front Door"}, "ActionEvent.camera must be a slug"),
        ({"track_id": -1}, "ActionEvent.track_id must be an int >= 0"),
        ({"confidence": float("nan")}, "ActionEvent.confidence must be a finite number"),
        ({"confidence": 1.2}, r"ActionEvent.confidence must be in \[0, 1\]"),
        ({"label": "SITTING"}, "is not one of the probabilities' labels"),
        ({"window_end_pts": 9.0}, "window_end_pts .* must be >= window_start_pts"),
        ({"probabilities": {}}, "must not be empty for a 'update' event"),
    ],
)
def test_constructor_rejects_bad_values(kw: dict[str, Any], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        action(**kw)


def test_status_rejects_unknown_state_and_topic_kind() -> None:
    with pytest.raises(ValueError, match=r"StatusEvent\.state must be one of"):
        StatusEvent(camera="cam0", state="sleeping")
    with pytest.raises(ValueError, match="topic kind"):
        topic("video", "cam0")


def test_event_ids_are_unique() -> None:
    assert len({action().event_id for _ in range(1000)}) == 1000


def test_the_camera_states_are_capture_s_everywhere() -> None:
    """One list of states: capture's enum; the events, the metrics and the JSON Schema agree with it."""
    states = [s.value for s in SourceState]
    assert list(STATUS_STATES) == states and list(CAMERA_STATES) == states
    assert event_schema()["$defs"]["status"]["properties"]["state"]["enum"] == states
