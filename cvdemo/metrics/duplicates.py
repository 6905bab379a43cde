"""Duplicate detections: boxes of an object that a better-scoring box of the same class already found.

DETR's claim is that one-to-one matching teaches its queries to suppress each other, so it needs no NMS; a
model that still makes duplicates has not learnt that yet (its decoder layers are too few or too little
trained). `count_duplicates` measures it the way a viewer sees it on the screen: the detections kept at a score
threshold are visited best score first; each takes the best-overlapping object of its class (IoU >=
``iou_threshold``) that no earlier detection took; one whose objects of that IoU are all taken already is a
**duplicate**; one that overlaps no object of its class enough is another false positive (wrong class, poor
box or background: TIDE tells those apart). Counts per image add up over images.

Inputs per image (e.g. `cvdemo.training.events.ImagePrediction`): ``boxes_xyxy [N, 4]`` pixel xyxy, ``labels
[N]``, ``scores [N]`` of the detections (any order), ``gt_boxes_xyxy [M, 4]``, ``gt_labels [M]`` of the objects.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from cvdemo.boxes import box_iou_xyxy
from cvdemo.metrics.score_threshold import ImageDetections

__all__ = ["DuplicateCounts", "count_duplicates"]


@dataclass(frozen=True)
class DuplicateCounts:
    """``found`` objects found (once), ``duplicates`` extra boxes of found objects, ``other_false`` kept boxes that
    find no object of their class, over ``num_objects`` objects of ``num_images`` images."""

    found: int
    duplicates: int
    other_false: int
    num_objects: int
    num_images: int

    @property
    def duplicate_rate(self) -> float:
        """Duplicates per object (the issue's measure: <= 0.10 for a DETR that needs no NMS)."""
        return self.duplicates / self.num_objects if self.num_objects else 0.0


def _one_image(image: ImageDetections, score_threshold: float, iou_threshold: float) -> tuple[int, int, int, int]:
    scores = np.asarray(image.scores, np.float64).reshape(-1)
    order = [i for i in np.argsort(-scores, kind="stable") if scores[i] >= score_threshold]
    gt_labels = np.asarray(image.gt_labels).reshape(-1)
    gt_boxes = np.asarray(image.gt_boxes_xyxy, np.float64).reshape(-1, 4)
    labels = np.asarray(image.labels).reshape(-1)
    boxes = np.asarray(image.boxes_xyxy, np.float64).reshape(-1, 4)
    taken = np.zeros(len(gt_labels), bool)
    found = duplicates = other = 0
    ious = box_iou_xyxy(boxes[order], gt_boxes) if order and len(gt_labels) else np.zeros((len(order), 0))
    for row, d in enumerate(order):
        close = (gt_labels == labels[d]) & (ious[row] >= iou_threshold) if len(gt_labels) else np.zeros(0, bool)
        free = close & ~taken
        if free.any():
            taken[int(np.argmax(np.where(free, ious[row], -1.0)))] = True
            found += 1
        elif close.any():
            duplicates += 1
        else:
            other += 1
    return found, duplicates, other, len(gt_labels)


def count_duplicates(images: Sequence[ImageDetections], score_threshold: float = 0.5,
                     iou_threshold: float = 0.5) -> DuplicateCounts:
    """`DuplicateCounts` of the detections scoring >= ``score_threshold`` (see the module docstring)."""
    totals = np.zeros(4, np.int64)
    for image in images:
        totals += _one_image(image, score_threshold, iou_threshold)
    found, duplicates, other, objects = (int(v) for v in totals)
    return DuplicateCounts(found, duplicates, other, objects, len(images))
