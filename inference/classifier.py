"""The action classifier: an LSTM over a window of poses, and the object that serves it.

:class:`LSTMClassifier` keeps the original app's module names (``lstm``, ``linear``) so its
checkpoint loads as is; :class:`EnsembleNet` averages several of them (an ensemble model file).
:class:`ActionClassifier` pairs the network with its
:class:`~inference.model_file.ModelMetadata` and classifies many windows in one forward pass:
:meth:`ActionClassifier.predict_windows` gives calibrated probabilities over the actions,
:meth:`ActionClassifier.classify` the decision per window (an action or none, see
:mod:`inference.decision`).
"""

from __future__ import annotations

import logging
import os
from collections.abc import Hashable, Mapping, Sequence

import numpy as np
import torch
from torch import nn

from inference.decision import DecisionRule, Prediction, TrackEvidence, decide
from inference.features import input_size as features_input_size
from inference.features import transform
from inference.model_file import ModelMetadata, check_state_dict, load_model
from inference.windows import Window, WindowSpec

log = logging.getLogger(__name__)


class LSTMClassifier(nn.Module):
    """``(N, T, 34)`` window features -> ``(N, num_classes)`` logits from the last time step.

    ``input_features`` names the fixed transform the LSTM reads the window through
    (:mod:`inference.features`; ``input_size`` is the LSTM's input width after it, 34 for ``xy``).
    ``num_classes`` counts every output, the background one included. ``dropout`` applies between
    stacked LSTM layers and to the last hidden state during training (it has no weights, so it
    does not change the checkpoint layout).
    """

    def __init__(
        self,
        input_size: int = 34,
        hidden_size: int = 50,
        num_layers: int = 1,
        num_classes: int = 6,
        dropout: float = 0.0,
        *,
        input_features: str = "xy",
        rate_hz: float = 22.0,
    ) -> None:
        super().__init__()
        self.input_features = input_features
        self.rate_hz = float(rate_hz)
        self.lstm = nn.LSTM(
            input_size,
            hidden_size,
            num_layers=num_layers,
            batch_first=True,
            dropout=dropout if num_layers > 1 else 0.0,
        )
        self.dropout = nn.Dropout(dropout)
        self.linear = nn.Linear(hidden_size, num_classes)

    @classmethod
    def from_metadata(cls, meta: ModelMetadata) -> LSTMClassifier:
        return cls(
            input_size=meta.input_size,
            hidden_size=meta.hidden_size,
            num_layers=meta.num_layers,
            num_classes=meta.num_outputs,
            dropout=meta.dropout,
            input_features=meta.input_features,
            rate_hz=float(meta.rate_hz),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        _, (h_n, _) = self.lstm(transform(x, self.input_features, self.rate_hz))
        return self.linear(self.dropout(h_n[-1]))


class EnsembleNet(nn.Module):
    """The networks of an ensemble model file (``members.<i>.``): ``(N, T, 34)`` -> the log of the
    mean of their calibrated probabilities, so a softmax at temperature 1 gives that mean."""

    def __init__(self, members: Sequence[LSTMClassifier], temperatures: Sequence[float]) -> None:
        super().__init__()
        if len(members) != len(temperatures) or len(members) < 2:
            raise ValueError(
                f"an ensemble needs two or more members, each with a temperature, got {len(members)}"
            )
        self.members = nn.ModuleList(members)
        self.temperatures: torch.Tensor
        self.register_buffer("temperatures", torch.tensor([float(t) for t in temperatures]), persistent=False)

    @classmethod
    def from_metadata(cls, meta: ModelMetadata) -> EnsembleNet:
        nets = [
            LSTMClassifier(
                input_size=features_input_size(m.input_features, meta.spec.feature_size),
                hidden_size=m.hidden_size,
                num_layers=m.num_layers,
                num_classes=meta.num_outputs,
                input_features=m.input_features,
                rate_hz=float(meta.rate_hz),
            )
            for m in meta.members
        ]
        return cls(nets, [m.temperature for m in meta.members])

    def mean_probabilities(self, x: torch.Tensor, calibrated: bool = True) -> torch.Tensor:
        """The mean of the members' softmax outputs, each at its temperature (or at 1)."""
        temps = self.temperatures if calibrated else torch.ones_like(self.temperatures)
        return torch.stack(
            [torch.softmax(net(x).float() / t, dim=1) for net, t in zip(self.members, temps, strict=True)]
        ).mean(dim=0)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.log(self.mean_probabilities(x).clamp_min(1e-12))


def build_network(meta: ModelMetadata) -> nn.Module:
    """The network a model file declares: one :class:`LSTMClassifier`, or an :class:`EnsembleNet`."""
    return EnsembleNet.from_metadata(meta) if meta.is_ensemble else LSTMClassifier.from_metadata(meta)


def resolve_device(device: str | torch.device) -> torch.device:
    """``"auto"`` means CUDA when present, else CPU; anything else is passed to torch."""
    if isinstance(device, str) and device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    return torch.device(device)


class ActionClassifier:
    """A loaded action model: ``predict`` turns feature windows into class probabilities."""

    def __init__(
        self,
        model: nn.Module,
        metadata: ModelMetadata,
        device: str | torch.device = "cpu",
    ) -> None:
        self.metadata = metadata
        self.device = resolve_device(device)
        self.model = model.to(self.device).eval()

    @classmethod
    def from_state_dict(
        cls,
        state_dict: Mapping[str, torch.Tensor],
        metadata: ModelMetadata,
        device: str | torch.device = "cpu",
    ) -> ActionClassifier:
        check_state_dict(state_dict, metadata)
        model = build_network(metadata)
        model.load_state_dict(dict(state_dict), strict=True)
        return cls(model, metadata, device)

    @classmethod
    def load(cls, path: str | os.PathLike[str], device: str | torch.device = "cpu") -> ActionClassifier:
        """Load a model file (see :mod:`inference.model_file`); raises ``ModelFileError``."""
        state_dict, metadata = load_model(path)
        log.info(
            "loaded action model %s: %s%d labels, %d steps at %.1f Hz, %s",
            path,
            f"ensemble of {len(metadata.members)}, " if metadata.is_ensemble else "",
            metadata.num_classes,
            metadata.steps,
            metadata.rate_hz,
            metadata.normalisation,
        )
        return cls.from_state_dict(state_dict, metadata, device)

    @property
    def labels(self) -> tuple[str, ...]:
        return self.metadata.labels

    @property
    def spec(self) -> WindowSpec:
        return self.metadata.spec

    @property
    def rule(self) -> DecisionRule:
        return self.metadata.rule

    def predict_outputs(self, features: np.ndarray) -> tuple[np.ndarray, np.ndarray | None]:
        """``(probabilities (N, L), background (N,) or None)`` for ``features (N, steps, 34)`` in
        one forward pass: the softmax of the logits divided by the model's temperature, split into
        the actions and the background output (None when the model has none)."""
        x = np.asarray(features, dtype=np.float32)
        want = (self.metadata.steps, self.spec.feature_size)
        if x.ndim != 3 or x.shape[1:] != want:
            raise ValueError(f"features must have shape (N, {want[0]}, {want[1]}), got {x.shape}")
        if len(x) == 0:
            probs = np.zeros((0, self.metadata.num_outputs), np.float32)
        else:
            with torch.inference_mode():
                logits = self.model(torch.from_numpy(np.ascontiguousarray(x)).to(self.device))
                probs_t = torch.softmax(logits.float() / float(self.metadata.temperature), dim=1)
            probs = probs_t.cpu().numpy().astype(np.float32, copy=False)
        k = self.metadata.num_classes
        return probs[:, :k], (probs[:, k] if self.metadata.background else None)

    def predict(self, features: np.ndarray) -> np.ndarray:
        """Calibrated probabilities ``(N, L)`` float32 over the model's actions for ``features
        (N, steps, 34)``. A row sums to 1 minus the background probability (to 1 for a model
        without a background output)."""
        return self.predict_outputs(features)[0]

    def predict_windows(self, windows: Sequence[Window]) -> np.ndarray:
        """:meth:`predict` over the features of ``windows`` (row i is ``windows[i]``)."""
        if not windows:
            return np.zeros((0, self.metadata.num_classes), np.float32)
        return self.predict(np.stack([w.features for w in windows]))

    def new_evidence(self) -> TrackEvidence:
        """Empty per-person history for this model's ``smoothing_s`` (one per stream owner)."""
        return TrackEvidence(self.rule.smoothing_s)

    def classify(
        self,
        windows: Sequence[Window],
        evidence: TrackEvidence | None = None,
        *,
        streams: Sequence[Hashable] | None = None,
    ) -> list[Prediction]:
        """The decision for each window: an action or none (:func:`inference.decision.decide`).

        With ``evidence`` (from :meth:`new_evidence`) the windows are a stream of tracked people in
        time order: each is decided on the mean output of its person's windows of the last
        ``smoothing_s`` (``streams[i]`` names window i's camera, so equal track ids of two cameras
        stay apart). Without it every window is judged alone."""
        if not windows:
            return []
        features = np.stack([w.features for w in windows])
        missing = [w.missing_fraction for w in windows]
        if evidence is None or evidence.smoothing_s <= 0.0:
            return self.decide_features(features, missing_fraction=missing)
        if streams is not None and len(streams) != len(windows):
            raise ValueError(f"one stream per window: {len(windows)} windows, {len(streams)} streams")
        probs, background = self.predict_outputs(features)
        k = self.metadata.num_classes
        outputs = probs if background is None else np.concatenate([probs, background[:, None]], axis=1)
        names = streams if streams is not None else [""] * len(windows)
        smoothed = np.stack(
            [
                evidence.smooth((name, w.track_id), w.end_pts, row)
                for name, w, row in zip(names, windows, outputs, strict=True)
            ]
        )
        return decide(
            smoothed[:, :k],
            self.labels,
            self.rule,
            background=None if background is None else smoothed[:, k],
            missing_fraction=missing,
        )

    def decide_features(
        self, features: np.ndarray, missing_fraction: Sequence[float] | np.ndarray | None = None
    ) -> list[Prediction]:
        """The decision for each row of ``features (N, steps, 34)``; ``missing_fraction (N,)`` is each
        window's share of filled-in joints (None: all complete, as for stored dataset windows)."""
        probs, background = self.predict_outputs(features)
        return decide(probs, self.labels, self.rule, background=background, missing_fraction=missing_fraction)
