"""TIDE-style error breakdown: why each false positive is one, and which objects were missed.

After Bolya et al., "TIDE: A General Toolbox for Identifying Object Detection Errors"
(ECCV 2020), with its error definitions and its order of tests, counted object by object
(TIDE also reports how much AP fixing each type would gain; we give the counts and the
per-detection labels a viewer needs). Detections are first assigned with COCO's rules at
the foreground threshold ``fg`` (`cvdemo.metrics.assignment`). Then each false positive,
against the non-ignored objects of its image, is (first test that holds):

1. ``LOC``: an object of its class overlaps it with ``bg <= IoU <= fg`` (badly localised);
2. ``CLS``: an object of another class overlaps it with IoU >= fg (wrong class);
3. ``DUPE``: an object of its class that another detection already found overlaps it with
   IoU >= fg (a duplicate);
4. ``BKG``: no object overlaps it with IoU > bg (it fired on background);
5. ``BOTH``: anything else (wrong class *and* badly localised).

An object no detection found is ``missed`` unless a LOC or CLS error points at it (the
object with the highest IoU in that test), as in TIDE. IoU is the ordinary one; crowd and
ignored objects are handled by the COCO assignment (detections on them are ignored).
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from cvdemo.datasets.structure import Detections, GroundTruth
from cvdemo.metrics.assignment import FOUND, FP, IGNORED, MISSED, ObjectAssigner
from cvdemo.metrics.greedy_matching import build_pair_table, index_in

__all__ = ["ERROR_NAMES", "NO_ERROR", "LOC", "CLS", "DUPE", "BKG", "BOTH", "TideBreakdown", "tide_errors"]

NO_ERROR, LOC, CLS, DUPE, BKG, BOTH = -1, 0, 1, 2, 3, 4
ERROR_NAMES = ("loc", "cls", "dupe", "bkg", "both")


@dataclass
class TideBreakdown:
    """Per detection error type (``int8[M]``: -1 if not a FP, else LOC/CLS/DUPE/BKG/BOTH), the
    object each LOC/CLS error points at (``int64[M]``, -1), and ``missed bool[N]``."""

    det_error: np.ndarray
    det_error_gt: np.ndarray
    missed: np.ndarray
    fg_threshold: float
    bg_threshold: float

    def counts(self) -> dict[str, int]:
        """``{"loc", "cls", "dupe", "bkg", "both", "missed"}`` counts."""
        counts = np.bincount(self.det_error[self.det_error >= 0], minlength=len(ERROR_NAMES))
        return {**dict(zip(ERROR_NAMES, counts.tolist())), "missed": int(self.missed.sum())}


def _max_where(mask: np.ndarray, ious: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Row-wise max of ``ious`` where ``mask`` (-1 if none) and its first argmax."""
    values = np.where(mask, ious, -1.0)
    arg = np.argmax(values, axis=1)
    return values[np.arange(len(arg)), arg], arg


def tide_errors(gt: GroundTruth, dt: Detections, *, fg_threshold: float = 0.5, bg_threshold: float = 0.1,
                score_threshold: float = 0.0, max_dets: int | None = 100,
                assigner: ObjectAssigner | None = None) -> TideBreakdown:
    """The TIDE error type of every false positive and the missed objects (module docstring).

    ``assigner`` may be passed to reuse its cached IoUs (its ``min_iou`` must be <= fg).
    """
    if not 0 < bg_threshold < fg_threshold <= 1:
        raise ValueError(f"need 0 < bg_threshold < fg_threshold <= 1, got {bg_threshold}, {fg_threshold}")
    assigner = assigner or ObjectAssigner(gt, dt, max_dets=max_dets, min_iou=min(fg_threshold, 0.1))
    a = assigner.assign(fg_threshold, score_threshold)
    fps = np.flatnonzero(a.det_status == FP)
    counted = np.flatnonzero(a.gt_status != IGNORED)
    found = a.gt_status == FOUND

    # overlaps of every FP with every counted object of its image, any class
    img_ids = np.unique(gt.image_id_array)
    g_i, _ = index_in(img_ids, gt.image_ids)
    d_i, _ = index_in(img_ids, dt.image_ids)
    table = build_pair_table(fps, d_i[fps], dt.boxes_xywh, counted, g_i[counted], gt.boxes_xywh,
                             np.zeros(len(gt), bool), min_iou=bg_threshold)
    det_error = np.full(len(dt), NO_ERROR, np.int8)
    det_error[fps] = BKG  # no counted object with IoU >= bg at all: the rows the table dropped
    det_error_gt = np.full(len(dt), -1, np.int64)
    for det_index, gt_index, ious in table.rows():
        valid = gt_index >= 0
        g = np.maximum(gt_index, 0)
        same = valid & (gt.category_ids[g] == dt.category_ids[det_index][:, None])
        same_max, same_arg = _max_where(same, ious)
        other_max, other_arg = _max_where(valid & ~same, ious)
        dupe_max, _ = _max_where(same & found[g], ious)
        rows = np.arange(len(det_index))
        is_loc = (bg_threshold <= same_max) & (same_max <= fg_threshold)
        is_cls = ~is_loc & (other_max >= fg_threshold)
        is_dupe = ~is_loc & ~is_cls & (dupe_max >= fg_threshold)
        is_bkg = ~is_loc & ~is_cls & ~is_dupe & (ious.max(axis=1) <= bg_threshold)
        det_error[det_index] = np.select([is_loc, is_cls, is_dupe, is_bkg], [LOC, CLS, DUPE, BKG], BOTH)
        pointed = np.where(is_loc, gt_index[rows, same_arg], np.where(is_cls, gt_index[rows, other_arg], -1))
        det_error_gt[det_index] = pointed
    pointed_at = np.zeros(len(gt), bool)
    pointed_at[det_error_gt[det_error_gt >= 0]] = True
    missed = (a.gt_status == MISSED) & ~pointed_at
    return TideBreakdown(det_error=det_error, det_error_gt=det_error_gt, missed=missed,
                         fg_threshold=fg_threshold, bg_threshold=bg_threshold)
