"""``actionstream dataset build``: training windows from one's own labelled videos, read as the
service reads a file (see ``service/cli/video_poses.py``). The work is in :mod:`training`."""

from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path
from typing import Any

from inference.backends import BACKEND_NAMES
from service.cli.common import UsageError, add_hop_argument, number

log = logging.getLogger(__name__)


def register(subparsers: Any) -> None:
    p = subparsers.add_parser("dataset", help="build training windows from your own labelled videos")
    sub = p.add_subparsers(dest="dataset_command", metavar="ACTION", required=True)
    b = sub.add_parser(
        "build",
        help="run the pose backend + tracker over DIR/<label>/*.mp4 and store raw keypoint windows",
        description=(
            "DIR holds one folder per label (any names: custom actions are first-class), each with videos. "
            "A <video>.csv beside a video (header start_frame,end_frame,label) labels only those frames. "
            "Or DIR holds videos and a labels.csv (file,label,frame_start,frame_end), as evaluate-real "
            "reads. "
            "Windows keep raw time-stamped keypoints, so normalisation and steps are chosen when training."
        ),
    )
    b.add_argument(
        "dir", type=Path, help="folder with one sub-folder of videos per label, or with a labels.csv"
    )
    b.add_argument(
        "--only-no-action",
        action="store_true",
        help="labels.csv: take only the rows labelled none / none (...): real negatives for the background",
    )
    b.add_argument(
        "-o", "--output", type=Path, required=True, metavar="OUT.npz", help="windows file to write"
    )
    b.add_argument(
        "--backend", choices=BACKEND_NAMES, default="mediapipe", help="pose backend (default: %(default)s)"
    )
    add_hop_argument(b)
    b.add_argument(
        "--window-s", type=number(float, gt=0), default=1.5, help="seconds of poses per window (default: 1.5)"
    )
    b.add_argument("--cache-dir", type=Path, help="cache extracted poses here (default: none)")
    b.set_defaults(handler=dataset_build)


def dataset_build(args: argparse.Namespace) -> int:
    from inference.backends import BackendUnavailable  # noqa: PLC0415
    from service.cli.video_poses import pose_source  # noqa: PLC0415
    from training.csv_windows import labels_csv_videos  # noqa: PLC0415
    from training.datasets import DatasetError, build_video_dataset, save_raw_windows  # noqa: PLC0415
    from training.video_poses import VideoReadError  # noqa: PLC0415

    if Path(args.output).suffix != ".npz":
        raise UsageError(f"output must end in .npz, got {args.output}")

    def progress(name: str, done: int, total: int) -> None:
        print(f"\r{name}: {done}/{total} frames", end="", file=sys.stderr, flush=True)

    try:
        items = None
        if (Path(args.dir) / "labels.csv").is_file():
            items = labels_csv_videos(args.dir, only_no_action=args.only_no_action)
        elif args.only_no_action:
            raise DatasetError(f"--only-no-action needs a labels.csv in {args.dir}")
        raw = build_video_dataset(
            args.dir,
            poses=pose_source(args.backend),
            hop_s=args.hop_s,
            window_s=args.window_s,
            cache_dir=args.cache_dir,
            progress=progress,
            items=items,
        )
    except (DatasetError, VideoReadError, BackendUnavailable) as exc:
        raise UsageError(str(exc)) from exc
    finally:
        print(file=sys.stderr)
    save_raw_windows(args.output, raw)
    counts = ", ".join(f"{k} {v}" for k, v in raw.class_counts().items())
    print(f"wrote {args.output}: {len(raw)} windows from {len(raw.videos)} video(s) ({counts})")
    return 0
