"""Pascal VOC average precision at one IoU threshold (default 0.5), per class and mean.

The matching is the VOC devkit's (``voc_eval``), which differs from COCO's: a detection
(all classes' detections sorted by score, highest first) is compared with *every* object
of its class in its image, and takes the one with the highest IoU (ties: the first in file
order), matched or not. If that IoU is > the threshold (strictly): a ``difficult``
(`GroundTruth.ignore`, and here also crowd) object makes the detection neither TP nor FP;
an object not yet found makes it a TP; a found one makes it a FP (duplicate). Otherwise FP.
Then ``recall = tp / npos`` (npos: objects not ignored), ``precision = tp / max(tp + fp, eps)``:

- VOC2007 (``use_07_metric``): the mean over t in {0, 0.1, ..., 1} of the highest precision
  at recall >= t (11 points);
- VOC2010+ : the area under the precision envelope (made monotone from the right), at every
  point where recall changes ("all points").

IoU: by default the continuous one of our x,y,w,h boxes (`cvdemo.datasets` converts VOC's
1-based inclusive corners, so it equals the devkit's "+1" IoU on the original xml corners).
``legacy_plus_one=True`` adds the devkit's +1 to widths and heights of our boxes, as tools do
that feed continuous corners to the devkit formula (mmdetection's ``use_legacy_coordinate``).
Ties in score are broken by file order (the devkit's unstable sort leaves them undefined).
A class without objects gets AP NaN and is left out of the mean.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from cvdemo.datasets.structure import Detections, GroundTruth
from cvdemo.metrics.greedy_matching import build_pair_table, greedy_order, index_in, iou_xywh_coco

__all__ = ["VocEvaluation", "evaluate_voc", "voc_ap", "iou_xywh_voc_legacy"]


def voc_ap(recall: np.ndarray, precision: np.ndarray, use_07_metric: bool = False) -> float:
    """The devkit's ``voc_ap``: AP from cumulative ``recall`` and ``precision`` (``float64[D]``)."""
    recall, precision = np.asarray(recall, np.float64), np.asarray(precision, np.float64)
    if use_07_metric:
        ap = 0.0
        for t in np.arange(0.0, 1.1, 0.1):  # the devkit's own thresholds, 0.30000000000000004 included
            above = recall >= t
            ap = ap + (float(np.max(precision[above])) if above.any() else 0.0) / 11.0
        return ap
    mrec = np.concatenate(([0.0], recall, [1.0]))
    mpre = np.maximum.accumulate(np.concatenate(([0.0], precision, [0.0]))[::-1])[::-1]
    i = np.flatnonzero(mrec[1:] != mrec[:-1])
    return float(np.sum((mrec[i + 1] - mrec[i]) * mpre[i + 1]))


def iou_xywh_voc_legacy(dets: np.ndarray, gts: np.ndarray, crowd: np.ndarray | None = None) -> np.ndarray:
    """The devkit's IoU formula (+1 on every width and height) on corners ``(x, y, x + w, y + h)``.

    Broadcasts like `iou_xywh_coco`; ``crowd`` is accepted and not used (VOC has no crowd).
    """
    dx1, dy1 = dets[..., 0], dets[..., 1]
    dx2, dy2 = dx1 + dets[..., 2], dy1 + dets[..., 3]
    gx1, gy1 = gts[..., 0], gts[..., 1]
    gx2, gy2 = gx1 + gts[..., 2], gy1 + gts[..., 3]
    iw = np.maximum(np.minimum(dx2, gx2) - np.maximum(dx1, gx1) + 1.0, 0.0)
    ih = np.maximum(np.minimum(dy2, gy2) - np.maximum(dy1, gy1) + 1.0, 0.0)
    inter = iw * ih
    union = (dx2 - dx1 + 1.0) * (dy2 - dy1 + 1.0) + (gx2 - gx1 + 1.0) * (gy2 - gy1 + 1.0) - inter
    return inter / union


def _ordinary_iou(dets: np.ndarray, gts: np.ndarray, crowd: np.ndarray) -> np.ndarray:
    return iou_xywh_coco(dets, gts, np.zeros_like(crowd))


@dataclass
class VocEvaluation:
    """Per class (K, sorted ids): AP both ways, object counts, and the PR curve points."""

    iou_threshold: float
    category_ids: np.ndarray  # int64[K]
    category_names: dict[int, str]
    num_gt: np.ndarray  # int64[K] objects that count (not difficult)
    ap07: np.ndarray  # float64[K] VOC2007 11-point AP, NaN without objects
    ap12: np.ndarray  # float64[K] VOC2010+ all-point AP, NaN without objects
    recall: list[np.ndarray]  # per class float64[D_k], cumulative, detections by score
    precision: list[np.ndarray]  # per class float64[D_k]

    @property
    def map07(self) -> float:
        """Mean VOC2007 AP over classes with objects (NaN if none has)."""
        return float(np.nanmean(self.ap07)) if np.isfinite(self.ap07).any() else float("nan")

    @property
    def map12(self) -> float:
        """Mean VOC2010+ AP over classes with objects (NaN if none has)."""
        return float(np.nanmean(self.ap12)) if np.isfinite(self.ap12).any() else float("nan")


def evaluate_voc(gt: GroundTruth, dt: Detections, iou_threshold: float = 0.5,
                 legacy_plus_one: bool = False) -> VocEvaluation:
    """VOC AP of ``dt`` against ``gt`` (see the module docstring for every rule)."""
    if not 0 < iou_threshold < 1:
        raise ValueError(f"iou_threshold must be in (0, 1), got {iou_threshold}")
    img_ids, cat_ids = np.unique(gt.image_id_array), np.unique(gt.category_id_array)
    g_k, k_ok = index_in(cat_ids, gt.category_ids)
    g_i, i_ok = index_in(img_ids, gt.image_ids)
    gt_sel = np.flatnonzero(k_ok & i_ok)
    d_k, dk_ok = index_in(cat_ids, dt.category_ids)
    d_i, di_ok = index_in(img_ids, dt.image_ids)
    det_sel = np.flatnonzero(dk_ok & di_ok)
    group = d_k * len(img_ids) + d_i
    order, _ = greedy_order(det_sel, group, dt.scores)
    gt_group = g_k[gt_sel] * len(img_ids) + g_i[gt_sel]
    table = build_pair_table(order, group[order], dt.boxes_xywh, gt_sel, gt_group, gt.boxes_xywh,
                             np.zeros(len(gt), bool), min_iou=iou_threshold,
                             iou_fn=iou_xywh_voc_legacy if legacy_plus_one else _ordinary_iou)
    # best object of each detection (first in file order on ties, like np.argmax in the devkit)
    best_gt = np.full(len(dt), -1, np.int64)
    for det_index, gt_index, ious in table.rows():
        j = np.argmax(ious, axis=1)
        hit = ious[np.arange(len(j)), j] > iou_threshold
        best_gt[det_index[hit]] = gt_index[np.flatnonzero(hit), j[hit]]
    difficult = gt.ignore | gt.iscrowd

    # per class, all images: detections by score (stable), the first to reach an object wins it
    seq = det_sel[np.lexsort((det_sel, -dt.scores[det_sel], d_k[det_sel]))]
    target = best_gt[seq]  # -1: no object above the threshold
    on_difficult = np.append(difficult, False)[target]
    candidates = np.flatnonzero((target >= 0) & ~on_difficult)
    _, first = np.unique(target[candidates], return_index=True)
    tp = np.zeros(len(seq), bool)
    tp[candidates[first]] = True
    fp = ~tp & ~on_difficult

    K = len(cat_ids)
    num_gt = np.bincount(g_k[gt_sel], weights=~difficult[gt_sel], minlength=K).astype(np.int64)
    bounds = np.searchsorted(d_k[seq], np.arange(K + 1))
    ap07, ap12 = np.full(K, np.nan), np.full(K, np.nan)
    recalls, precisions = [], []
    for k in range(K):
        tp_cum = np.cumsum(tp[bounds[k]:bounds[k + 1]]).astype(np.float64)
        fp_cum = np.cumsum(fp[bounds[k]:bounds[k + 1]]).astype(np.float64)
        rec = tp_cum / num_gt[k] if num_gt[k] else np.zeros_like(tp_cum)
        prec = tp_cum / np.maximum(tp_cum + fp_cum, np.finfo(np.float64).eps)
        recalls.append(rec)
        precisions.append(prec)
        if num_gt[k]:
            ap07[k], ap12[k] = voc_ap(rec, prec, True), voc_ap(rec, prec, False)
    return VocEvaluation(iou_threshold=iou_threshold, category_ids=cat_ids,
                         category_names={c.id: c.name for c in gt.categories}, num_gt=num_gt, ap07=ap07,
                         ap12=ap12, recall=recalls, precision=precisions)
