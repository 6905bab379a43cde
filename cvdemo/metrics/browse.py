"""Browsing an evaluation: TP/FP/FN per image at any thresholds, filtered and sorted; one image's detections and
objects; why a box has its status; the exports. What the Evaluate tab shows, as data (no text, no gradio).

    browser = load_evaluation(workdir, dataset_files, prediction_files)   # stage, load, evaluate: once
    view = browser.browse(iou=0.5, score=0.3, class_id=None, error="all images", sort="most misses")
    view.counts, view.order      # TP/FP/FN at those thresholds; the filtered, sorted image rows
    browser.page_rows(view, 0)   # [PageRow]: one page of the image table
    browser.object_rows(image_id, view.assignment)   # [ObjectRow]: the boxes of one image, with their status

The filter and sort values (`ERROR_FILTERS`, `SORTS`) are fixed English identifiers; the UI shows each in its
language. The exports (``metrics.json``: `cvdemo.metrics.report.metrics_dict`, the same report as
``python -m cvdemo.evaluate --json --per-class --voc``; the per-object CSV) are machine-readable English.

Computed once, by the library: `evaluate_coco` (12 numbers, per class, PR arrays), `evaluate_voc` and an
`ObjectAssigner` (every IoU that can matter). A slider move then costs one `assign` (greedy pass only) and a few
`bincount`s over the detections, kept in a small cache so that paging and clicking reuse it; the confusion matrix
and the TIDE breakdown are computed on demand and cached the same way, as is the reconciliation of their counts
(`cvdemo.metrics.reconcile`).

Everything an evaluation writes (the extracted upload, exports) lives in its ``workdir``, which `close` removes.
`memory_bytes` sizes what it holds, for a store with a byte cap.
"""
from __future__ import annotations

import json
import logging
import math
import shutil
import threading
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from cvdemo.datasets.folder import LoadedDataset, load_dataset_folder, load_predictions_folder, stage_upload
from cvdemo.datasets.structure import DatasetError, Detections
from cvdemo.metrics.assignment import FOUND, FP, IGNORED, MISSED, SKIPPED, TP, Assignment, ObjectAssigner
from cvdemo.metrics.coco_eval import evaluate_coco
from cvdemo.metrics.confusion import ConfusionMatrix, confusion_matrix
from cvdemo.metrics.greedy_matching import iou_xywh_coco
from cvdemo.metrics.reconcile import Reconciliation, reconcile
from cvdemo.metrics.report import metrics_dict
from cvdemo.metrics.tide import ERROR_NAMES, TideBreakdown, tide_errors
from cvdemo.metrics.voc import evaluate_voc
from cvdemo.session_store import nbytes

__all__ = ["DET_STATUS", "ERROR_FILTERS", "GT_STATUS", "MIN_IOU", "PAGE_SIZE", "SORTS", "TIDE_FILTERS",
           "BrowseView", "EvaluationBrowser", "ObjectRow", "PageRow", "load_evaluation"]

log = logging.getLogger(__name__)

MIN_IOU = 0.2  # the lowest IoU threshold offered (TIDE needs fg above its background threshold 0.1)
PAGE_SIZE = 20
TIDE_FILTERS = ("FP: localisation", "FP: wrong class", "FP: duplicate", "FP: background", "FP: class and location")
ERROR_FILTERS = ("all images", "with false positives", "with misses (FN)", "with FP or FN", *TIDE_FILTERS)
SORTS = ("image id", "most false positives", "most misses", "lowest F1")
# the statuses as the CSV export writes them (machine-readable: always English)
DET_STATUS = {FP: "FP", TP: "TP", IGNORED: "ignored", SKIPPED: "below score"}
GT_STATUS = {MISSED: "FN (missed)", FOUND: "found", IGNORED: "ignored (crowd)"}
_CACHE = 4  # assignments (and TIDE, confusion) kept per evaluation
_PYTHON_BYTES_PER_IMAGE = 600  # an ImageInfo, its file name and its Path: Python objects nbytes cannot see


@dataclass
class BrowseView:
    """The image list at some thresholds and filters: ``order`` indexes `GroundTruth.images`."""

    assignment: Assignment
    counts: dict[str, int]  # TP/FP/FN (+ ignored_dets, ignored_gts) over the class filter, whole data set
    order: np.ndarray  # int64[n] image rows (into gt.images), filtered and sorted
    tp: np.ndarray  # int64[I] per image (class filter applied)
    fp: np.ndarray
    fn: np.ndarray

    def f1(self, rows: np.ndarray) -> np.ndarray:
        """Per-image F1 = 2TP / (2TP + FP + FN); NaN for an image with nothing to count."""
        tp, fp, fn = self.tp[rows], self.fp[rows], self.fn[rows]
        denom = 2 * tp + fp + fn
        return np.where(denom > 0, 2 * tp / np.maximum(denom, 1), np.nan)


@dataclass(frozen=True)
class PageRow:
    """One row of the image table: its position in the list (1-based), the image and its counts."""

    position: int
    image_id: int
    file_name: str
    tp: int
    fp: int
    fn: int
    f1: float | None  # None: nothing to count in this image


@dataclass(frozen=True)
class ObjectRow:
    """One box of an image: a detection (``kind`` "det") or a ground-truth object ("gt").

    row: its row in `Detections` / `GroundTruth`; status: its `Assignment` code (det: FP/TP/IGNORED/SKIPPED,
    gt: MISSED/FOUND/IGNORED); ann_id: the object's annotation id (gt only); iou: with what it matched (None when
    unmatched); matched: the annotation id of the matched object (det) or the row of the matching detection (gt).
    """

    kind: str
    row: int
    status: int
    category: str
    score: float | None
    iou: float | None
    matched: int | None
    box_xywh: tuple[float, float, float, float]
    ann_id: int | None = None


def load_evaluation(workdir: str | Path, dataset_files: list[tuple[str, str]],
                    prediction_files: list[tuple[str, str]] | None = None, *,
                    predict: Callable[[LoadedDataset], Detections] | None = None) -> EvaluationBrowser:
    """Stage an upload in ``workdir`` (the caller's own folder), load it and evaluate it.

    dataset_files, prediction_files: ``[(original name, local path)]`` as uploaded (one zip, or loose files).
    predict: a model run on the data set's images, instead of uploaded predictions (one of the two, not both).

    Raises `DatasetError` with a message that names the uploaded file, never the server's folders; the three
    refusals of a missing or doubled upload carry the keys ``evaluate.need_dataset``,
    ``evaluate.predictions_or_model`` and ``evaluate.need_predictions``.
    """
    workdir = Path(workdir)
    try:
        if not dataset_files:
            raise DatasetError("upload the data set (annotations and images, or one zip) first",
                               key="evaluate.need_dataset")
        if predict is not None and prediction_files:
            raise DatasetError("give either uploaded predictions or a model to run, not both: clear the predictions "
                               "or choose “uploaded predictions” as the model", key="evaluate.predictions_or_model")
        if predict is None and not prediction_files:
            raise DatasetError("upload the predictions (a COCO results .json or YOLO .txt files) too",
                               key="evaluate.need_predictions")
        dataset = load_dataset_folder(stage_upload(dataset_files, workdir / "dataset"))
        if predict is not None:
            detections = predict(dataset)
        else:
            detections = load_predictions_folder(stage_upload(prediction_files, workdir / "predictions"),
                                                 dataset.ground_truth)
    except DatasetError as e:
        shown = str(e).replace(f"{workdir.resolve()}/", "").replace(f"{workdir}/", "")
        raise DatasetError(shown, key=e.key, **e.fields) from None
    return EvaluationBrowser(workdir, dataset, detections)


class EvaluationBrowser:
    """A loaded data set, its predictions, the library's evaluations, and caches for the live views.

    Methods may be called from several threads at once (events of one browser session run in parallel)."""

    def __init__(self, workdir: str | Path, dataset: LoadedDataset, detections: Detections) -> None:
        self.workdir, self.dataset, self.dt = Path(workdir), dataset, detections
        self.gt = gt = dataset.ground_truth
        self.coco = evaluate_coco(gt, detections)
        self.voc = evaluate_voc(gt, detections)
        self.assigner = ObjectAssigner(gt, detections, min_iou=MIN_IOU)
        self.names = gt.category_names()
        self.image_ids = gt.image_id_array
        order = np.argsort(self.image_ids, kind="stable")
        self._det_img = order[np.searchsorted(self.image_ids[order], detections.image_ids)]  # image row of each
        self._gt_img = order[np.searchsorted(self.image_ids[order], gt.image_ids)]
        self._row_of_image = {int(i): r for r, i in enumerate(self.image_ids.tolist())}
        self._assignments: OrderedDict = OrderedDict()
        self._tide: OrderedDict = OrderedDict()
        self._confusion: OrderedDict = OrderedDict()
        self._reconciliations: OrderedDict = OrderedDict()
        self._lock = threading.Lock()

    def close(self) -> None:
        """Remove the evaluation's folder (uploads and exports)."""
        shutil.rmtree(self.workdir, ignore_errors=True)

    def memory_bytes(self) -> int:
        """Bytes this evaluation holds or will hold once its caches are full (arrays of the data, the evaluations,
        the assigner's IoU table, `_CACHE` assignments and TIDE breakdowns) plus its Python objects, roughly."""
        assigner = {k: v for k, v in vars(self.assigner).items() if k not in ("gt", "dt")}
        held = nbytes([self.gt, self.dt, self.coco, self.voc, assigner, self._det_img, self._gt_img])
        per_threshold = len(self.dt) * (1 + 8 + 8 + 1 + 8) + len(self.gt) * (1 + 8 + 1)  # Assignment + TIDE
        return held + _CACHE * per_threshold + _PYTHON_BYTES_PER_IMAGE * len(self.gt.images)

    # --- cached evaluations at thresholds ----------------------------------------------------------------

    def _cached(self, cache: OrderedDict, key, compute):
        """``cache[key]``, computed outside the lock (events of one session may run in parallel threads)."""
        with self._lock:
            if key in cache:
                cache.move_to_end(key)
                return cache[key]
        value = compute()
        with self._lock:
            cache[key] = value
            while len(cache) > _CACHE:
                cache.popitem(last=False)
        return value

    def assignment(self, iou: float, score: float) -> Assignment:
        """TP/FP/FN of every detection and object at these thresholds (cached)."""
        iou, score = round(float(iou), 4), round(float(score), 4)
        return self._cached(self._assignments, (iou, score), lambda: self.assigner.assign(iou, score))

    def tide(self, iou: float, score: float) -> TideBreakdown:
        """TIDE error type of each false positive at these thresholds (cached)."""
        iou, score = round(float(iou), 4), round(float(score), 4)
        return self._cached(self._tide, (iou, score), lambda: tide_errors(
            self.gt, self.dt, fg_threshold=iou, score_threshold=score, assigner=self.assigner))

    def tide_if_computed(self, iou: float, score: float) -> np.ndarray | None:
        """The TIDE error of each detection if already computed at these thresholds, else None (no wait)."""
        with self._lock:
            tide = self._tide.get((round(float(iou), 4), round(float(score), 4)))
        return None if tide is None else tide.det_error

    def confusion(self, iou: float, score: float) -> ConfusionMatrix:
        """The class confusion matrix at these thresholds (cached)."""
        iou, score = round(float(iou), 4), round(float(score), 4)
        return self._cached(self._confusion, (iou, score), lambda: confusion_matrix(
            self.gt, self.dt, iou_threshold=iou, score_threshold=score))

    def reconciliation(self, iou: float, score: float) -> Reconciliation:
        """How the counts line, the confusion matrix's background cells and TIDE link at these thresholds (cached;
        `cvdemo.metrics.reconcile`)."""
        iou, score = round(float(iou), 4), round(float(score), 4)
        return self._cached(self._reconciliations, (iou, score), lambda: reconcile(
            self.gt, self.dt, iou, score, assigner=self.assigner, tide=self.tide(iou, score)))

    # --- the image list ----------------------------------------------------------------------------------

    def class_masks(self, class_id: int | None) -> tuple[np.ndarray | bool, np.ndarray | bool]:
        """(detections, objects) of the chosen class, or True for every class."""
        if class_id is None:
            return True, True
        return self.dt.category_ids == class_id, self.gt.category_ids == class_id

    def browse(self, iou: float, score: float, class_id: int | None = None, error: str = ERROR_FILTERS[0],
               sort: str = SORTS[0]) -> BrowseView:
        """Counts at the thresholds and the images that pass the filters, in the chosen order."""
        a = self.assignment(iou, score)
        det_m, gt_m = self.class_masks(class_id)
        n = len(self.gt.images)
        tp, fp = (np.bincount(self._det_img[(a.det_status == status) & det_m], minlength=n) for status in (TP, FP))
        fn = np.bincount(self._gt_img[(a.gt_status == MISSED) & gt_m], minlength=n)
        counts = {"tp": int(tp.sum()), "fp": int(fp.sum()), "fn": int(fn.sum()),
                  "ignored_dets": int(((a.det_status == IGNORED) & det_m).sum()),
                  "ignored_gts": int(((a.gt_status == IGNORED) & gt_m).sum())}
        view = BrowseView(a, counts, np.flatnonzero(self._keep(a, error, class_id, tp, fp, fn)), tp, fp, fn)
        view.order = self._sorted(view, sort)
        return view

    def _keep(self, a: Assignment, error: str, class_id: int | None, tp, fp, fn) -> np.ndarray:
        """bool[I]: the images that pass the error filter (and hold the chosen class, for "all images")."""
        det_m, gt_m = self.class_masks(class_id)
        n = len(self.gt.images)
        if error == ERROR_FILTERS[1]:
            return fp > 0
        if error == ERROR_FILTERS[2]:
            return fn > 0
        if error == ERROR_FILTERS[3]:
            return (fp + fn) > 0
        if error in TIDE_FILTERS:
            kind = TIDE_FILTERS.index(error)
            tide = self.tide(a.iou_threshold, a.score_threshold).det_error
            return np.bincount(self._det_img[(tide == kind) & det_m], minlength=n) > 0
        if class_id is not None:  # all images that hold this class (objects or kept detections)
            shown = (a.det_status != SKIPPED) & det_m
            return (np.bincount(self._det_img[shown], minlength=n) + np.bincount(self._gt_img[gt_m], minlength=n)) > 0
        return np.ones(n, bool)

    def _sorted(self, view: BrowseView, sort: str) -> np.ndarray:
        rows, ids = view.order, self.image_ids[view.order]
        if sort == SORTS[1]:
            return rows[np.lexsort((ids, -view.fp[rows]))]
        if sort == SORTS[2]:
            return rows[np.lexsort((ids, -view.fn[rows]))]
        if sort == SORTS[3]:
            f1 = view.f1(rows)
            return rows[np.lexsort((ids, np.where(np.isnan(f1), np.inf, f1)))]
        return rows[np.argsort(ids, kind="stable")]

    def page_rows(self, view: BrowseView, page: int) -> list[PageRow]:
        """One page (0-based) of ``view.order``."""
        start = page * PAGE_SIZE
        rows = view.order[start:start + PAGE_SIZE]
        f1 = view.f1(rows)
        return [PageRow(start + i + 1, int(self.image_ids[r]), self.gt.images[r].file_name or "", int(view.tp[r]),
                        int(view.fp[r]), int(view.fn[r]), None if math.isnan(f1[i]) else float(f1[i]))
                for i, r in enumerate(rows.tolist())]

    def num_pages(self, view: BrowseView) -> int:
        return max(1, -(-len(view.order) // PAGE_SIZE))

    # --- one image ---------------------------------------------------------------------------------------

    def image_info(self, image_id: int):
        """The `ImageInfo` and the uploaded file (or None) of an image id; KeyError for an unknown id."""
        info = self.gt.images[self._row_of_image[int(image_id)]]
        return info, self.dataset.image_files.get(info.id)

    def image_objects(self, image_id: int, a: Assignment, class_id: int | None = None
                      ) -> tuple[np.ndarray, np.ndarray]:
        """(detection rows, object rows) of one image that a viewer shows (kept detections only)."""
        det_rows, gt_rows = self.assigner.rows_of_image(int(image_id))
        det_rows = det_rows[a.det_status[det_rows] != SKIPPED]
        if class_id is not None:
            det_rows = det_rows[self.dt.category_ids[det_rows] == class_id]
            gt_rows = gt_rows[self.gt.category_ids[gt_rows] == class_id]
        return det_rows, gt_rows

    def object_rows(self, image_id: int, a: Assignment, class_id: int | None = None) -> list[ObjectRow]:
        """The detections, then the objects, of one image with their status at ``a``'s thresholds."""
        det_rows, gt_rows = self.image_objects(image_id, a, class_id)
        gt, dt, names = self.gt, self.dt, self.names
        out = []
        for r in det_rows.tolist():
            g = int(a.det_gt[r])
            out.append(ObjectRow("det", r, int(a.det_status[r]), names.get(int(dt.category_ids[r]), ""),
                                 float(dt.scores[r]), float(a.det_iou[r]) if g >= 0 else None,
                                 int(gt.ann_ids[g]) if g >= 0 else None, tuple(map(float, dt.boxes_xywh[r]))))
        for r in gt_rows.tolist():
            d = int(a.gt_det[r])
            out.append(ObjectRow("gt", r, int(a.gt_status[r]), names.get(int(gt.category_ids[r]), ""), None,
                                 float(a.det_iou[d]) if d >= 0 else None, d if d >= 0 else None,
                                 tuple(map(float, gt.boxes_xywh[r])), int(gt.ann_ids[r])))
        return out

    def nearest_of_class(self, kind: str, row: int, a: Assignment) -> tuple[int, float] | None:
        """For an unmatched box, the closest box of its class in its image: (row, IoU) of the best object for a
        detection ("det"), of the best kept detection for an object ("gt"); None when its image has none."""
        gt, dt = self.gt, self.dt
        if kind == "det":
            _, gt_rows = self.assigner.rows_of_image(int(dt.image_ids[row]))
            same = gt_rows[gt.category_ids[gt_rows] == dt.category_ids[row]]
            ious = iou_xywh_coco(dt.boxes_xywh[row][None], gt.boxes_xywh[same], gt.iscrowd[same]) if len(same) else []
        else:
            det_rows, _ = self.image_objects(int(gt.image_ids[row]), a)
            same = det_rows[dt.category_ids[det_rows] == gt.category_ids[row]]
            ious = iou_xywh_coco(dt.boxes_xywh[same], gt.boxes_xywh[row][None], gt.iscrowd[row]) if len(same) else []
        if not len(same):
            return None
        j = int(np.argmax(ious))
        return int(same[j]), float(np.ravel(ious)[j])

    def tide_error_of(self, row: int, a: Assignment) -> str | None:
        """The TIDE error name ("loc", "cls", ...) of a false positive if TIDE was computed at ``a``'s thresholds
        (never waits for it), else None."""
        errors = self.tide_if_computed(a.iou_threshold, a.score_threshold)
        return ERROR_NAMES[errors[row]] if errors is not None and errors[row] >= 0 else None

    # --- exports -----------------------------------------------------------------------------------------

    def metrics_dict(self, iou: float | None = None, score: float | None = None) -> dict:
        """What ``python -m cvdemo.evaluate --json --per-class --voc`` prints (`cvdemo.metrics.report`), plus
        ``"at_thresholds"`` (TP/FP/FN counts) when thresholds are given."""
        at = None
        if iou is not None and score is not None:
            at = {"iou_threshold": float(iou), "score_threshold": float(score), **self.assignment(iou, score).counts()}
        return metrics_dict(self.coco, self.voc, per_class=True, at_thresholds=at)

    def write_metrics_json(self, iou: float | None = None, score: float | None = None) -> Path:
        """`metrics_dict` as ``workdir/exports/metrics.json``."""
        path = self.workdir / "exports" / "metrics.json"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(self.metrics_dict(iou, score), indent=2), encoding="utf-8")
        return path

    def write_objects_csv(self, iou: float, score: float) -> Path:
        """Every detection and object with its status at these thresholds, as ``workdir/exports/objects_*.csv``.

        Columns: kind (detection / object), id (detection row, 0-based in the results file; annotation id),
        image_id, file_name, category_id, category, score, x, y, w, h, status, matched (the other side's id,
        empty if none), iou, iou_threshold, score_threshold; numbers rounded to 4 decimals.
        """
        a, gt, dt = self.assignment(iou, score), self.gt, self.dt
        files = np.array([im.file_name for im in gt.images], dtype=object)
        cat_names = np.vectorize(lambda c: self.names.get(int(c), str(c)), otypes=[object])
        det_gt, gt_det = a.det_gt, a.gt_det
        frames = [pd.DataFrame({
            "kind": "detection", "id": np.arange(len(dt)), "image_id": dt.image_ids,
            "file_name": files[self._det_img], "category_id": dt.category_ids,
            "category": cat_names(dt.category_ids) if len(dt) else [], "score": dt.scores,
            "x": dt.boxes_xywh[:, 0], "y": dt.boxes_xywh[:, 1], "w": dt.boxes_xywh[:, 2], "h": dt.boxes_xywh[:, 3],
            "status": pd.Categorical.from_codes(a.det_status, list(DET_STATUS.values())),
            "matched": _optional_ids(gt.ann_ids[np.maximum(det_gt, 0)] if len(gt) else det_gt, det_gt >= 0),
            "iou": a.det_iou}), pd.DataFrame({
            "kind": "object", "id": gt.ann_ids, "image_id": gt.image_ids, "file_name": files[self._gt_img],
            "category_id": gt.category_ids, "category": cat_names(gt.category_ids) if len(gt) else [],
            "score": np.nan, "x": gt.boxes_xywh[:, 0], "y": gt.boxes_xywh[:, 1], "w": gt.boxes_xywh[:, 2],
            "h": gt.boxes_xywh[:, 3], "status": pd.Categorical.from_codes(a.gt_status, list(GT_STATUS.values())),
            "matched": _optional_ids(gt_det, gt_det >= 0),
            "iou": np.where(gt_det >= 0, a.det_iou[np.maximum(gt_det, 0)], 0.0)})]
        table = pd.concat([f for f in frames if len(f)], ignore_index=True) if len(dt) else frames[1]
        table["iou_threshold"], table["score_threshold"] = float(iou), float(score)
        path = self.workdir / "exports" / f"objects_iou{iou:.2f}_score{score:.2f}.csv"
        path.parent.mkdir(parents=True, exist_ok=True)
        table.round(4).to_csv(path, index=False)  # 4 decimals: twice as fast to write as full floats
        return path


def _optional_ids(ids: np.ndarray, present: np.ndarray) -> pd.Series:
    """Integer ids with empty cells where ``present`` is False."""
    return pd.Series(ids, dtype="Int64").mask(~present)
