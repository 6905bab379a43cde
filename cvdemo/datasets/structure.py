"""The common in-memory form of a detection data set: ground truth and detections.

Every loader (COCO json, VOC xml, YOLO txt, the synthetic shapes generator) returns these
two classes, and every evaluator (`cvdemo.metrics`) reads them. They are *columnar*: one
NumPy array per field, one row per object, so evaluation never loops over Python objects.

Conventions (all loaders convert to these; all exporters convert from them):

- Boxes are in **pixels**, COCO ``x, y, w, h`` with ``(x, y)`` the **top-left corner**,
  continuous coordinates (a box covering pixel columns 0..9 inclusive is ``x=0, w=10``),
  ``float64``. Use ``cvdemo.boxes.box_xywh_to_xyxy`` for corners. VOC's 1-based inclusive
  corners ``(xmin, ymin, xmax, ymax)`` become ``x = xmin - 1, w = xmax - xmin + 1``; YOLO's
  normalised ``cx, cy, w, h`` are multiplied by the image size.
- Ids are the data set's own integers (COCO ids are kept as they are). Annotation ids must
  be unique and non-zero (pycocotools silently mis-evaluates id 0); a loader that has no
  ids of its own numbers annotations ``1..N`` in reading order.
- ``areas`` is the COCO ``area`` field: the *mask* area for COCO instances, which is what
  COCO's small/medium/large ranges bin ground truth by. Formats without masks use
  ``w * h``.
- ``iscrowd`` marks COCO crowd regions: evaluation ignores them and measures overlap with a
  crowd region as intersection / area(detection). ``ignore`` marks objects that must
  neither count as a miss nor make a detection a false positive, with ordinary IoU: VOC's
  ``difficult`` flag. pycocotools' bbox evaluation does not read ``ignore``; ours does only
  where said (VOC AP, and COCO evaluation with ``use_ignore_flag=True``).

Both classes coerce their arguments with ``np.asarray`` to the documented dtypes and check
shapes, so a loader may pass lists. Semantic checks that need the source (w/h > 0, known
ids, with the file and record index in the message) are the loader's job; they raise
`DatasetError`.
"""
from __future__ import annotations

import json
import reprlib
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from cvdemo.messages import UserError

__all__ = ["DatasetError", "Category", "ImageInfo", "GroundTruth", "Detections", "short_repr"]


class DatasetError(UserError, ValueError):
    """Annotations or detections that cannot be used as they are.

    The message names the file, the record index and the field, e.g.
    ``"gt.json: annotations[12]: 'bbox' width must be > 0, got -3.0"``.
    """


_SHORT = reprlib.Repr()
_SHORT.maxlevel, _SHORT.maxstring, _SHORT.maxother, _SHORT.maxlist, _SHORT.maxdict = 3, 60, 60, 6, 6


def short_repr(value) -> str:
    """``repr(value)`` cut to a readable length for an error message: a value from an uploaded file may be a
    10 MB string, a list nested a thousand levels deep, or a YAML alias bomb (a full repr would hang)."""
    try:
        return _SHORT.repr(value)
    except RecursionError:
        return f"<{type(value).__name__} nested too deeply>"


@dataclass(frozen=True)
class Category:
    """One class. ``id`` is the data set's own integer id."""

    id: int
    name: str
    supercategory: str = ""


@dataclass(frozen=True)
class ImageInfo:
    """One image of the data set; ``width`` and ``height`` in pixels (0 when unknown)."""

    id: int
    file_name: str
    width: int
    height: int


def _column(value, dtype, name: str, rows: int | None, width: int | None = None) -> np.ndarray:
    """``value`` as a C-contiguous array of ``dtype`` with ``rows`` rows (and ``width`` columns)."""
    arr = np.ascontiguousarray(np.asarray(value, dtype=dtype))
    if width is not None and arr.size == 0:
        arr = arr.reshape(0, width)
    expected = "(N,)" if width is None else f"(N, {width})"
    ndim = 1 if width is None else 2
    if arr.ndim != ndim or (width is not None and arr.shape[1] != width):
        raise DatasetError(f"{name} must have shape {expected}, got {arr.shape}")
    if rows is not None and arr.shape[0] != rows:
        raise DatasetError(f"{name} has {arr.shape[0]} rows, expected {rows} like the other columns")
    return arr


@dataclass
class GroundTruth:
    """Ground-truth objects of a data set, one row per object (N rows).

    Attributes:
        images: every image of the data set, including images without objects.
        categories: every class, in the data set's order.
        ann_ids: ``int64[N]`` unique, non-zero annotation ids.
        image_ids: ``int64[N]`` id of the image each object is in (an ``ImageInfo.id``).
        category_ids: ``int64[N]`` class of each object (a ``Category.id``).
        boxes_xywh: ``float64[N, 4]`` pixel ``x, y, w, h``, ``(x, y)`` the top-left corner.
        areas: ``float64[N]`` COCO ``area`` (mask area for COCO; ``w * h`` otherwise).
        iscrowd: ``bool[N]`` COCO crowd regions.
        ignore: ``bool[N]`` objects to ignore (VOC ``difficult``).
    """

    images: list[ImageInfo]
    categories: list[Category]
    ann_ids: np.ndarray
    image_ids: np.ndarray
    category_ids: np.ndarray
    boxes_xywh: np.ndarray
    areas: np.ndarray
    iscrowd: np.ndarray = field(default=None)  # type: ignore[assignment]  # default: all False
    ignore: np.ndarray = field(default=None)  # type: ignore[assignment]  # default: all False

    def __post_init__(self) -> None:
        self.images = list(self.images)
        self.categories = list(self.categories)
        self.ann_ids = _column(self.ann_ids, np.int64, "ann_ids", None)
        n = len(self.ann_ids)
        self.image_ids = _column(self.image_ids, np.int64, "image_ids", n)
        self.category_ids = _column(self.category_ids, np.int64, "category_ids", n)
        self.boxes_xywh = _column(self.boxes_xywh, np.float64, "boxes_xywh", n, 4)
        self.areas = _column(self.areas, np.float64, "areas", n)
        no_flags = np.zeros(n, bool)
        self.iscrowd = _column(no_flags if self.iscrowd is None else self.iscrowd, bool, "iscrowd", n)
        self.ignore = _column(no_flags if self.ignore is None else self.ignore, bool, "ignore", n)

    def __len__(self) -> int:
        return len(self.ann_ids)

    @property
    def image_id_array(self) -> np.ndarray:
        """``int64[I]`` the ids of all images, in ``images`` order."""
        return np.array([im.id for im in self.images], dtype=np.int64)

    @property
    def category_id_array(self) -> np.ndarray:
        """``int64[K]`` the ids of all categories, in ``categories`` order."""
        return np.array([c.id for c in self.categories], dtype=np.int64)

    def category_names(self) -> dict[int, str]:
        """Category id -> name."""
        return {c.id: c.name for c in self.categories}

    def to_coco_dict(self) -> dict:
        """The COCO instances dict (``images``, ``annotations``, ``categories``).

        Boxes are written as ``bbox: [x, y, w, h]``; ``ignore: 1`` is written only for
        ignored objects (pycocotools does not read it for bbox evaluation).
        """
        anns = []
        boxes = self.boxes_xywh.tolist()
        for i, (aid, iid, cid, area, crowd, ign) in enumerate(zip(
                self.ann_ids.tolist(), self.image_ids.tolist(), self.category_ids.tolist(),
                self.areas.tolist(), self.iscrowd.tolist(), self.ignore.tolist())):
            ann = {"id": aid, "image_id": iid, "category_id": cid, "bbox": boxes[i], "area": area,
                   "iscrowd": int(crowd)}
            if ign:
                ann["ignore"] = 1
            anns.append(ann)
        return {
            "images": [{"id": im.id, "file_name": im.file_name, "width": im.width, "height": im.height}
                       for im in self.images],
            "annotations": anns,
            "categories": [{"id": c.id, "name": c.name, "supercategory": c.supercategory}
                           for c in self.categories],
        }

    def write_coco_json(self, path: str | Path) -> None:
        """Write `to_coco_dict` as a COCO instances json file."""
        Path(path).write_text(json.dumps(self.to_coco_dict()), encoding="utf-8")


@dataclass
class Detections:
    """Detections (predictions) over a data set, one row per detection (M rows).

    Attributes:
        image_ids: ``int64[M]`` image of each detection (an ``ImageInfo.id`` of the ground truth).
        category_ids: ``int64[M]`` predicted class (a ``Category.id``).
        boxes_xywh: ``float64[M, 4]`` pixel ``x, y, w, h``, ``(x, y)`` the top-left corner.
        scores: ``float64[M]`` confidence; higher is more confident. Finite.
    """

    image_ids: np.ndarray
    category_ids: np.ndarray
    boxes_xywh: np.ndarray
    scores: np.ndarray

    def __post_init__(self) -> None:
        self.image_ids = _column(self.image_ids, np.int64, "image_ids", None)
        m = len(self.image_ids)
        self.category_ids = _column(self.category_ids, np.int64, "category_ids", m)
        self.boxes_xywh = _column(self.boxes_xywh, np.float64, "boxes_xywh", m, 4)
        self.scores = _column(self.scores, np.float64, "scores", m)

    def __len__(self) -> int:
        return len(self.image_ids)

    @classmethod
    def empty(cls) -> Detections:
        """No detections at all."""
        return cls(np.zeros(0, np.int64), np.zeros(0, np.int64), np.zeros((0, 4)), np.zeros(0))

    def to_coco_results(self) -> list[dict]:
        """The COCO results list: ``[{image_id, category_id, bbox: [x, y, w, h], score}, ...]``."""
        return [{"image_id": i, "category_id": c, "bbox": b, "score": s}
                for i, c, b, s in zip(self.image_ids.tolist(), self.category_ids.tolist(),
                                      self.boxes_xywh.tolist(), self.scores.tolist())]

    def write_coco_results_json(self, path: str | Path) -> None:
        """Write `to_coco_results` as a COCO results json file."""
        Path(path).write_text(json.dumps(self.to_coco_results()), encoding="utf-8")
