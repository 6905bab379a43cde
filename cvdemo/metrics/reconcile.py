"""How the Evaluate tab's "missed" and "false alarm" counts reconcile, at one IoU and one score threshold.

Three views of the same detections count errors differently, and each is right by its own definition:

- the **counts line** (`cvdemo.metrics.assignment`): COCO's matching, class by class, the top 100 detections per
  image and class. ``TP``: detections matched to an object of their class with IoU >= t; ``FN``: counted objects
  (not crowd / ignored) that no detection of their class matched; ``FP``: the other kept detections.
- the **confusion matrix** (`cvdemo.metrics.confusion`): one greedy matching that ignores the class (every kept
  detection, no top 100). Its **background column** holds the objects that no detection of *any* class matched,
  its **background row** the detections that matched no object of any class.
- **TIDE** (`cvdemo.metrics.tide`): every COCO false positive gets one cause (loc, cls, dupe, bkg, both), and a COCO
  FN counts as TIDE **missed** only if no localisation or class error points at it.

`reconcile` computes all three from the same thresholds and cross-tabulates them object by object and detection
by detection, so that every link is an identity on integers (`Identity.holds`, asserted by `check`):

    objects           = TP + FN
    FN                = TIDE missed + FN with a localisation error + FN with (only) a class error
    background column = FN - FN matched by another class - FN matched by their class (class-agnostic matching)
                        + TP objects whose detection took another object in the class-agnostic matching
    kept detections   = TP + FP + detections on crowd / ignored + beyond the top 100
    FP                = TIDE loc + cls + dupe + bkg + both
    background row    = TIDE bkg + loc, cls, dupe, both FPs and TPs (and others) that matched no object of any
                        class; every TIDE bkg FP is in the background row (or on a crowd region of another
                        class, which the class-agnostic matching absorbs)

The figures are named by keys (``"fn"``, ``"tide_missed"``, ...): the UI words and defines each of them.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from cvdemo.datasets.structure import Detections, GroundTruth
from cvdemo.metrics.assignment import FOUND, FP, IGNORED, MISSED, SKIPPED, TP, Assignment, ObjectAssigner
from cvdemo.metrics.confusion import AgnosticMatch, agnostic_match
from cvdemo.metrics.tide import BKG, BOTH, CLS, DUPE, LOC, TideBreakdown, tide_errors

__all__ = ["DET_COLUMNS", "DET_ROWS", "OBJ_COLUMNS", "OBJ_ROWS", "Identity", "Reconciliation", "reconcile"]

# the cross tables' rows (COCO / TIDE status) and columns (class-agnostic matching of the confusion matrix)
OBJ_ROWS = ("tp", "fn")
OBJ_COLUMNS = ("cm_right", "cm_wrong", "bg_col")
DET_ROWS = ("tp", "fp_loc", "fp_cls", "fp_dupe", "fp_bkg", "fp_both", "ignored_dets", "beyond_top")
DET_COLUMNS = ("cm_right", "cm_wrong", "bg_row", "cm_crowd")


@dataclass(frozen=True)
class Identity:
    """``total = sum(sign * value of each term)``: figures named by key, with their values."""

    key: str
    total: tuple[str, int]
    terms: tuple[tuple[int, str, int], ...]  # (+1 or -1, figure key, value)

    def holds(self) -> bool:
        return self.total[1] == sum(sign * value for sign, _, value in self.terms)


@dataclass
class Reconciliation:
    """The counts of the three views and their cross tables at (``iou_threshold``, ``score_threshold``).

    ``objects int64[2, 3]``: counted objects, rows `OBJ_ROWS` (COCO TP = found, FN) x columns `OBJ_COLUMNS`
    (class-agnostic matching: by a detection of its class, of another class, none = background column).
    ``detections int64[8, 4]``: kept detections (score >= threshold), rows `DET_ROWS` (COCO TP, FP by TIDE cause,
    on crowd / ignored, beyond the top 100) x columns `DET_COLUMNS` (matched an object of its class, of another
    class, none = background row, a crowd / ignored object). ``fn_split``: FN by TIDE (missed, loc, cls).
    """

    iou_threshold: float
    score_threshold: float
    tide_bg_threshold: float
    objects: np.ndarray
    detections: np.ndarray
    fn_split: dict[str, int]  # {"tide_missed", "fn_loc", "fn_cls"}

    def figures(self) -> dict[str, int]:
        """Every named figure: the counts line's, TIDE's, the confusion matrix's background cells, table cells."""
        o, d = self.objects, self.detections
        row = dict(zip(DET_ROWS, d.sum(axis=1).tolist()))
        out = {"objects": int(o.sum()), "fn": int(o[1].sum()),  # "tp" (TP detections) is a row of DET_ROWS
               "dets": int(d.sum()), "fp": sum(row[k] for k in DET_ROWS[1:6]), **row, **self.fn_split,
               "bg_col": int(o[:, 2].sum()), "bg_row": int(d[:, 2].sum()),
               "fn_cm_right": int(o[1, 0]), "fn_cm_wrong": int(o[1, 1]), "tp_bg_col": int(o[0, 2]),
               "crowd_fp_bkg": int(d[4, 3])}
        out.update({f"bg_row_{k}": int(v) for k, v in zip(DET_ROWS, d[:, 2].tolist())})
        return out

    def identities(self) -> list[Identity]:
        """The identities of the module docstring, with this evaluation's numbers."""
        f = self.figures()

        def ident(key: str, total: str, *terms: str) -> Identity:
            signed = [(-1, t[1:]) if t.startswith("-") else (1, t) for t in terms]
            return Identity(key, (total, f[total]), tuple((s, k, f[k]) for s, k in signed))

        bg_row_terms = [f"bg_row_{k}" for k in ("fp_bkg", "fp_loc", "fp_cls", "fp_dupe", "fp_both", "tp",
                                               "ignored_dets", "beyond_top")]
        return [ident("objects", "objects", "tp", "fn"),
                ident("fn_tide", "fn", "tide_missed", "fn_loc", "fn_cls"),
                ident("bg_col", "bg_col", "fn", "-fn_cm_wrong", "-fn_cm_right", "tp_bg_col"),
                ident("dets", "dets", "tp", "fp", "ignored_dets", "beyond_top"),
                ident("fp_tide", "fp", "fp_loc", "fp_cls", "fp_dupe", "fp_bkg", "fp_both"),
                ident("bg_row", "bg_row", *bg_row_terms),
                ident("tide_bkg", "fp_bkg", "bg_row_fp_bkg", "crowd_fp_bkg")]

    def check(self) -> None:
        """Raise AssertionError naming the first identity that does not hold (none should)."""
        for identity in self.identities():
            if not identity.holds():
                raise AssertionError(f"reconciliation identity {identity.key} fails: {identity}")


def _det_rows(a: Assignment, tide: TideBreakdown, kept: np.ndarray) -> np.ndarray:
    """int64[M]: each detection's row of `DET_ROWS` (-1: not kept)."""
    rows = np.full(len(a.det_status), -1, np.int64)
    rows[a.det_status == TP] = 0
    for row, error in enumerate((LOC, CLS, DUPE, BKG, BOTH), start=1):
        rows[(a.det_status == FP) & (tide.det_error == error)] = row
    rows[a.det_status == IGNORED] = 6
    rows[a.det_status == SKIPPED] = 7  # kept (score >= threshold) but beyond the top 100 of its image and class
    rows[~kept] = -1
    return rows


def _det_columns(gt: GroundTruth, dt: Detections, m: AgnosticMatch) -> np.ndarray:
    """int64[M]: each detection's column of `DET_COLUMNS` in the class-agnostic matching."""
    g = np.maximum(m.det_gt, 0)
    on_counted = (m.det_gt >= 0) & m.gt_counted[g]
    same = gt.category_ids[g] == dt.category_ids if len(gt) else np.zeros(len(dt), bool)
    return np.select([on_counted & same, on_counted, m.det_gt < 0], [0, 1, 2], 3)


def reconcile(gt: GroundTruth, dt: Detections, iou_threshold: float = 0.5, score_threshold: float = 0.0, *,
              assigner: ObjectAssigner | None = None, tide: TideBreakdown | None = None,
              tide_bg_threshold: float = 0.1) -> Reconciliation:
    """Cross-tabulate the counts line, the confusion matrix and TIDE at these thresholds (module docstring).

    ``assigner``: the evaluation's, to reuse its IoUs (its ``min_iou`` must be <= ``iou_threshold``); ``tide``:
    its TIDE breakdown at these thresholds, if already computed with that assigner. The result satisfies
    `Reconciliation.check`.
    """
    assigner = assigner or ObjectAssigner(gt, dt, min_iou=min(iou_threshold, 0.1))
    a = assigner.assign(iou_threshold, score_threshold)
    if tide is None:
        tide = tide_errors(gt, dt, fg_threshold=iou_threshold, bg_threshold=tide_bg_threshold,
                           score_threshold=score_threshold, assigner=assigner)
    tide_bg_threshold = tide.bg_threshold
    m = agnostic_match(gt, dt, iou_threshold=iou_threshold, score_threshold=score_threshold)

    # objects: COCO found / missed x matched in the class-agnostic matching by its class / another / none
    counted = a.gt_status != IGNORED
    obj_row = np.where(a.gt_status == FOUND, 0, 1)
    d = np.maximum(m.gt_det, 0)
    same = dt.category_ids[d] == gt.category_ids if len(dt) else np.zeros(len(gt), bool)
    obj_col = np.select([(m.gt_det >= 0) & same, m.gt_det >= 0], [0, 1], 2)
    objects = np.zeros((len(OBJ_ROWS), len(OBJ_COLUMNS)), np.int64)
    np.add.at(objects, (obj_row[counted], obj_col[counted]), 1)

    rows = _det_rows(a, tide, m.det_kept)
    cols = _det_columns(gt, dt, m)
    detections = np.zeros((len(DET_ROWS), len(DET_COLUMNS)), np.int64)
    np.add.at(detections, (rows[rows >= 0], cols[rows >= 0]), 1)

    # FN by TIDE: an object a localisation error points at, else one a class error points at, else missed
    pointed = tide.det_error_gt
    by_loc = np.zeros(len(gt), bool)
    by_loc[pointed[(tide.det_error == LOC) & (pointed >= 0)]] = True
    by_cls = np.zeros(len(gt), bool)
    by_cls[pointed[(tide.det_error == CLS) & (pointed >= 0)]] = True
    fn = a.gt_status == MISSED
    fn_split = {"tide_missed": int(tide.missed.sum()), "fn_loc": int((fn & by_loc).sum()),
                "fn_cls": int((fn & by_cls & ~by_loc).sum())}
    return Reconciliation(iou_threshold=iou_threshold, score_threshold=score_threshold,
                          tide_bg_threshold=tide_bg_threshold, objects=objects, detections=detections,
                          fn_split=fn_split)
