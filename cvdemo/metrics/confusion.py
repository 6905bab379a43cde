"""Detection confusion matrix, background included.

Detections at or above ``score_threshold`` are matched to objects of *any* class, image by
image, with COCO's greedy rule (`cvdemo.metrics.greedy_matching`: highest score first, each
takes the unmatched object with the highest IoU >= ``iou_threshold``; crowd regions are
ignored and absorb detections without counting). Then:

- a detection matched to an object counts at ``[object class, detection class]`` (the
  diagonal is correct, off-diagonal a confusion);
- an object nobody matched counts at ``[object class, background]`` (a miss);
- a detection that matched nothing counts at ``[background, detection class]`` (a false alarm).

``matrix int64[K + 1, K + 1]``: rows are the true class, columns the predicted class, in
``category_ids`` order, the last row and column being background. Because matching ignores
the class, a confident wrong-class detection takes the object before a correct one can; this
is what the matrix is meant to show.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from cvdemo.datasets.structure import Detections, GroundTruth
from cvdemo.metrics.greedy_matching import build_pair_table, greedy_match, greedy_order, index_in

__all__ = ["AgnosticMatch", "ConfusionMatrix", "agnostic_match", "confusion_matrix"]


@dataclass
class ConfusionMatrix:
    """Counts, rows = true class, columns = predicted class; last row/column = background."""

    category_ids: np.ndarray  # int64[K], the order of rows and columns
    category_names: dict[int, str]
    matrix: np.ndarray  # int64[K + 1, K + 1]
    iou_threshold: float
    score_threshold: float

    @property
    def labels(self) -> list[str]:
        """Row/column labels: category names, then "background"."""
        return [self.category_names.get(int(c), str(c)) for c in self.category_ids] + ["background"]


@dataclass
class AgnosticMatch:
    """The class-agnostic matching behind the confusion matrix, detection by detection and object by object.

    ``det_gt int64[M]``: the object each detection matched (any class), -1 if none; ``det_kept bool[M]``: the
    detection took part (score >= threshold, its image and class in the ground truth); ``gt_counted bool[N]``:
    the object counts (not crowd / ignored, its image and class in the ground truth); ``gt_det int64[N]``: the
    detection that matched a counted object, -1 if none.
    """

    det_gt: np.ndarray
    det_kept: np.ndarray
    gt_counted: np.ndarray
    gt_det: np.ndarray


def agnostic_match(gt: GroundTruth, dt: Detections, *, iou_threshold: float = 0.5, score_threshold: float = 0.5,
                   use_ignore_flag: bool = False) -> AgnosticMatch:
    """COCO's greedy matching of the detections to objects of any class, image by image (module docstring)."""
    if not 0 < iou_threshold <= 1:
        raise ValueError(f"iou_threshold must be in (0, 1], got {iou_threshold}")
    img_ids, cat_ids = np.unique(gt.image_id_array), np.unique(gt.category_id_array)
    _, k_ok = index_in(cat_ids, gt.category_ids)
    g_i, i_ok = index_in(img_ids, gt.image_ids)
    gt_sel = np.flatnonzero(k_ok & i_ok)
    _, dk_ok = index_in(cat_ids, dt.category_ids)
    d_i, di_ok = index_in(img_ids, dt.image_ids)
    det_kept = dk_ok & di_ok & (dt.scores >= score_threshold)
    order, _ = greedy_order(np.flatnonzero(det_kept), d_i, dt.scores)
    table = build_pair_table(order, d_i[order], dt.boxes_xywh, gt_sel, g_i[gt_sel], gt.boxes_xywh, gt.iscrowd,
                             min_iou=min(iou_threshold, 1 - 1e-10))
    ignored = gt.iscrowd | (gt.ignore if use_ignore_flag else False)
    det_gt = greedy_match(table, np.array([iou_threshold]), ignored[None])[0, 0].astype(np.int64)
    gt_counted = np.zeros(len(gt), bool)
    gt_counted[gt_sel] = True
    gt_counted &= ~ignored
    gt_det = np.full(len(gt), -1, np.int64)
    on_counted = np.flatnonzero((det_gt >= 0) & np.append(gt_counted, False)[det_gt])
    gt_det[det_gt[on_counted]] = on_counted  # a counted (non-crowd) object is matched at most once
    return AgnosticMatch(det_gt=det_gt, det_kept=det_kept, gt_counted=gt_counted, gt_det=gt_det)


def confusion_matrix(gt: GroundTruth, dt: Detections, *, iou_threshold: float = 0.5,
                     score_threshold: float = 0.5, use_ignore_flag: bool = False) -> ConfusionMatrix:
    """The confusion matrix of ``dt`` against ``gt`` (see the module docstring).

    ``use_ignore_flag`` also ignores `GroundTruth.ignore` objects (VOC difficult) like crowd.
    """
    m = agnostic_match(gt, dt, iou_threshold=iou_threshold, score_threshold=score_threshold,
                       use_ignore_flag=use_ignore_flag)
    cat_ids = np.unique(gt.category_id_array)
    K = len(cat_ids)
    g_k, _ = index_in(cat_ids, gt.category_ids)
    d_k, _ = index_in(cat_ids, dt.category_ids)
    matrix = np.zeros((K + 1, K + 1), np.int64)
    hit = m.det_kept & (m.det_gt >= 0)
    counted = hit & np.append(m.gt_counted, False)[m.det_gt]  # det_gt -1 reads the appended entry
    np.add.at(matrix, (g_k[m.det_gt[counted]], d_k[counted]), 1)
    np.add.at(matrix, (K, d_k[m.det_kept & (m.det_gt < 0)]), 1)
    np.add.at(matrix, (g_k[m.gt_counted & (m.gt_det < 0)], K), 1)
    return ConfusionMatrix(category_ids=cat_ids, category_names={c.id: c.name for c in gt.categories},
                           matrix=matrix, iou_threshold=iou_threshold, score_threshold=score_threshold)
