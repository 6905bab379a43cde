"""Two prediction sets (A and B) on one ground truth, compared: both sets' metrics, per-class deltas and the images
where they disagree most. What the Evaluate tab's "compare two prediction sets" shows, as data (no text, no gradio).

    sets = load_comparison(workdir, dataset_files, files_a, files_b)   # or predict_a / predict_b: a model run
    c = sets.compare(iou=0.5, score=0.3)
    c.stats_a, c.stats_b, c.stats_delta   # pycocotools' 12 numbers of each (STAT_NAMES order), B - A
    c.classes                             # [ClassDelta]: AP and AP50 of each per class, and B - A
    c.counts_a, c.counts_b                # TP/FP/FN at the thresholds (`Assignment.counts`)
    c.disagreeing                         # [ImageDisagreement], the images where A and B disagree, most first

Each set is evaluated exactly as a single evaluation of it (`cvdemo.metrics.browse.EvaluationBrowser`: the
COCO numbers are pycocotools', the TP/FP/FN its `ObjectAssigner` at one IoU and score threshold), so a
comparison's numbers for A are the Evaluate tab's numbers for A.

**Disagreement** of an image, at one IoU and score threshold:

    disagreement = |found by A only| + |found by B only| + |FP_A - FP_B|

"found by A only": the image's objects (not crowd or ignored) that a detection of A matched (TP) and no detection
of B did; "FP": A's and B's false positives in the image. Two sets that find the same objects with as many false
alarms disagree nowhere (0); an object one set finds and the other misses counts 1, as does each false alarm one
set makes beyond the other's. Images are ranked by disagreement (highest first), ties by image id.

A set that names images or categories the ground truth does not have is a `PredictionSetError` (a
`DatasetError`) that says which set and what it names; so is any other refusal of one set's upload.
"""
from __future__ import annotations

import logging
import shutil
import threading
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from cvdemo.datasets.folder import LoadedDataset, load_dataset_folder, load_predictions_folder, stage_upload
from cvdemo.datasets.structure import DatasetError, Detections, GroundTruth
from cvdemo.messages import Message
from cvdemo.metrics.assignment import FOUND, FP, MISSED, TP, Assignment, ObjectAssigner
from cvdemo.metrics.browse import MIN_IOU, EvaluationBrowser
from cvdemo.metrics.coco_eval import STAT_NAMES, CocoEvaluation, evaluate_coco

__all__ = ["SIDES", "ClassDelta", "Comparison", "ImageDisagreement", "LoadedComparison", "PredictionSetError",
           "check_prediction_set", "compare_assignments", "compare_predictions", "load_comparison"]

log = logging.getLogger(__name__)

SIDES = ("A", "B")
_CACHE = 4  # comparisons kept per loaded pair (one per threshold pair)


class PredictionSetError(DatasetError):
    """One prediction set (``side`` "A" or "B") cannot be compared. Key ``evaluate.compare_in_set`` with the
    fields ``side`` and ``error``: the set's own refusal, a `Message` of the evaluate catalog when it has one,
    else the library's English text."""

    def __init__(self, side: str, error: DatasetError | str) -> None:
        inner = error.message if isinstance(error, DatasetError) else None
        if inner is not None:
            inner = Message(inner.key, inner.fields, english=str(error))
        super().__init__(f"prediction set {side}: {error}", key="evaluate.compare_in_set", side=side,
                         error=inner if inner is not None else str(error))
        self.side = side
        self.inner = error


@dataclass(frozen=True)
class ClassDelta:
    """One category of the ground truth: AP (IoU .50:.95) and AP50 of A and of B (area "all", 100 detections),
    and B - A. None where COCO leaves the value undefined (no object of the class)."""

    category_id: int
    name: str
    num_gt: int  # objects that count (not crowd or ignored)
    ap_a: float | None
    ap_b: float | None
    ap_delta: float | None
    ap50_a: float | None
    ap50_b: float | None
    ap50_delta: float | None


@dataclass(frozen=True)
class ImageDisagreement:
    """One image at the comparison's thresholds: each set's TP/FP/FN, the objects each found (annotation ids,
    sorted) and the disagreement (see the module docstring)."""

    image_id: int
    file_name: str
    disagreement: int
    tp_a: int
    fp_a: int
    fn_a: int
    tp_b: int
    fp_b: int
    fn_b: int
    found_a: tuple[int, ...]
    found_b: tuple[int, ...]

    @property
    def only_a(self) -> tuple[int, ...]:
        """Objects A found and B missed (annotation ids)."""
        return tuple(sorted(set(self.found_a) - set(self.found_b)))

    @property
    def only_b(self) -> tuple[int, ...]:
        """Objects B found and A missed (annotation ids)."""
        return tuple(sorted(set(self.found_b) - set(self.found_a)))


@dataclass(frozen=True)
class Comparison:
    """A and B on one ground truth at one IoU and score threshold."""

    iou_threshold: float
    score_threshold: float
    stats_a: np.ndarray  # float64[12] pycocotools' summarize() of A (STAT_NAMES order), -1 where undefined
    stats_b: np.ndarray  # float64[12] the same for B
    counts_a: dict[str, int]  # `Assignment.counts()` of A at the thresholds
    counts_b: dict[str, int]
    classes: list[ClassDelta]  # in the ground truth's category id order
    images: list[ImageDisagreement]  # every image, highest disagreement first, ties by image id

    @property
    def stats_delta(self) -> np.ndarray:
        """float64[12] B - A; NaN where either is undefined."""
        defined = (self.stats_a >= 0) & (self.stats_b >= 0)
        return np.where(defined, self.stats_b - self.stats_a, np.nan)

    @property
    def disagreeing(self) -> list[ImageDisagreement]:
        """The images where A and B disagree (disagreement > 0), most first."""
        return [im for im in self.images if im.disagreement > 0]

    def stats_dict(self) -> dict[str, dict[str, float]]:
        """``{"A": {"AP": ...}, "B": {...}, "B-A": {...}}`` (NaN deltas as None)."""
        delta = [None if np.isnan(d) else float(d) for d in self.stats_delta]
        return {"A": dict(zip(STAT_NAMES, map(float, self.stats_a))),
                "B": dict(zip(STAT_NAMES, map(float, self.stats_b))), "B-A": dict(zip(STAT_NAMES, delta))}


def check_prediction_set(gt: GroundTruth, dt: Detections, side: str) -> None:
    """Raise `PredictionSetError` when ``dt`` names an image or a category ``gt`` does not have."""
    for what, named, known in (("image", dt.image_ids, gt.image_id_array),
                               ("category", dt.category_ids, gt.category_id_array)):
        unknown = np.unique(named[~np.isin(named, known)])
        if len(unknown):
            count = int(np.isin(named, unknown).sum())
            raise PredictionSetError(side, f"{count:,} detection(s) name {len(unknown):,} {what} id(s) the ground "
                                           f"truth does not have (first: {int(unknown[0])}); are both prediction "
                                           "sets made on this data set?")


def _defined(value: float) -> float | None:
    return float(value) if value >= 0 else None


def _delta(a: float | None, b: float | None) -> float | None:
    return None if a is None or b is None else b - a


def _class_deltas(gt: GroundTruth, coco_a: CocoEvaluation, coco_b: CocoEvaluation) -> list[ClassDelta]:
    per_a, per_b, names = coco_a.per_class(), coco_b.per_class(), gt.category_names()
    out = []
    for k, cat in enumerate(coco_a.category_ids.tolist()):
        ap_a, ap_b = _defined(per_a[cat]["AP"]), _defined(per_b[cat]["AP"])
        ap50_a, ap50_b = _defined(per_a[cat]["AP50"]), _defined(per_b[cat]["AP50"])
        out.append(ClassDelta(int(cat), names.get(cat, str(cat)), int(coco_a.num_gt[k, 0]), ap_a, ap_b,
                              _delta(ap_a, ap_b), ap50_a, ap50_b, _delta(ap50_a, ap50_b)))
    return out


def _image_rows(gt: GroundTruth, image_ids: np.ndarray) -> np.ndarray:
    """int64[n]: the row in ``gt.images`` of each id (every id is one of them)."""
    all_ids = gt.image_id_array
    order = np.argsort(all_ids, kind="stable")
    return order[np.searchsorted(all_ids[order], image_ids)]


def compare_assignments(gt: GroundTruth, dt_a: Detections, dt_b: Detections, coco_a: CocoEvaluation,
                        coco_b: CocoEvaluation, a: Assignment, b: Assignment) -> Comparison:
    """The comparison of two evaluated sets: their COCO evaluations and their assignments at the same thresholds
    (what `compare_predictions` computes; `LoadedComparison` passes its evaluations' own)."""
    n = len(gt.images)
    gt_img = _image_rows(gt, gt.image_ids)
    per_set = []
    for dt, s in ((dt_a, a), (dt_b, b)):
        det_img = _image_rows(gt, dt.image_ids)
        tp, fp = (np.bincount(det_img[s.det_status == status], minlength=n) for status in (TP, FP))
        fn = np.bincount(gt_img[s.gt_status == MISSED], minlength=n)
        per_set.append((tp, fp, fn, s.gt_status == FOUND))
    (tp_a, fp_a, fn_a, found_a), (tp_b, fp_b, fn_b, found_b) = per_set
    only = np.bincount(gt_img[found_a != found_b], minlength=n)
    score = only + np.abs(fp_a - fp_b)
    ids = gt.image_id_array
    order = np.lexsort((ids, -score))
    images = []
    for r in order.tolist():
        objects = gt_img == r
        images.append(ImageDisagreement(
            int(ids[r]), gt.images[r].file_name or "", int(score[r]), int(tp_a[r]), int(fp_a[r]), int(fn_a[r]),
            int(tp_b[r]), int(fp_b[r]), int(fn_b[r]), tuple(sorted(gt.ann_ids[objects & found_a].tolist())),
            tuple(sorted(gt.ann_ids[objects & found_b].tolist()))))
    return Comparison(float(a.iou_threshold), float(a.score_threshold), coco_a.stats.copy(), coco_b.stats.copy(),
                      a.counts(), b.counts(), _class_deltas(gt, coco_a, coco_b), images)


def compare_predictions(gt: GroundTruth, dt_a: Detections, dt_b: Detections, iou_threshold: float = 0.5,
                        score_threshold: float = 0.0) -> Comparison:
    """A and B evaluated on ``gt`` (COCO, and TP/FP/FN at the thresholds) and compared.

    Raises `PredictionSetError` when a set names images or categories ``gt`` does not have."""
    for side, dt in zip(SIDES, (dt_a, dt_b)):
        check_prediction_set(gt, dt, side)
    cocos = [evaluate_coco(gt, dt) for dt in (dt_a, dt_b)]
    a, b = (ObjectAssigner(gt, dt, min_iou=min(MIN_IOU, iou_threshold)).assign(iou_threshold, score_threshold)
            for dt in (dt_a, dt_b))
    return compare_assignments(gt, dt_a, dt_b, *cocos, a, b)


class LoadedComparison:
    """A loaded data set and its two prediction sets, each kept as an `EvaluationBrowser` (``a``, ``b``: the same
    data set) so that a viewer draws either set's boxes as the Evaluate tab does; `compare` at any thresholds is
    cached. Everything is in ``workdir``, which `close` removes."""

    def __init__(self, workdir: str | Path, dataset: LoadedDataset, dt_a: Detections, dt_b: Detections) -> None:
        for side, dt in zip(SIDES, (dt_a, dt_b)):
            check_prediction_set(dataset.ground_truth, dt, side)
        self.workdir, self.dataset, self.gt = Path(workdir), dataset, dataset.ground_truth
        self.a, self.b = EvaluationBrowser(workdir, dataset, dt_a), EvaluationBrowser(workdir, dataset, dt_b)
        self._cache: OrderedDict = OrderedDict()
        self._lock = threading.Lock()

    def close(self) -> None:
        """Remove the comparison's folder (both sets' uploads and the data set)."""
        shutil.rmtree(self.workdir, ignore_errors=True)

    def memory_bytes(self) -> int:
        """Both evaluations (the data set counted twice: an upper bound) and the cached comparisons."""
        return self.a.memory_bytes() + self.b.memory_bytes() + _CACHE * 200 * len(self.gt.images)

    def compare(self, iou: float, score: float) -> Comparison:
        """The comparison at these thresholds (cached)."""
        key = (round(float(iou), 4), round(float(score), 4))
        with self._lock:
            if key in self._cache:
                self._cache.move_to_end(key)
                return self._cache[key]
        a, b = self.a.assignment(*key), self.b.assignment(*key)
        value = compare_assignments(self.gt, self.a.dt, self.b.dt, self.a.coco, self.b.coco, a, b)
        with self._lock:
            self._cache[key] = value
            while len(self._cache) > _CACHE:
                self._cache.popitem(last=False)
        return value


def _load_set(side: str, workdir: Path, dataset: LoadedDataset, files: list[tuple[str, str]] | None,
              predict: Callable[[LoadedDataset], Detections] | None) -> Detections:
    """One set's detections: its uploaded files, or ``predict`` run on the data set; refusals name the set."""
    try:
        if predict is not None and files:
            raise DatasetError("give either uploaded predictions or a model to run, not both: clear the predictions "
                               "or choose “uploaded predictions” as the model", key="evaluate.predictions_or_model")
        if predict is None and not files:
            raise DatasetError("upload the predictions (a COCO results .json or YOLO .txt files) too",
                               key="evaluate.need_predictions")
        if predict is not None:
            return predict(dataset)
        return load_predictions_folder(stage_upload(files, workdir / f"predictions-{side}"), dataset.ground_truth)
    except PredictionSetError:
        raise
    except DatasetError as e:
        raise PredictionSetError(side, e) from None


def load_comparison(workdir: str | Path, dataset_files: list[tuple[str, str]],
                    files_a: list[tuple[str, str]] | None = None, files_b: list[tuple[str, str]] | None = None, *,
                    predict_a: Callable[[LoadedDataset], Detections] | None = None,
                    predict_b: Callable[[LoadedDataset], Detections] | None = None) -> LoadedComparison:
    """Stage the data set and both prediction sets in ``workdir`` (the caller's own folder), load and evaluate them.

    dataset_files, files_a, files_b: ``[(original name, local path)]`` as uploaded (one zip, or loose files).
    predict_a, predict_b: a model run on the data set's images, instead of that set's files (one of the two).

    Raises `DatasetError` naming the uploaded file, never the server's folders: the data set's own (key
    ``evaluate.need_dataset`` when it is missing), or a `PredictionSetError` for set A or B.
    """
    workdir = Path(workdir)

    def shown(e: DatasetError | str) -> str:  # the message without the server's folders
        return str(e).replace(f"{workdir.resolve()}/", "").replace(f"{workdir}/", "")
    try:
        if not dataset_files:
            raise DatasetError("upload the data set (annotations and images, or one zip) first",
                               key="evaluate.need_dataset")
        dataset = load_dataset_folder(stage_upload(dataset_files, workdir / "dataset"))
        sets = [_load_set(side, workdir, dataset, files, predict)
                for side, files, predict in zip(SIDES, (files_a, files_b), (predict_a, predict_b))]
        return LoadedComparison(workdir, dataset, *sets)
    except PredictionSetError as e:
        inner = e.inner if isinstance(e.inner, str) else DatasetError(shown(e.inner), key=e.inner.key,
                                                                      **e.inner.fields)
        raise PredictionSetError(e.side, shown(inner) if isinstance(inner, str) else inner) from None
    except DatasetError as e:
        raise DatasetError(shown(e), key=e.key, **e.fields) from None
