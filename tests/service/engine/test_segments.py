"""Segment hysteresis: noisy classifications give one start and one end, never flicker."""

from __future__ import annotations

import json
import random

import jsonschema
import numpy as np
import pytest

from inference.decision import DecisionRule, Prediction, decide
from inference.hysteresis import SegmentParams
from service.engine.segments import Classification, SegmentTracker
from service.outputs.events import ActionEvent, event_schema

LABELS = ("BOXING", "CLAPPING_HANDS", "WAVING_1HAND")


def cls(
    i: int,
    top: str | None,
    p: float,
    track: int = 1,
    camera: str = "cam0",
    *,
    background: float | None = None,
    missing: float = 0.0,
) -> Classification:
    """Window i (0.25 s hop, 1.45 s long) whose top label is ``top`` with probability ``p``, decided
    by the default rule (reject below 0.5). ``background``: the model's "none of these" output
    takes that share first (the actions share the rest); ``missing``: the window's missing share."""
    rest = (1.0 - p) / (len(LABELS) - 1)
    probs = np.array([p if label == top else rest for label in LABELS] if top else [1 / 3] * 3)
    bg = None
    if background is not None:
        probs, bg = probs * (1.0 - background), np.array([background])
    prediction = decide(probs[None], LABELS, DecisionRule(), background=bg, missing_fraction=[missing])[0]
    return Classification(
        camera=camera,
        track_id=track,
        prediction=prediction,
        window_start_pts=i * 0.25,
        window_end_pts=i * 0.25 + 1.45,
        frame_seq=i * 5,
        pts=i * 0.25 + 1.45,
        capture_time=100.0 + i,
    )


def run(tracker: SegmentTracker, seq: list[tuple[str | None, float]]) -> list[ActionEvent]:
    events: list[ActionEvent] = []
    for i, (top, p) in enumerate(seq):
        events += tracker.observe(cls(i, top, p))
    return events


def boundaries(events: list[ActionEvent]) -> list[tuple[str, str]]:
    return [(e.type, e.label) for e in events if e.type != "update"]


def test_noisy_sequence_gives_one_start_and_one_end() -> None:
    tracker = SegmentTracker(
        SegmentParams(enter_threshold=0.6, exit_threshold=0.4, min_windows=3, exit_windows=3)
    )
    seq: list[tuple[str | None, float]] = [(None, 0.0)] * 3
    seq += [("BOXING", 0.8), ("CLAPPING_HANDS", 0.7), ("BOXING", 0.7)]  # a blip before it settles
    seq += [("BOXING", 0.9)] * 4
    seq += [("WAVING_1HAND", 0.65)]  # one noisy window inside the segment
    seq += [("BOXING", 0.45)] * 2  # weak (unsure: below the reject threshold) but still above exit
    seq += [("CLAPPING_HANDS", 0.62), ("BOXING", 0.8)]  # another single blip
    seq += [("BOXING", 0.85)] * 3
    seq += [(None, 0.0)] * 5  # the action stops: probabilities flat
    events = run(tracker, seq)
    assert boundaries(events) == [("start", "BOXING"), ("end", "BOXING")]
    start = next(e for e in events if e.type == "start")
    end = next(e for e in events if e.type == "end")
    assert start.window_start_pts == pytest.approx(5 * 0.25)  # where the 3 winning windows began
    assert end.window_start_pts == start.window_start_pts
    assert end.window_end_pts == pytest.approx(17 * 0.25 + 1.45)  # the last window that supported it
    assert 0.6 < end.confidence < 0.9
    assert end.frame_seq > start.frame_seq
    assert len([e for e in events if e.type == "update"]) == len(seq)
    validator = jsonschema.Draft202012Validator(event_schema())
    for e in events:
        validator.validate(json.loads(e.stamped().to_json()))


def test_switch_to_another_label_ends_then_starts_in_one_step() -> None:
    tracker = SegmentTracker(SegmentParams(min_windows=3, exit_windows=3))
    events = run(tracker, [("BOXING", 0.9)] * 5 + [("WAVING_1HAND", 0.9)] * 5)
    assert boundaries(events) == [("start", "BOXING"), ("end", "BOXING"), ("start", "WAVING_1HAND")]
    switch = [e for e in events if e.frame_seq == 7 * 5]
    assert [e.type for e in switch] == ["end", "start", "update"]


def test_low_confidence_alone_ends_a_segment() -> None:
    tracker = SegmentTracker(SegmentParams(min_windows=2, exit_windows=2))
    events = run(tracker, [("BOXING", 0.9)] * 3 + [("BOXING", 0.35)] * 2)
    assert boundaries(events) == [("start", "BOXING"), ("end", "BOXING")]


def test_alternating_noise_never_starts() -> None:
    tracker = SegmentTracker(SegmentParams(min_windows=3, exit_windows=3))
    # confident but never the same label min_windows times in a row
    seq: list[tuple[str | None, float]] = [(("BOXING" if i % 2 else "WAVING_1HAND"), 0.9) for i in range(200)]
    assert boundaries(run(tracker, seq)) == []


def test_random_noise_flicker_is_bounded() -> None:
    """A steady label with 30 % random wrong windows (never exit_windows in a row) stays one segment."""
    rng = random.Random(7)
    seq: list[tuple[str | None, float]] = []
    wrong_run = 0
    for _ in range(400):
        wrong = rng.random() < 0.3 and wrong_run < 2
        wrong_run = wrong_run + 1 if wrong else 0
        seq.append((rng.choice(["BOXING", "WAVING_1HAND"]), 0.7) if wrong else ("CLAPPING_HANDS", 0.8))
    assert sum(1 for top, _ in seq if top != "CLAPPING_HANDS") > 80
    tracker = SegmentTracker(SegmentParams(min_windows=3, exit_windows=3))
    assert boundaries(run(tracker, seq)) == [("start", "CLAPPING_HANDS")]


def test_track_end_and_camera_end_close_segments() -> None:
    tracker = SegmentTracker(SegmentParams(min_windows=1, exit_windows=1))
    tracker.observe(cls(0, "BOXING", 0.9, track=1))
    tracker.observe(cls(0, "WAVING_1HAND", 0.9, track=2))
    tracker.observe(cls(0, "BOXING", 0.9, track=3, camera="cam1"))
    assert tracker.active_label("cam0", 1) == "BOXING"
    ended = tracker.end_track("cam0", 1, frame_seq=10, pts=2.0)
    assert [(e.type, e.label, e.track_id, e.probabilities) for e in ended] == [("end", "BOXING", 1, {})]
    assert tracker.end_track("cam0", 1, frame_seq=11, pts=2.1) == []  # already gone
    ended = tracker.end_camera("cam0", frame_seq=12, pts=2.2)
    assert [(e.label, e.track_id) for e in ended] == [("WAVING_1HAND", 2)]
    assert tracker.end_track("cam0", 2, frame_seq=13, pts=2.3) == []  # cam0 forgotten ...
    assert tracker.active_label("cam1", 3) == "BOXING"  # ... cam1 untouched


def test_update_min_confidence_filters_updates_only() -> None:
    tracker = SegmentTracker(SegmentParams(min_windows=1, update_min_confidence=0.95))
    events = tracker.observe(cls(0, "BOXING", 0.9))
    assert [e.type for e in events] == ["start"]


def test_params_and_inputs_are_checked() -> None:
    with pytest.raises(ValueError, match="exit_threshold <= enter_threshold"):
        SegmentParams(enter_threshold=0.3, exit_threshold=0.5)
    with pytest.raises(ValueError, match="one probability per label: 3 labels, 2 probabilities"):
        Prediction("BOXING", (0.5, 0.5), 0.0, "action", LABELS)
    with pytest.raises(ValueError, match="must be a Prediction"):
        Classification("cam0", 1, (0.5, 0.5), 0.0, 1.0, 0, 1.0)  # type: ignore[arg-type]


def validate(events: list[ActionEvent]) -> None:
    validator = jsonschema.Draft202012Validator(event_schema())
    for e in events:
        validator.validate(json.loads(e.stamped().to_json()))


def test_no_action_windows_publish_null_updates_and_never_start() -> None:
    """Background, unsure and incomplete windows are updates with label null and their reason,
    probabilities still present; however many in a row, no segment starts."""
    tracker = SegmentTracker(SegmentParams(min_windows=1, exit_windows=1, update_min_confidence=0.9))
    events: list[ActionEvent] = []
    for i in range(6):
        events += tracker.observe(cls(i, "BOXING", 0.9, background=0.8))  # bg 0.8 > BOXING 0.18
    for i in range(6, 12):
        events += tracker.observe(cls(i, None, 0.0))  # flat: unsure
    for i in range(12, 18):
        events += tracker.observe(cls(i, "BOXING", 0.95, missing=0.9))  # too incomplete to judge
    assert boundaries(events) == []
    assert [e.type for e in events] == ["update"] * 18  # not filtered by update_min_confidence
    assert {e.label for e in events} == {None}
    assert [e.reason for e in events] == ["background"] * 6 + ["unsure"] * 6 + ["incomplete"] * 6
    first = events[0]
    assert first.background == pytest.approx(0.8)
    assert sum(first.probabilities.values()) == pytest.approx(0.2)
    assert first.confidence == pytest.approx(0.9 * 0.2)  # the best action's probability
    assert json.loads(first.to_json())["label"] is None
    validate(events)


def test_no_action_windows_end_a_running_segment() -> None:
    """'None of these' (background) or incomplete windows go against the running label."""
    for kind in ("background", "incomplete"):
        tracker = SegmentTracker(SegmentParams(min_windows=2, exit_windows=2))
        seq = [cls(i, "BOXING", 0.9) for i in range(3)]
        if kind == "background":
            seq += [cls(i, "BOXING", 0.9, background=0.7) for i in range(3, 5)]
        else:
            seq += [cls(i, "BOXING", 0.9, missing=0.8) for i in range(3, 5)]
        events = [e for c in seq for e in tracker.observe(c)]
        assert boundaries(events) == [("start", "BOXING"), ("end", "BOXING")], kind
        end = next(e for e in events if e.type == "end")
        assert end.window_end_pts == pytest.approx(2 * 0.25 + 1.45)  # the last supporting window
        validate(events)


def test_action_event_refuses_null_labels_where_they_mean_nothing() -> None:
    base = dict(
        camera="cam0",
        track_id=1,
        confidence=0.5,
        probabilities={"BOXING": 0.5},
        window_start_pts=0.0,
        window_end_pts=1.0,
        frame_seq=0,
        pts=1.0,
    )
    with pytest.raises(ValueError, match="label may be None only on an update"):
        ActionEvent(type="start", label=None, reason="background", **base)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="label may be None only on an update"):
        ActionEvent(type="update", label=None, reason="action", **base)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="needs reason 'action'"):
        ActionEvent(type="update", label="BOXING", reason="unsure", **base)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="reason must be one of"):
        ActionEvent(type="update", label=None, reason="bored", **base)  # type: ignore[arg-type]
