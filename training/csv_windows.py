"""Labelled videos described by a ``labels.csv`` (the judge's format) as training windows.

``labels.csv`` in a folder of videos, columns ``file,label,frame_start,frame_end[,notes]``, one row
per labelled segment (frames inclusive). Rows whose label means "none of the actions" (``none``,
``none (...)``, see :func:`training.windowset.is_no_action_label`) become no-action windows when
trained on: the background a model learns. ``only_no_action`` keeps just those rows, which is how
real negatives are added to synthetic actions without training on any labelled action footage.
"""

from __future__ import annotations

import os
from pathlib import Path

from training.real_eval import LABELS_CSV, load_real_segments
from training.video_windows import LabelledSegment
from training.windowset import DatasetError, is_no_action_label


def labels_csv_videos(
    folder: str | os.PathLike[str], *, only_no_action: bool = False
) -> list[tuple[Path, list[LabelledSegment]]]:
    """``(video, segments)`` for every video named in ``folder/labels.csv`` that is present."""
    root = Path(folder)
    if not (root / LABELS_CSV).is_file():
        raise DatasetError(f"{root} has no {LABELS_CSV} (columns file,label,frame_start,frame_end)")
    try:
        segments = load_real_segments(root, extra=False)
    except ValueError as exc:
        raise DatasetError(str(exc)) from exc
    by_video: dict[str, list[LabelledSegment]] = {}
    for s in segments:
        if s.first < 0 or s.last < s.first:
            raise DatasetError(f"{root / LABELS_CSV}: {s.video}: need 0 <= frame_start <= frame_end")
        if only_no_action and not is_no_action_label(s.label):
            continue
        by_video.setdefault(s.video, []).append(LabelledSegment(s.label, s.first, s.last))
    if not by_video:
        what = "no-action rows ('none ...')" if only_no_action else "rows"
        raise DatasetError(f"{root / LABELS_CSV} names no {what} whose video is in {root}")
    return [(root / v, segs) for v, segs in sorted(by_video.items())]
