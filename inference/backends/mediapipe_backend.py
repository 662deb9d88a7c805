"""MediaPipe BlazePose ("full", the model shipped inside the ``mediapipe==0.10.14`` wheel) on the CPU.

BlazePose finds ONE person per call. Two ways to use it:

* ``max_people=1`` (default): one BlazePose call on the whole frame. With ``stream_mode=True`` the
  ``Pose`` graph runs in video mode: it tracks the person from frame to frame (the person
  detector runs only when tracking is lost, and landmarks are smoothed), which is faster and
  steadier, but it keeps state, so that backend instance must see the frames of ONE camera, in
  order. ``stream_mode=False`` (default) treats every frame as a separate photo: always correct,
  whatever the mix of cameras in a batch, but the detector runs on every frame.
* ``max_people > 1``: multi-person on the CPU without downloading anything, in two passes.
  (1) BlazePose on the whole frame, greying out each person it finds and looking again until
  nobody new turns up (its detector keys on faces and upper bodies: good for large, bent or
  sideways people, blind to people small in the frame). (2) OpenCV's built-in HOG people
  detector proposes boxes; for each one not already covered, BlazePose runs on a padded square
  crop (everyone else greyed out so it locks onto the right person) and the landmarks are mapped
  back to frame pixels. Duplicates (one person reached twice) are merged. Trade-off: every person
  costs one BlazePose call (~20-40 ms here) plus ~20-40 ms of HOG per frame, so time grows with
  the crowd; HOG finds only upright people taller than ~100 px, and seated or half-hidden people
  small in the frame may be missed by both passes. For crowds, use Keypoint R-CNN on a GPU.

Keypoints are COCO-17 (a subset of BlazePose's 33 landmarks), in pixels of the input frame,
clipped to it; the confidence is BlazePose's landmark visibility. A person's score is the mean
visibility of its 17 joints; people scoring below ``score_threshold`` (0.5; the same name as the
other backends' person threshold) are dropped (real
people measured 0.7-0.99, phantoms such as a lone arm ~0.47); boxes span the joints with
visibility >= 0.5.
"""

from __future__ import annotations

import logging
import re
import warnings
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from inference.backends.base import (
    PoseBackend,
    boxes_from_keypoints,
    check_images,
    clip_to_image,
    import_or_unavailable,
)
from inference.backends.native_stderr import filtered_native_stderr
from inference.keypoints import MEDIAPIPE33_TO_COCO17, NUM_KEYPOINTS
from inference.poses import Poses

log = logging.getLogger(__name__)

INSTALL_HINT = "pip install 'mediapipe==0.10.14'  (or: pip install -e '.[mediapipe]')"
_MIN_VISIBLE = 0.5
# What MediaPipe's C++ side prints when a graph first runs; harmless, and nothing a user can act on.
_NATIVE_NOISE = re.compile(
    r"All log messages before absl::InitializeLog\(\)|Feedback manager requires a model with a single "
    r"signature|Created TensorFlow Lite XNNPACK delegate"
)

# Image (BGR uint8) -> person boxes (N, 4) x1, y1, x2, y2 in pixels, most confident first.
PersonDetector = Callable[[np.ndarray], np.ndarray]


class HogPersonDetector:
    """OpenCV's built-in HOG + linear SVM people detector (Dalal-Triggs): no download.

    It finds upright people about 100 px tall or more (its window is 64x128) in the image it
    scans. Frames wider than ``max_width`` are scaled down first: HOG's cost grows with the pixel
    count (measured, 640x480 frame: ~145 ms of CPU at 640 px, ~65 ms at 480 px, ~40 ms at 384 px),
    at the price of missing people who become shorter than ~100 px. ``scale`` is the pyramid step:
    1.05 finds more people than 1.1 at about twice the cost.
    """

    def __init__(
        self, *, max_width: int = 480, scale: float = 1.05, hit_threshold: float = 0.0, nms_iou: float = 0.4
    ) -> None:
        import cv2  # noqa: PLC0415 - OpenCV is a core dependency, but keep `import inference` light

        self._cv2 = cv2
        self._hog = cv2.HOGDescriptor()
        self._hog.setSVMDetector(np.asarray(cv2.HOGDescriptor.getDefaultPeopleDetector(), np.float32))
        self.max_width = max_width
        self.scale = scale
        self.hit_threshold = hit_threshold
        self.nms_iou = nms_iou

    def __call__(self, image: np.ndarray) -> np.ndarray:
        cv2 = self._cv2
        scale = min(1.0, self.max_width / image.shape[1])
        small = (
            cv2.resize(image, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA) if scale < 1 else image
        )
        rects, hog_weights = self._hog.detectMultiScale(
            small, hitThreshold=self.hit_threshold, winStride=(8, 8), padding=(8, 8), scale=self.scale
        )
        if len(rects) == 0:
            return np.zeros((0, 4), np.float32)
        weights = np.ravel(np.asarray(hog_weights, np.float32))
        xywh = np.asarray(rects, np.float32).reshape(-1, 4) / scale
        boxes = np.concatenate([xywh[:, :2], xywh[:, :2] + xywh[:, 2:]], axis=1)
        return _nms(boxes, weights, self.nms_iou)


def _nms(boxes: np.ndarray, scores: np.ndarray, iou_threshold: float) -> np.ndarray:
    """Greedy non-maximum suppression: boxes ``(N, 4)`` best first, overlapping ones dropped."""
    order = list(np.argsort(-scores, kind="stable"))
    areas = (boxes[:, 2] - boxes[:, 0]) * (boxes[:, 3] - boxes[:, 1])
    kept: list[int] = []
    while order:
        best = order.pop(0)
        kept.append(best)
        rest = np.asarray(order, np.int64)
        if len(rest) == 0:
            break
        ix1 = np.maximum(boxes[best, 0], boxes[rest, 0])
        iy1 = np.maximum(boxes[best, 1], boxes[rest, 1])
        ix2 = np.minimum(boxes[best, 2], boxes[rest, 2])
        iy2 = np.minimum(boxes[best, 3], boxes[rest, 3])
        inter = np.clip(ix2 - ix1, 0, None) * np.clip(iy2 - iy1, 0, None)
        iou = inter / np.maximum(areas[best] + areas[rest] - inter, 1e-6)
        order = [int(i) for i, o in zip(rest, iou, strict=True) if o <= iou_threshold]
    return boxes[kept].astype(np.float32)


class MediaPipeBackend(PoseBackend):
    """BlazePose full on the CPU; single person, or multi-person through person crops (see module doc)."""

    name = "mediapipe"

    @classmethod
    def video_options(
        cls,
        *,
        max_people: int | None,
        score_threshold: float,
        input_size: int | None = None,
        precision: str | None = None,
    ) -> dict[str, Any]:
        """One person: follow them frame to frame (stream mode: faster and steadier than a photo per
        frame); several: a photo per frame (stream mode tracks one person only). BlazePose has its
        own input size and runs in float32: ``input_size`` and ``precision`` do not apply."""
        if input_size is not None or precision is not None:
            log.warning("the mediapipe backend ignores input_size and precision (Keypoint R-CNN settings)")
        options = super().video_options(max_people=max_people, score_threshold=score_threshold)
        options["stream_mode"] = options.get("max_people", 1) == 1
        return options

    def __init__(
        self,
        *,
        device: str = "auto",
        max_people: int = 1,
        stream_mode: bool = False,
        min_detection_confidence: float = 0.5,
        min_tracking_confidence: float = 0.5,
        score_threshold: float = 0.5,
        crop_padding: float = 0.2,
        scan_full_frame: bool = True,
        person_detector: PersonDetector | None = None,
    ) -> None:
        if device not in ("auto", "cpu"):
            raise ValueError(
                f"the mediapipe backend runs on the CPU only: device must be 'auto' or 'cpu', got {device!r}"
            )
        if max_people < 1:
            raise ValueError(f"max_people must be >= 1, got {max_people}")
        if stream_mode and max_people > 1:
            raise ValueError(
                "stream_mode=True tracks one person from frame to frame; multi-person mode "
                f"(max_people={max_people}) runs BlazePose per person crop without tracking: pick one"
            )
        for label, value in (("min_detection_confidence", min_detection_confidence),
                             ("min_tracking_confidence", min_tracking_confidence),
                             ("score_threshold", score_threshold)):  # fmt: skip
            if not 0.0 <= value <= 1.0:
                raise ValueError(f"{label} must be in [0, 1], got {value}")
        if not 0.0 <= crop_padding <= 2.0:
            raise ValueError(f"crop_padding must be in [0, 2] (fraction of the box size), got {crop_padding}")
        mp = import_or_unavailable("mediapipe", backend=self.name, install=INSTALL_HINT)
        # MediaPipe's solutions call a protobuf API deprecated in protobuf 4 on every frame.
        warnings.filterwarnings("ignore", message="SymbolDatabase.GetPrototype", category=UserWarning)
        self.device = "cpu"
        self.max_people = max_people
        self.stream_mode = stream_mode
        self.stateful = stream_mode
        self.score_threshold = score_threshold
        self.crop_padding = crop_padding
        self.scan_full_frame = scan_full_frame
        pose_module: Any = mp.solutions.pose  # type: ignore[attr-defined]

        def make(static: bool) -> Any:
            # model_complexity=1 is "full", the only landmark model inside the 0.10.14 wheel;
            # 0 (lite) and 2 (heavy) would be downloaded on first use.
            return pose_module.Pose(
                static_image_mode=static,
                model_complexity=1,
                smooth_landmarks=True,
                enable_segmentation=False,
                min_detection_confidence=min_detection_confidence,
                min_tracking_confidence=min_tracking_confidence,
            )

        # The C++ noise comes from the graph's calculators opening, which runs on MediaPipe's own
        # threads after the constructor returns; process() waits until the whole graph is idle, so one
        # blank frame inside the window catches all of it (and takes the start-up cost off frame 1).
        with filtered_native_stderr(_NATIVE_NOISE, log):
            self._pose: Any = make(static=not stream_mode)
            self._pose.process(np.zeros((128, 128, 3), np.uint8))
        self._detector: PersonDetector | None = None
        if max_people > 1:
            self._detector = person_detector if person_detector is not None else HogPersonDetector()
        self._closed = False

    def infer(self, images: Sequence[np.ndarray]) -> list[Poses]:
        """Frames are processed in order; in stream mode they are consecutive frames of one camera."""
        if self._closed:
            raise RuntimeError("MediaPipeBackend.infer() called after close()")
        check_images(images)
        return [self._infer_one(img) for img in images]

    def close(self) -> None:
        if not self._closed:
            self._closed = True
            self._pose.close()

    # -- one frame -----------------------------------------------------------------------------

    def _infer_one(self, image: np.ndarray) -> Poses:
        height, width = image.shape[:2]
        if self._detector is None:
            found = self._landmarks(image)
            people = [] if found is None else [found]
        else:
            people = self._multi(image, self._detector)
        if not people:
            return Poses.empty()
        kp = np.stack(people).astype(np.float32)
        scores = kp[:, :, 2].mean(axis=1).astype(np.float32)
        order = np.argsort(-scores, kind="stable")[: self.max_people]
        order = order[scores[order] >= self.score_threshold]  # e.g. a limb mistaken for a person
        if len(order) == 0:
            return Poses.empty()
        kp, scores = kp[order], scores[order]
        boxes = boxes_from_keypoints(kp, _MIN_VISIBLE)
        clip_to_image(kp, boxes, height, width)
        return Poses(keypoints=kp, boxes=boxes, scores=scores)

    def _landmarks(self, image: np.ndarray) -> np.ndarray | None:
        """BlazePose on one BGR image: COCO-17 ``(17, 3)`` in that image's pixels, or None."""
        rgb = np.ascontiguousarray(image[:, :, ::-1])
        result = self._pose.process(rgb)
        if result.pose_landmarks is None:
            return None
        lm = result.pose_landmarks.landmark
        height, width = image.shape[:2]
        out = np.empty((NUM_KEYPOINTS, 3), np.float32)
        for j, src in enumerate(MEDIAPIPE33_TO_COCO17):
            point = lm[src]
            out[j] = (point.x * width, point.y * height, point.visibility)
        np.clip(out[:, 2], 0.0, 1.0, out=out[:, 2])
        return out

    def _multi(self, image: np.ndarray, detector: PersonDetector) -> list[np.ndarray]:
        """BlazePose's own detector on the frame first, then a crop per person proposal not yet covered."""
        people: list[np.ndarray] = []
        fill = image.reshape(-1, 3).mean(axis=0).astype(np.uint8)
        work = image.copy()  # everyone found so far greyed out, so nobody is found twice
        if self.scan_full_frame:
            self._scan(work, people, fill)
        proposals = np.asarray(detector(image), np.float32).reshape(-1, 4)
        for i, box in enumerate(proposals):
            if len(people) >= self.max_people:
                break
            if _covered(box, people):
                continue
            crop, x0, y0 = _person_crop(work, box, np.delete(proposals, i, axis=0), self.crop_padding, fill)
            if crop is None:
                continue
            found = self._landmarks(crop)
            if found is not None and self._plausible(found):
                found[:, 0] += x0
                found[:, 1] += y0
                if _add_unless_duplicate(people, found):
                    _grey_out(work, found, fill)
        return people

    def _scan(self, work: np.ndarray, people: list[np.ndarray], fill: np.ndarray) -> None:
        """BlazePose on the whole frame, greying out each person found, until nobody new turns up.

        BlazePose's detector keys on faces and upper bodies, so it finds people HOG misses (bent,
        sideways, partly hidden), but it needs them large in the frame (its input is 224x224).
        """
        for _ in range(self.max_people + 2):  # bounded: a duplicate or phantom is greyed out, then look again
            if len(people) >= self.max_people:
                return
            found = self._landmarks(work)
            if found is None:
                return
            if self._plausible(found):
                _add_unless_duplicate(people, found)
            _grey_out(work, found, fill)

    def _plausible(self, person: np.ndarray) -> bool:
        """A person, not a phantom (a lone limb, a pattern): mean joint visibility >= score_threshold."""
        return float(person[:, 2].mean()) >= self.score_threshold


def _person_crop(
    image: np.ndarray, box: np.ndarray, others: np.ndarray, padding: float, fill: np.ndarray
) -> tuple[np.ndarray | None, int, int]:
    """A square crop around ``box`` padded by ``padding`` x its size, other proposals greyed out.

    BlazePose locks onto the most prominent person in its input; greying out the cores of the
    other proposals (not the padded target box) keeps it on the person this crop is for.
    """
    height, width = image.shape[:2]
    x1, y1, x2, y2 = (float(v) for v in box)
    side = max(x2 - x1, y2 - y1) * (1.0 + 2.0 * padding)
    cx, cy = (x1 + x2) / 2, (y1 + y2) / 2
    cx1, cy1 = max(0, int(cx - side / 2)), max(0, int(cy - side / 2))
    cx2, cy2 = min(width, int(cx + side / 2)), min(height, int(cy + side / 2))
    if cx2 - cx1 < 16 or cy2 - cy1 < 16:
        return None, 0, 0
    crop = image[cy1:cy2, cx1:cx2].copy()
    mask = np.zeros(crop.shape[:2], bool)
    for ox1, oy1, ox2, oy2 in others:
        shrink = 0.15 * (ox2 - ox1)
        _set_rect(mask, ox1 + shrink - cx1, oy1 - cy1, ox2 - shrink - cx1, oy2 - cy1, value=True)
    grow_x, grow_y = 0.1 * (x2 - x1), 0.1 * (y2 - y1)
    _set_rect(mask, x1 - grow_x - cx1, y1 - grow_y - cy1, x2 + grow_x - cx1, y2 + grow_y - cy1, value=False)
    crop[mask] = fill
    return crop, cx1, cy1


def _set_rect(mask: np.ndarray, x1: float, y1: float, x2: float, y2: float, *, value: bool) -> None:
    h, w = mask.shape
    ix1, iy1 = max(0, round(x1)), max(0, round(y1))
    ix2, iy2 = min(w, round(x2)), min(h, round(y2))
    if ix2 > ix1 and iy2 > iy1:
        mask[iy1:iy2, ix1:ix2] = value


def _grey_out(image: np.ndarray, person: np.ndarray, fill: np.ndarray) -> None:
    """Paint a person's box (grown by 10 %) with ``fill`` so BlazePose's detector ignores it."""
    x1, y1, x2, y2 = boxes_from_keypoints(person[None], _MIN_VISIBLE)[0]
    gx, gy = 0.1 * (x2 - x1), 0.1 * (y2 - y1)
    mask = np.zeros(image.shape[:2], bool)
    _set_rect(mask, x1 - gx, y1 - gy, x2 + gx, y2 + gy, value=True)
    image[mask] = fill


def _same_person(a: np.ndarray, b: np.ndarray) -> bool:
    """Two COCO-17 skeletons ``(17, 3)`` describe one person (found from two crops)?

    Joints seen by both with visibility >= 0.5 are compared: most of them within 10 % of the
    larger body's size means the same person. With fewer than three shared joints, a box that
    lies mostly inside the other counts as the same person.
    """
    boxes = boxes_from_keypoints(np.stack([a, b]), _MIN_VISIBLE)
    sizes = np.hypot(boxes[:, 2] - boxes[:, 0], boxes[:, 3] - boxes[:, 1])
    shared = (a[:, 2] >= _MIN_VISIBLE) & (b[:, 2] >= _MIN_VISIBLE)
    if shared.sum() >= 3:
        dist = np.hypot(*(a[shared, :2] - b[shared, :2]).T)
        return bool(np.mean(dist < 0.1 * max(float(sizes.max()), 1.0)) >= 0.5)
    (ax1, ay1, ax2, ay2), (bx1, by1, bx2, by2) = boxes
    inter = max(0.0, min(ax2, bx2) - max(ax1, bx1)) * max(0.0, min(ay2, by2) - max(ay1, by1))
    smaller = min((ax2 - ax1) * (ay2 - ay1), (bx2 - bx1) * (by2 - by1))
    return smaller > 0 and inter / smaller > 0.7


def _add_unless_duplicate(people: list[np.ndarray], found: np.ndarray) -> bool:
    """Append ``found`` (True), or let it replace a duplicate it sees more of (False)."""
    for i, other in enumerate(people):
        if _same_person(found, other):
            if found[:, 2].sum() > other[:, 2].sum():
                people[i] = found
            return False
    people.append(found)
    return True


def _covered(box: np.ndarray, people: list[np.ndarray]) -> bool:
    """Does a proposal lie mostly (> 50 %) inside the box of someone already found?"""
    if not people:
        return False
    x1, y1, x2, y2 = (float(v) for v in box)
    area = max((x2 - x1) * (y2 - y1), 1e-6)
    for px1, py1, px2, py2 in boxes_from_keypoints(np.stack(people), _MIN_VISIBLE):
        inter = max(0.0, min(x2, px2) - max(x1, px1)) * max(0.0, min(y2, py2) - max(y1, py1))
        if inter / area > 0.5:
            return True
    return False
