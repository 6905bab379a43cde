"""One evaluation kept per browser session, and every view of it the Evaluate tab shows. No gradio here.

    session = EvaluationSession.create(workdir, dataset_files, prediction_files)   # slow part, once
    view = session.browse(iou=0.5, score=0.3, class_id=None, error="all images", sort="most misses")
    view.counts, view.order   # TP/FP/FN at those thresholds; the filtered, sorted image rows

The filter and sort values (`ERROR_FILTERS`, `SORTS`) are fixed English strings whatever the language;
`error_filter_choices(locale)` / `sort_choices(locale)` give the dropdowns' (text, value) pairs and
`choice_text` the text of one value. Text shown to the user comes in ``locale`` ("en" or "zh-CN"); the exports
(CSV columns and statuses, JSON keys) are machine-readable and always English.

What is computed once, by the library: `evaluate_coco` (12 numbers, per class, PR arrays), `evaluate_voc`
and an `ObjectAssigner` (every IoU that can matter). A slider move then costs one `assign` (greedy pass
only) and a few `bincount`s over the detections, kept in a small cache so that paging and clicking reuse
it; the confusion matrix and the TIDE breakdown are computed on demand and cached the same way.

Everything the session writes (the extracted upload, exports) lives in ``workdir``, a per-session
temporary folder that `close` removes.
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
from cvdemo.metrics import (
    Assignment,
    ConfusionMatrix,
    ObjectAssigner,
    TideBreakdown,
    confusion_matrix,
    evaluate_coco,
    evaluate_voc,
    tide_errors,
)
from cvdemo.metrics.assignment import FOUND, FP, IGNORED, MISSED, SKIPPED, TP
from cvdemo.metrics.tide import ERROR_NAMES
from cvdemo.ui.i18n import DEFAULT_LOCALE, LOCALES
from cvdemo.ui.texts.evaluate import T

__all__ = ["ERROR_FILTERS", "SORTS", "PAGE_SIZE", "MIN_IOU", "BrowseView", "EvaluationSession",
           "error_filter_choices", "sort_choices", "choice_text", "status_texts"]

log = logging.getLogger(__name__)

MIN_IOU = 0.2  # the lowest IoU threshold offered (TIDE needs fg above its background threshold 0.1)
PAGE_SIZE = 20
_TIDE_LABELS = ("FP: localisation", "FP: wrong class", "FP: duplicate", "FP: background", "FP: class and location")
ERROR_FILTERS = ("all images", "with false positives", "with misses (FN)", "with FP or FN", *_TIDE_LABELS)
SORTS = ("image id", "most false positives", "most misses", "lowest F1")
_CACHE = 4  # assignments (and TIDE, confusion) kept per session
# the catalog key of each filter and sort value (the value is what code compares; the text is shown)
_CHOICE_KEYS = {**dict(zip(ERROR_FILTERS, ("filter_all", "filter_fp", "filter_fn", "filter_fp_fn", "filter_loc",
                                           "filter_cls", "filter_dupe", "filter_bkg", "filter_both"))),
                **dict(zip(SORTS, ("sort_image_id", "sort_most_fp", "sort_most_fn", "sort_lowest_f1")))}


def choice_text(value: str, locale: str = DEFAULT_LOCALE) -> str:
    """The shown text of a filter or sort value (the value itself if it is not one)."""
    key = _CHOICE_KEYS.get(value)
    return T.text(key, locale) if key else str(value)


def error_filter_choices(locale: str = DEFAULT_LOCALE) -> list[tuple[str, str]]:
    """[(text, value)] of the "show images" dropdown."""
    return [(choice_text(v, locale), v) for v in ERROR_FILTERS]


def sort_choices(locale: str = DEFAULT_LOCALE) -> list[tuple[str, str]]:
    """[(text, value)] of the "sort by" dropdown."""
    return [(choice_text(v, locale), v) for v in SORTS]


@dataclass
class BrowseView:
    """The image list at some thresholds and filters: ``order`` indexes `GroundTruth.images`."""

    assignment: Assignment
    counts: dict[str, int]  # TP/FP/FN (+ ignored) over the class filter, whole data set
    order: np.ndarray  # int64[n] image rows (into gt.images), filtered and sorted
    tp: np.ndarray  # int64[I] per image (class filter applied)
    fp: np.ndarray
    fn: np.ndarray

    def f1(self, rows: np.ndarray) -> np.ndarray:
        """Per-image F1 = 2TP / (2TP + FP + FN); NaN for an image with nothing to count."""
        tp, fp, fn = self.tp[rows], self.fp[rows], self.fn[rows]
        denom = 2 * tp + fp + fn
        return np.where(denom > 0, 2 * tp / np.maximum(denom, 1), np.nan)


class EvaluationSession:
    """A loaded data set, its predictions, the library's evaluations, and caches for the live views."""

    def __init__(self, workdir: Path, dataset: LoadedDataset, detections: Detections) -> None:
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
        self._assignments: OrderedDict = OrderedDict()
        self._tide: OrderedDict = OrderedDict()
        self._confusion: OrderedDict = OrderedDict()
        self._lock = threading.Lock()

    @classmethod
    def create(cls, workdir: str | Path, dataset_files: list[tuple[str, str]],
               prediction_files: list[tuple[str, str]] | None = None, *,
               predict: Callable[[LoadedDataset], Detections] | None = None,
               locale: str = DEFAULT_LOCALE) -> EvaluationSession:
        """Stage the uploads in ``workdir`` (which must be the session's own folder), load and evaluate.

        The predictions are the uploaded ``prediction_files``, or ``predict(dataset)`` (a model run on the
        data set's images) when given; one of the two, not both.

        Raises `DatasetError` with a message that names the uploaded file, never the server's folders (in
        ``locale`` when an upload is missing; the library's own messages are English).
        """
        workdir = Path(workdir)
        try:
            if not dataset_files:
                raise DatasetError(T.text("need_dataset", locale))
            if predict is not None and prediction_files:
                raise DatasetError(T.text("predictions_or_model", locale))
            if predict is None and not prediction_files:
                raise DatasetError(T.text("need_predictions", locale))
            dataset = load_dataset_folder(stage_upload(dataset_files, workdir / "dataset"))
            if predict is not None:
                detections = predict(dataset)
            else:
                detections = load_predictions_folder(stage_upload(prediction_files, workdir / "predictions"),
                                                     dataset.ground_truth)
        except DatasetError as e:
            raise DatasetError(str(e).replace(f"{workdir.resolve()}/", "").replace(f"{workdir}/", "")) from None
        return cls(workdir, dataset, detections)

    def close(self) -> None:
        """Remove the session's folder (uploads and exports)."""
        shutil.rmtree(self.workdir, ignore_errors=True)

    # --- live views -------------------------------------------------------------------------------------

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
        per_image = [np.bincount(rows[mask & det_m], minlength=n) for rows, mask in
                     ((self._det_img, a.det_status == TP), (self._det_img, a.det_status == FP))]
        tp, fp = per_image
        fn = np.bincount(self._gt_img[(a.gt_status == MISSED) & gt_m], minlength=n)
        counts = {"tp": int(tp.sum()), "fp": int(fp.sum()), "fn": int(fn.sum()),
                  "ignored_dets": int(((a.det_status == IGNORED) & det_m).sum()),
                  "ignored_gts": int(((a.gt_status == IGNORED) & gt_m).sum())}
        if error == ERROR_FILTERS[1]:
            keep = fp > 0
        elif error == ERROR_FILTERS[2]:
            keep = fn > 0
        elif error == ERROR_FILTERS[3]:
            keep = (fp + fn) > 0
        elif error in _TIDE_LABELS:
            kind = _TIDE_LABELS.index(error)
            keep = np.bincount(self._det_img[(self.tide(iou, score).det_error == kind) & det_m], minlength=n) > 0
        elif class_id is not None:  # all images that hold this class (objects or kept detections)
            shown = (a.det_status != SKIPPED) & det_m
            keep = (np.bincount(self._det_img[shown], minlength=n) + np.bincount(self._gt_img[gt_m], minlength=n)) > 0
        else:
            keep = np.ones(n, bool)
        rows = np.flatnonzero(keep)
        view = BrowseView(a, counts, rows, tp, fp, fn)
        if sort == SORTS[1]:
            rows = rows[np.lexsort((self.image_ids[rows], -fp[rows]))]
        elif sort == SORTS[2]:
            rows = rows[np.lexsort((self.image_ids[rows], -fn[rows]))]
        elif sort == SORTS[3]:
            f1 = view.f1(rows)
            rows = rows[np.lexsort((self.image_ids[rows], np.where(np.isnan(f1), np.inf, f1)))]
        else:
            rows = rows[np.argsort(self.image_ids[rows], kind="stable")]
        view.order = rows
        return view

    def page_rows(self, view: BrowseView, page: int) -> list[list]:
        """Table rows ``[#, image id, file, TP, FP, FN, F1]`` of one page (0-based) of ``view.order``."""
        start = page * PAGE_SIZE
        rows = view.order[start:start + PAGE_SIZE]
        f1 = view.f1(rows)
        return [[start + i + 1, int(self.image_ids[r]), self.gt.images[r].file_name or "",
                 int(view.tp[r]), int(view.fp[r]), int(view.fn[r]),
                 "" if math.isnan(f1[i]) else round(float(f1[i]), 3)] for i, r in enumerate(rows.tolist())]

    def num_pages(self, view: BrowseView) -> int:
        return max(1, -(-len(view.order) // PAGE_SIZE))

    # --- one image ---------------------------------------------------------------------------------------

    def image_objects(self, image_id: int, a: Assignment, class_id: int | None = None
                      ) -> tuple[np.ndarray, np.ndarray]:
        """(detection rows, object rows) of one image that the viewer shows (kept detections only)."""
        det_rows, gt_rows = self.assigner.rows_of_image(int(image_id))
        det_rows = det_rows[a.det_status[det_rows] != SKIPPED]
        if class_id is not None:
            det_rows = det_rows[self.dt.category_ids[det_rows] == class_id]
            gt_rows = gt_rows[self.gt.category_ids[gt_rows] == class_id]
        return det_rows, gt_rows

    def object_rows(self, image_id: int, a: Assignment, class_id: int | None = None, *,
                    locale: str = DEFAULT_LOCALE) -> list[list]:
        """Table ``[kind, row, status, class, score, IoU, matched with, x, y, w, h]`` of one image, its words
        in ``locale``."""
        det_rows, gt_rows = self.image_objects(image_id, a, class_id)
        det_status, gt_status = status_texts(locale)  # looked up once, not per row
        detection, detection_n, object_n = (T.text(k, locale) for k in ("detection", "detection_n", "object_n"))
        out = []
        for r in det_rows.tolist():
            g = int(a.det_gt[r])
            out.append([detection, r, det_status[a.det_status[r]], self.names.get(int(self.dt.category_ids[r]), ""),
                        round(float(self.dt.scores[r]), 3), round(float(a.det_iou[r]), 3) if g >= 0 else "",
                        object_n.format(id=int(self.gt.ann_ids[g])) if g >= 0 else "",
                        *[round(float(v), 1) for v in self.dt.boxes_xywh[r]]])
        for r in gt_rows.tolist():
            d = int(a.gt_det[r])
            out.append([object_n.format(id=int(self.gt.ann_ids[r])), r, gt_status[a.gt_status[r]],
                        self.names.get(int(self.gt.category_ids[r]), ""), "",
                        round(float(a.det_iou[d]), 3) if d >= 0 else "", detection_n.format(row=d) if d >= 0 else "",
                        *[round(float(v), 1) for v in self.gt.boxes_xywh[r]]])
        return out

    def image_info(self, image_id: int):
        """The `ImageInfo` and the uploaded file (or None) of an image id."""
        row = int(np.flatnonzero(self.image_ids == image_id)[0])
        info = self.gt.images[row]
        return info, self.dataset.image_files.get(info.id)


    # --- exports -----------------------------------------------------------------------------------------

    def metrics_dict(self, iou: float | None = None, score: float | None = None) -> dict:
        """What ``python -m cvdemo.evaluate --json --per-class --voc`` prints (the same keys and floats),
        plus ``"at_thresholds"`` (TP/FP/FN counts) when thresholds are given."""
        out: dict = self.coco.stats_dict()
        names = self.coco.category_names
        out["per_class"] = {names.get(c, str(c)): v for c, v in self.coco.per_class().items()}
        voc, vnames = self.voc, self.voc.category_names
        out["voc"] = {"VOC07": _json_float(voc.map07), "VOC12": _json_float(voc.map12),
                      "per_class": {vnames.get(c, str(c)): {"VOC07": _json_float(a07), "VOC12": _json_float(a12)}
                                    for c, a07, a12 in zip(voc.category_ids.tolist(), voc.ap07.tolist(),
                                                           voc.ap12.tolist())}}
        if iou is not None and score is not None:
            out["at_thresholds"] = {"iou_threshold": float(iou), "score_threshold": float(score),
                                    **self.assignment(iou, score).counts()}
        return out

    def write_metrics_json(self, iou: float | None = None, score: float | None = None) -> Path:
        """`metrics_dict` as ``workdir/exports/metrics.json``."""
        path = self.workdir / "exports" / "metrics.json"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(self.metrics_dict(iou, score), indent=2), encoding="utf-8")
        return path

    def write_objects_csv(self, iou: float, score: float) -> Path:
        """Every detection and object with its status at these thresholds, as ``workdir/exports/objects.csv``.

        Columns: kind (detection / object), id (detection row, 0-based in the results file; annotation id),
        image_id, file_name, category_id, category, score, x, y, w, h, status, matched (the other side's id,
        empty if none), iou, iou_threshold, score_threshold; numbers rounded to 4 decimals.
        """
        a, gt, dt = self.assignment(iou, score), self.gt, self.dt
        files = np.array([im.file_name for im in gt.images], dtype=object)
        cat_names = np.vectorize(lambda c: self.names.get(int(c), str(c)), otypes=[object])
        det_gt = a.det_gt
        gt_det = a.gt_det
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


def _json_float(value: float) -> float | None:
    return None if math.isnan(value) else value


# the statuses as the CSV export writes them (machine-readable: always English)
DET_STATUS = {FP: "FP", TP: "TP", IGNORED: "ignored", SKIPPED: "below score"}
GT_STATUS = {MISSED: "FN (missed)", FOUND: "found", IGNORED: "ignored (crowd)"}
# ... and as the UI shows them, per locale (made once: the tables and descriptions only look them up)
DET_STATUS_TEXT = {locale: {FP: "FP", TP: "TP", IGNORED: T.text("status_ignored", locale),
                            SKIPPED: T.text("status_below_score", locale)} for locale in LOCALES}
GT_STATUS_TEXT = {locale: {MISSED: T.text("status_missed", locale), FOUND: T.text("status_found", locale),
                           IGNORED: T.text("status_ignored_crowd", locale)} for locale in LOCALES}
TIDE_NAMES = dict(enumerate(ERROR_NAMES))


def status_texts(locale: str = DEFAULT_LOCALE) -> tuple[dict[int, str], dict[int, str]]:
    """({detection status: text}, {object status: text}) in ``locale`` (English for an unknown one)."""
    if locale not in DET_STATUS_TEXT:
        locale = DEFAULT_LOCALE
    return DET_STATUS_TEXT[locale], GT_STATUS_TEXT[locale]
