"""Per-object assignment: each detection TP, FP or ignored; each object found, missed or ignored.

This is the data behind a viewer that colours boxes, at any IoU and score threshold:

    assigner = ObjectAssigner(ground_truth, detections)   # IoUs computed once (the slow part)
    a = assigner.assign(iou_threshold=0.5, score_threshold=0.3)   # greedy pass only: fast
    a.det_status[i] == TP; a.det_gt[i] (row of the matched object); a.det_iou[i]

The rules are COCO's (`cvdemo.metrics.greedy_matching`), at one IoU threshold, for one
area range (default: all), per (image, category), the top ``max_dets`` detections by score:
it is pycocotools' ``evalImgs`` for that threshold, object by object. Detections below
``score_threshold`` take no part at all, as if they had not been submitted.

Statuses (``int8``):

- detections: ``FP`` 0, ``TP`` 1, ``IGNORED`` 2 (matched a crowd region or another ignored
  object, or unmatched and outside the area range: neither TP nor FP), ``SKIPPED`` 3 (below
  the score threshold, or beyond ``max_dets`` in its image and category);
- objects: ``MISSED`` 0 (a false negative), ``FOUND`` 1, ``IGNORED`` 2 (crowd, ``ignore`` with
  ``use_ignore_flag``, or outside the area range: never a miss, whether matched or not).
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from cvdemo.datasets.structure import Detections, GroundTruth
from cvdemo.metrics.greedy_matching import (
    build_pair_table,
    greedy_match,
    greedy_order,
    index_in,
    iou_xywh_coco,
)

__all__ = ["FP", "TP", "IGNORED", "SKIPPED", "MISSED", "FOUND", "Assignment", "ObjectAssigner"]

FP, TP, IGNORED, SKIPPED = 0, 1, 2, 3  # detection status
MISSED, FOUND = 0, 1  # object status (IGNORED = 2 as well)


@dataclass
class Assignment:
    """The outcome of `ObjectAssigner.assign`; arrays aligned with the detections (M) and objects (N)."""

    iou_threshold: float
    score_threshold: float
    det_status: np.ndarray  # int8[M] FP / TP / IGNORED / SKIPPED
    det_gt: np.ndarray  # int64[M] row (in GroundTruth) of the matched object, -1 if none
    det_iou: np.ndarray  # float64[M] IoU with the matched object (crowd: inter / area(det)), 0 if none
    gt_status: np.ndarray  # int8[N] MISSED / FOUND / IGNORED
    gt_det: np.ndarray  # int64[N] the detection that matched it (crowd: the last of them), -1 if none

    def counts(self) -> dict[str, int]:
        """``{"tp", "fp", "fn", "ignored_dets", "skipped_dets", "ignored_gts"}``."""
        det = np.bincount(self.det_status, minlength=4)
        gt = np.bincount(self.gt_status, minlength=3)
        return {"tp": int(det[TP]), "fp": int(det[FP]), "fn": int(gt[MISSED]),
                "ignored_dets": int(det[IGNORED]), "skipped_dets": int(det[SKIPPED]),
                "ignored_gts": int(gt[IGNORED])}


class ObjectAssigner:
    """Caches every IoU that can matter, then assigns at any threshold with the greedy pass only.

    Args:
        gt, dt: ground truth and detections (`cvdemo.datasets`).
        max_dets: detections kept per (image, category), by score (COCO: 100); None keeps all.
        area_range: ``(lo, hi)`` inclusive, on the GT ``area`` field and the detection's w*h;
            the default is COCO's "all".
        use_ignore_flag: treat `GroundTruth.ignore` (VOC difficult) as ignored objects.
        min_iou: the lowest IoU threshold `assign` will accept; pairs below it are not kept
            (lower means more memory and a slower pass).
    """

    def __init__(self, gt: GroundTruth, dt: Detections, *, max_dets: int | None = 100,
                 area_range: tuple[float, float] = (0.0, 1e5**2), use_ignore_flag: bool = False,
                 min_iou: float = 0.1) -> None:
        self.gt, self.dt, self.min_iou = gt, dt, min_iou
        img_ids, cat_ids = np.unique(gt.image_id_array), np.unique(gt.category_id_array)
        g_k, k_ok = index_in(cat_ids, gt.category_ids)
        g_i, i_ok = index_in(img_ids, gt.image_ids)
        gt_sel = np.flatnonzero(k_ok & i_ok)
        d_k, dk_ok = index_in(cat_ids, dt.category_ids)
        d_i, di_ok = index_in(img_ids, dt.image_ids)
        group = d_k * len(img_ids) + d_i
        order, rank = greedy_order(np.flatnonzero(dk_ok & di_ok), group, dt.scores)
        if max_dets is not None:
            order = order[rank < max_dets]
        self._evaluated = np.zeros(len(dt), bool)
        self._evaluated[order] = True
        self._table = build_pair_table(order, group[order], dt.boxes_xywh, gt_sel, g_k[gt_sel] * len(img_ids)
                                       + g_i[gt_sel], gt.boxes_xywh, gt.iscrowd, min_iou=min_iou)
        lo, hi = area_range
        self._gt_ignored = (gt.iscrowd | (gt.ignore if use_ignore_flag else False) | (gt.areas < lo)
                            | (gt.areas > hi))
        self._gt_ignored[np.setdiff1d(np.arange(len(gt)), gt_sel)] = True
        det_area = dt.boxes_xywh[:, 2] * dt.boxes_xywh[:, 3]
        self._det_outside = (det_area < lo) | (det_area > hi)
        # rows sorted by image (stable: file order within an image), and those image ids
        self._by_image = [(order, ids[order]) for ids in (dt.image_ids, gt.image_ids)
                          for order in [np.argsort(ids, kind="stable")]]

    def rows_of_image(self, image_id: int) -> tuple[np.ndarray, np.ndarray]:
        """``(det_rows, gt_rows)``: the detections and objects of one image, in file order,
        to index an `Assignment`'s arrays with (a viewer's per-image lookup, without a scan)."""
        det_rows, gt_rows = (order[np.searchsorted(ids, image_id):np.searchsorted(ids, image_id, "right")]
                             for order, ids in self._by_image)
        return det_rows, gt_rows

    def assign(self, iou_threshold: float = 0.5, score_threshold: float = 0.0) -> Assignment:
        """Assign every detection and object at these thresholds (detections: score >= threshold)."""
        if not self.min_iou <= iou_threshold <= 1:
            raise ValueError(f"iou_threshold must be in [{self.min_iou}, 1] (the assigner's min_iou), "
                             f"got {iou_threshold}")
        active = self._evaluated & (self.dt.scores >= score_threshold)
        match = greedy_match(self._table, np.array([iou_threshold]), self._gt_ignored[None], active)[0, 0]
        matched = np.flatnonzero(match >= 0)
        det_gt = match.astype(np.int64)
        det_status = np.where(self._det_outside, IGNORED, FP).astype(np.int8)
        det_status[matched] = np.where(self._gt_ignored[det_gt[matched]], IGNORED, TP)
        det_status[~active] = SKIPPED
        det_iou = np.zeros(len(self.dt))
        g = det_gt[matched]
        det_iou[matched] = iou_xywh_coco(self.dt.boxes_xywh[matched], self.gt.boxes_xywh[g],
                                         self.gt.iscrowd[g])

        # a crowd region can absorb several detections: keep the last, as pycocotools' gtMatches
        gt_det = np.full(len(self.gt), -1, np.int64)
        last_first = matched[np.argsort(-self.dt.scores[matched], kind="stable")][::-1]
        targets, first = np.unique(det_gt[last_first], return_index=True)
        gt_det[targets] = last_first[first]
        gt_status = np.where(self._gt_ignored, IGNORED, np.where(gt_det >= 0, FOUND, MISSED)).astype(np.int8)
        return Assignment(iou_threshold=iou_threshold, score_threshold=score_threshold, det_status=det_status,
                          det_gt=det_gt, det_iou=det_iou, gt_status=gt_status, gt_det=gt_det)
