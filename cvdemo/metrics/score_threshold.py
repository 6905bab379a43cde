"""The score threshold at which a detector shows its detections best: counts of right and wrong boxes per threshold.

A DETR trained for a few minutes is often right with low confidence: at the Detect tab's default threshold
(0.5) it may show nothing at all. `threshold_counts` matches the detections of a few validation images to
their objects once and reads, for every threshold of the app's slider (0.00, 0.01, ... 0.99; a detection is
shown when its score is *above* the threshold, as `DetectionRun.kept`), how many shown boxes are right (TP),
wrong (FP) and how many objects are left without a right box (FN); `best_threshold` picks the one with the
highest F1 = 2 TP / (2 TP + FP + FN), the higher threshold on a tie (fewer boxes on the screen).

Matching, per image, as COCO's at one IoU threshold: detections in descending score order each take the
not-yet-taken object of the same class with the highest IoU >= ``iou_threshold``; the rest are false
positives. Because a higher threshold keeps a prefix of that order, one matching serves every threshold.

Inputs per image (`ImageDetections`): ``boxes_xyxy [N, 4]`` pixel xyxy, ``labels [N]``, ``scores [N]`` of the
detections (any order), ``gt_boxes_xyxy [M, 4]``, ``gt_labels [M]`` of the objects.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

import numpy as np

from cvdemo.boxes import box_iou_xyxy

__all__ = ["ImageDetections", "ThresholdCounts", "best_threshold", "slider_thresholds", "threshold_counts"]


class ImageDetections(Protocol):
    """One image's detections and objects (e.g. `cvdemo.training.events.ImagePrediction`)."""

    boxes_xyxy: np.ndarray
    labels: np.ndarray
    scores: np.ndarray
    gt_boxes_xyxy: np.ndarray
    gt_labels: np.ndarray


@dataclass(frozen=True)
class ThresholdCounts:
    """What a threshold shows on the images: ``tp`` right boxes, ``fp`` wrong ones, ``fn`` objects without a
    right box (``tp + fn`` = the objects), over ``num_images`` images."""

    threshold: float
    tp: int
    fp: int
    fn: int
    num_images: int

    @property
    def f1(self) -> float:
        denominator = 2 * self.tp + self.fp + self.fn
        return 2 * self.tp / denominator if denominator else 0.0

    @property
    def num_objects(self) -> int:
        return self.tp + self.fn


def slider_thresholds(step: float = 0.01) -> np.ndarray:
    """0.00, 0.01, ... 0.99: the values of a 0..1 slider with ``step`` below 1 (1.0 shows nothing)."""
    count = int(round(1 / step))
    return np.round(np.arange(count) * step, 6)


def _true_positive_flags(image: ImageDetections, iou_threshold: float) -> tuple[np.ndarray, np.ndarray]:
    """(scores, tp flags) of one image's detections in descending score order, greedily matched."""
    scores = np.asarray(image.scores, np.float64).reshape(-1)
    order = np.argsort(-scores, kind="stable")
    labels = np.asarray(image.labels).reshape(-1)[order]
    boxes = np.asarray(image.boxes_xyxy, np.float64).reshape(-1, 4)[order]
    gt_labels = np.asarray(image.gt_labels).reshape(-1)
    gt_boxes = np.asarray(image.gt_boxes_xyxy, np.float64).reshape(-1, 4)
    flags = np.zeros(len(order), bool)
    if len(order) and len(gt_labels):
        ious = box_iou_xyxy(boxes, gt_boxes)
        taken = np.zeros(len(gt_labels), bool)
        for d in range(len(order)):
            candidates = np.where((gt_labels == labels[d]) & ~taken & (ious[d] >= iou_threshold), ious[d], -1.0)
            best = int(np.argmax(candidates))
            if candidates[best] >= 0:
                taken[best] = flags[d] = True
    return scores[order], flags


def threshold_counts(images: Sequence[ImageDetections], thresholds: Sequence[float] | np.ndarray | None = None,
                     iou_threshold: float = 0.5) -> list[ThresholdCounts]:
    """`ThresholdCounts` at each threshold (default: `slider_thresholds`), detections kept when score > t."""
    thresholds = slider_thresholds() if thresholds is None else np.asarray(thresholds, np.float64)
    scores, flags, objects = [], [], 0
    for image in images:
        s, f = _true_positive_flags(image, iou_threshold)
        scores.append(s)
        flags.append(f)
        objects += len(np.asarray(image.gt_labels).reshape(-1))
    all_scores = np.concatenate(scores) if scores else np.zeros(0)
    all_flags = np.concatenate(flags) if flags else np.zeros(0, bool)
    out = []
    for t in thresholds:
        kept = all_scores > t
        tp = int(all_flags[kept].sum())
        out.append(ThresholdCounts(float(t), tp, int(kept.sum()) - tp, objects - tp, len(images)))
    return out


def best_threshold(images: Sequence[ImageDetections], iou_threshold: float = 0.5) -> ThresholdCounts:
    """The slider threshold with the highest F1 on ``images`` (the highest such threshold on a tie)."""
    counts = threshold_counts(images, iou_threshold=iou_threshold)
    return max(reversed(counts), key=lambda c: c.f1)
