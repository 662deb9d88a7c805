"""Training reads video exactly as serving does: on a real clip, every window `dataset build` stores
(resampled and normalised for the shipped model, as training does) and every window `evaluate-real`
scores is, byte for byte, the window the service classifies on that frame; and the judge decides each
window as the service does (the same evidence over time)."""

from __future__ import annotations

from collections.abc import Hashable, Sequence
from pathlib import Path

import pytest

from inference.classifier import ActionClassifier
from inference.decision import Prediction, TrackEvidence
from inference.windows import Window, WindowSpec
from service import cli
from service.app.build import analyze_options, pose_backend_factory
from service.cli.video_poses import pose_source
from service.config import EngineConfig, PoseConfig
from service.offline.analyze import analyze_video
from tests.conftest import ROOT
from training.datasets import load_raw_windows, raw_windows_to_set
from training.real_eval import service_windows
from training.video_poses import cached_video_poses

pytest.importorskip(
    "mediapipe", reason="the MediaPipe backend is an optional extra: pip install -e '.[mediapipe]'"
)

WAVE = "omkarnagarkar55_wave.mp4"  # 10 fps: the service's 1.41 s windows and 1.5 s raw windows end together
DEFAULT_MODEL = ROOT / "inference" / "models" / "default.safetensors"


class RecordingClassifier:
    """The shipped model, keeping every window the engine hands it."""

    def __init__(self, model: ActionClassifier) -> None:
        self.model = model
        self.windows: list[Window] = []
        self.decided: list[Prediction] = []

    @property
    def labels(self) -> tuple[str, ...]:
        return self.model.labels

    @property
    def spec(self) -> WindowSpec:
        return self.model.spec

    def new_evidence(self) -> TrackEvidence:
        return self.model.new_evidence()

    def classify(
        self,
        windows: Sequence[Window],
        evidence: TrackEvidence | None = None,
        *,
        streams: Sequence[Hashable] | None = None,
    ) -> list[Prediction]:
        self.windows += windows
        got = self.model.classify(windows, evidence, streams=streams)
        self.decided += got
        return got


@pytest.mark.slow
def test_training_windows_are_byte_for_byte_the_windows_the_service_classifies(
    shared_data: Path, tmp_path: Path
) -> None:
    clip = shared_data / "videos" / WAVE
    model = ActionClassifier.load(DEFAULT_MODEL)

    # Serving: the engine over every frame of the file, with the service's default settings.
    config = EngineConfig(pose=PoseConfig(backend="mediapipe"))
    recorder = RecordingClassifier(model)
    backend = pose_backend_factory(config.pose)()
    try:
        analyze_video(clip, backend=backend, classifier=recorder, options=analyze_options(config, stride=1))  # type: ignore[arg-type]
    finally:
        backend.close()
    served = {(w.track_id, w.end_pts): w.features.tobytes() for w in recorder.windows}
    assert len(served) >= 30, "12.5 s of a person waving: a window every 0.3 s after the first 1.5 s"

    # Training: `dataset build` as a user runs it, then the features training makes of the raw windows.
    clips = tmp_path / "clips"
    (clips / "WAVING").mkdir(parents=True)
    (clips / "WAVING" / WAVE).symlink_to(clip)
    out, cache = tmp_path / "wave.npz", tmp_path / "poses"
    assert cli.main(["dataset", "build", str(clips), "-o", str(out), "--cache-dir", str(cache)]) == 0
    raw = load_raw_windows(out)
    trained = raw_windows_to_set(raw, model.spec)
    assert len(trained) == len(raw), "every window had a confident joint"
    built = {
        (int(track), float(raw.times[i, -1])): trained.features[i].tobytes()
        for i, track in enumerate(raw.track_id.tolist())
    }
    assert built.keys() == served.keys(), "the same tracks and the same frames"
    assert built == served, "byte for byte the same features"

    # evaluate-real: the same poses (from the cache `dataset build` filled) through TrackWindows.
    poses = cached_video_poses(clip, pose_source("mediapipe"), cache_dir=cache)
    replayed = service_windows(poses, model.spec)
    judged = {(w.track_id, w.end_pts): w.features.tobytes() for w in replayed}
    assert judged == served
    # ... decided as the judge does (training.real_eval): the same labels and probabilities.
    assert model.rule.smoothing_s > 0, "the shipped model weighs each person's last second"
    by_window = {(w.track_id, w.end_pts): p for w, p in zip(recorder.windows, recorder.decided, strict=True)}
    for w, p in zip(replayed, model.classify(replayed, model.new_evidence()), strict=True):
        served_p = by_window[(w.track_id, w.end_pts)]  # batched differently: equal to float rounding
        assert (served_p.label, served_p.reason) == (p.label, p.reason)
        assert served_p.probabilities == pytest.approx(p.probabilities, abs=1e-5)
