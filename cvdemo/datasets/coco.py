"""COCO json: instances (ground truth) and results (detections), loaded and validated.

pycocotools accepts several broken inputs and silently gives wrong numbers (annotation id 0,
duplicate ids, negative sizes, ids that refer to nothing). These loaders check everything
first; a `DatasetError` names the file, the record and the field::

    gt.json: annotations[12]: 'bbox' width must be > 0, got -3.0 (bbox is [x, y, width, height])

Accepted ground truth (``{"images": [...], "annotations": [...], "categories": [...]}``):

- ``images[i]``: ``id`` (int, unique); ``file_name``, ``width``, ``height`` optional.
- ``categories[i]``: ``id`` (int, unique); ``name`` (default: the id), ``supercategory`` optional.
- ``annotations[i]``: ``id`` (int, unique, non-zero), ``image_id`` and ``category_id`` (known
  ids), ``bbox`` ``[x, y, w, h]`` finite with ``w, h > 0``; ``area`` optional (finite, >= 0;
  default ``w * h``, as COCO files without masks mean), ``iscrowd`` optional (0/1, default 0),
  ``ignore`` optional (0/1; kept in `GroundTruth.ignore`, not used by COCO evaluation).

Accepted results (a list of ``{"image_id", "category_id", "bbox": [x, y, w, h], "score"}``):
ids must be known to the ground truth, the box finite with ``w, h >= 0`` (a zero-size
predicted box is legal: it simply overlaps nothing), the score a finite number. An empty
list is valid and means "no detections" (pycocotools crashes on it; we evaluate it: every
AP and AR is 0) and is logged as a warning.

JSON is parsed with orjson (several times faster than the standard library on 500k
detections); a file orjson rejects is retried with the standard library, which also reads
the non-standard ``NaN``/``Infinity`` literals so that they get a precise error below.
"""
from __future__ import annotations

import gc
import json
import logging
from pathlib import Path
from typing import Any

import numpy as np
import orjson

from cvdemo.datasets.structure import Category, DatasetError, Detections, GroundTruth, ImageInfo, short_repr

__all__ = ["MAX_JSON_DEPTH", "load_coco_ground_truth", "load_coco_detections", "read_json"]

log = logging.getLogger(__name__)


MAX_JSON_DEPTH = 1024  # orjson's nesting limit; a COCO file needs 5 levels


def read_json(source: str | Path) -> Any:
    """Parse a JSON file; errors become `DatasetError` naming the file, line and column.

    Hostile files get their own messages: an empty file, one that is not UTF-8 text (an image, a zip), and one
    nested more than `MAX_JSON_DEPTH` levels deep ("JSON nested too deeply": the standard library would
    overflow Python's stack on it)."""
    path = Path(source)
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        raise DatasetError(f"{path}: no such file") from None
    except OSError as e:
        raise DatasetError(f"{path}: cannot read: {e.strerror or e}") from None
    if not data.strip():
        raise DatasetError(f"{path}: not valid JSON: Expecting value at line 1 column 1: the file is empty")
    # Half a million new dicts trigger many full garbage collections that find nothing to free:
    # pausing the collector halves the parse time.
    gc_enabled = gc.isenabled()
    gc.disable()
    try:
        try:
            return orjson.loads(data)
        except orjson.JSONDecodeError as e:
            if str(e).startswith("depth limit exceeded"):
                raise _too_deep(path) from None
        try:
            return json.loads(data)
        except json.JSONDecodeError as e:
            message = f"{e.msg} at line {e.lineno} column {e.colno}"
            if b"\x00" in data[:1024]:
                message = "binary data, not text (an image or an archive under a .json name?)"
        except UnicodeDecodeError as e:
            message = f"not UTF-8 text ({e.reason} at byte {e.start})"
        except RecursionError:
            raise _too_deep(path) from None
        raise DatasetError(f"{path}: not valid JSON: {message}")
    finally:
        if gc_enabled:
            gc.enable()


def _too_deep(name: str | Path) -> DatasetError:
    return DatasetError(f"{name}: JSON nested too deeply (lists and objects inside each other about "
                        f"{MAX_JSON_DEPTH} levels deep; a COCO file needs 5)")


def _source(source: str | Path | Any, default_name: str) -> tuple[Any, str]:
    if isinstance(source, (str, Path)):
        return read_json(source), str(source)
    return source, default_name


def _records(obj: Any, key: str, where: str) -> list:
    if key not in obj:
        raise DatasetError(f"{where}: missing top-level key '{key}'")
    if not isinstance(obj[key], list):
        raise DatasetError(f"{where}: '{key}' must be a list, got {type(obj[key]).__name__}")
    return obj[key]


def _column(records: list, key: str, where: str) -> list:
    """``[r[key] for r in records]``, or an error naming the first record that lacks ``key``."""
    try:
        return [r[key] for r in records]
    except (KeyError, TypeError, IndexError):
        for i, r in enumerate(records):
            if not isinstance(r, dict):
                raise DatasetError(f"{where}[{i}]: expected an object, got {type(r).__name__}") from None
            if key not in r:
                raise DatasetError(f"{where}[{i}]: missing key '{key}'") from None
        raise


def _optional(records: list, key: str, default: Any) -> list:
    return [r.get(key, default) for r in records]


def _first_bad(values: list, ok, where: str, key: str, expected: str) -> DatasetError:
    for i, v in enumerate(values):
        if not ok(v):
            return DatasetError(f"{where}[{i}]: '{key}' must be {expected}, got {short_repr(v)}")
    return DatasetError(f"{where}: '{key}' must be {expected}")


def _is_int(v: Any) -> bool:
    return isinstance(v, int) and not isinstance(v, bool) and -2**63 <= v < 2**63


def _is_number(v: Any) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool)


def _int_array(values: list, where: str, key: str) -> np.ndarray:
    try:
        arr = np.array(values)
    except (ValueError, OverflowError):
        arr = np.array([], dtype=object)
    if len(values) == 0:
        return np.zeros(0, np.int64)
    if arr.dtype.kind in "iu" and arr.ndim == 1:
        return arr.astype(np.int64)
    raise _first_bad(values, _is_int, where, key, "an integer")


def _float_array(values: list, where: str, key: str) -> np.ndarray:
    try:
        arr = np.array(values)
    except (ValueError, OverflowError):
        arr = np.array([], dtype=object)
    if len(values) == 0:
        return np.zeros(0, np.float64)
    if arr.dtype.kind in "iuf" and arr.ndim == 1:
        arr = arr.astype(np.float64)
        bad = np.flatnonzero(~np.isfinite(arr))
        if len(bad):
            raise DatasetError(f"{where}[{bad[0]}]: '{key}' must be a finite number, got {short_repr(values[bad[0]])}")
        return arr
    raise _first_bad(values, _is_number, where, key, "a number")


def _boxes_array(values: list, where: str, min_size_ok) -> np.ndarray:
    """``float64[n, 4]`` from a list of ``[x, y, w, h]``; checks finiteness and sizes."""
    if len(values) == 0:
        return np.zeros((0, 4), np.float64)
    try:
        arr = np.array(values)
    except (ValueError, OverflowError):
        arr = np.array([], dtype=object)
    if not (arr.dtype.kind in "iuf" and arr.ndim == 2 and arr.shape[1] == 4):
        def ok(v):
            return isinstance(v, list) and len(v) == 4 and all(_is_number(c) for c in v)
        raise _first_bad(values, ok, where, "bbox", "a list of 4 numbers [x, y, width, height]")
    arr = arr.astype(np.float64)
    bad = np.flatnonzero(~np.isfinite(arr).all(axis=1))
    if len(bad):
        raise DatasetError(f"{where}[{bad[0]}]: 'bbox' must be finite, got {short_repr(values[bad[0]])}")
    for col, name in ((2, "width"), (3, "height")):
        ok, rule = min_size_ok(arr[:, col])
        bad = np.flatnonzero(~ok)
        if len(bad):
            value = float(arr[bad[0], col])
            raise DatasetError(f"{where}[{bad[0]}]: 'bbox' {name} must be {rule}, got {value!r} "
                               "(bbox is [x, y, width, height])")
    return arr


def _unique_ids(ids: np.ndarray, where: str, what: str) -> None:
    order = np.argsort(ids, kind="stable")
    dup = np.flatnonzero(ids[order][1:] == ids[order][:-1])
    if len(dup):
        first, second = sorted((int(order[dup[0]]), int(order[dup[0] + 1])))
        section = where.rsplit(": ", 1)[-1]
        raise DatasetError(f"{where}[{second}]: duplicate {what} id {ids[second]} (also {section}[{first}])")


def _known(ids: np.ndarray, known: np.ndarray, where: str, key: str, what: str, source: str) -> None:
    bad = np.flatnonzero(~np.isin(ids, known))
    if len(bad):
        raise DatasetError(f"{where}[{bad[0]}]: '{key}' {ids[bad[0]]} is not {what} of {source}")


def _flag_array(values: list, where: str, key: str) -> np.ndarray:
    if all(v in (0, 1) for v in values):  # True/False compare equal to 1/0
        return np.array(values, dtype=bool).reshape(-1)
    raise _first_bad(values, lambda v: v in (0, 1), where, key, "0 or 1")


def load_coco_ground_truth(source: str | Path | dict) -> GroundTruth:
    """Load COCO instances json (a path, or the already parsed dict) into a `GroundTruth`.

    Raises:
        DatasetError: unreadable file, bad JSON, or any record that breaks the rules in the
            module docstring; the message names the file, the record index and the field.
    """
    obj, name = _source(source, "<COCO ground truth>")
    try:
        return _ground_truth(obj, name)
    except RecursionError:  # str() of a value nested a thousand levels deep
        raise _too_deep(name) from None


def _ground_truth(obj: Any, name: str) -> GroundTruth:
    if not isinstance(obj, dict):
        raise DatasetError(f"{name}: expected a JSON object with 'images', 'annotations' and 'categories' "
                           f"(COCO instances format), got a {type(obj).__name__}")
    images = _records(obj, "images", name)
    anns = _records(obj, "annotations", name)
    cats = _records(obj, "categories", name)

    where = f"{name}: images"
    image_ids = _int_array(_column(images, "id", where), where, "id")
    _unique_ids(image_ids, where, "image")
    sizes = []
    for key in ("width", "height"):
        size = _float_array(_optional(images, key, 0), where, key)
        bad = np.flatnonzero(size < 0)
        if len(bad):
            raise DatasetError(f"{where}[{bad[0]}]: '{key}' must be >= 0, got {float(size[bad[0]])!r}")
        sizes.append(size.astype(np.int64).tolist())
    image_infos = [ImageInfo(int(i), str(r.get("file_name", "")), w, h)
                   for i, r, w, h in zip(image_ids.tolist(), images, *sizes)]

    where = f"{name}: categories"
    cat_ids = _int_array(_column(cats, "id", where), where, "id")
    _unique_ids(cat_ids, where, "category")
    categories = [Category(int(i), str(r.get("name", i)), str(r.get("supercategory", "")))
                  for i, r in zip(cat_ids, cats)]

    where = f"{name}: annotations"
    ann_ids = _int_array(_column(anns, "id", where), where, "id")
    zero = np.flatnonzero(ann_ids == 0)
    if len(zero):
        raise DatasetError(f"{where}[{zero[0]}]: 'id' must not be 0 (pycocotools treats id 0 as 'no match')")
    _unique_ids(ann_ids, where, "annotation")
    ann_images = _int_array(_column(anns, "image_id", where), where, "image_id")
    _known(ann_images, image_ids, where, "image_id", "an image", f"'images' in {name}")
    ann_cats = _int_array(_column(anns, "category_id", where), where, "category_id")
    _known(ann_cats, cat_ids, where, "category_id", "a category", f"'categories' in {name}")
    boxes = _boxes_array(_column(anns, "bbox", where), where, lambda v: (v > 0, "> 0"))
    area_values = _optional(anns, "area", None)
    missing_area = [i for i, v in enumerate(area_values) if v is None]
    if missing_area:
        log.warning("%s: %d annotations have no 'area' (first: annotations[%d]); using bbox w*h",
                    name, len(missing_area), missing_area[0])
        for i in missing_area:
            area_values[i] = float(boxes[i, 2] * boxes[i, 3])
    areas = _float_array(area_values, where, "area")
    negative = np.flatnonzero(areas < 0)
    if len(negative):
        raise DatasetError(f"{where}[{negative[0]}]: 'area' must be >= 0, got {float(areas[negative[0]])!r}")
    iscrowd = _flag_array(_optional(anns, "iscrowd", 0), where, "iscrowd")
    ignore = _flag_array(_optional(anns, "ignore", 0), where, "ignore")
    return GroundTruth(images=image_infos, categories=categories, ann_ids=ann_ids, image_ids=ann_images,
                       category_ids=ann_cats, boxes_xywh=boxes, areas=areas, iscrowd=iscrowd, ignore=ignore)


def load_coco_detections(source: str | Path | list, ground_truth: GroundTruth) -> Detections:
    """Load a COCO results json (a path, or the parsed list) into `Detections`.

    ``ground_truth`` is needed to check that every image and category id exists.

    Raises:
        DatasetError: unreadable file, bad JSON, not a list, or any record that breaks the
            rules in the module docstring (message: file, record index, field).
    """
    obj, name = _source(source, "<COCO results>")
    try:
        return _detections(obj, name, ground_truth)
    except RecursionError:
        raise _too_deep(name) from None


def _detections(obj: Any, name: str, ground_truth: GroundTruth) -> Detections:
    if not isinstance(obj, list):
        looks_like_gt = isinstance(obj, dict) and "annotations" in obj
        hint = " (this looks like a ground-truth file)" if looks_like_gt else ""
        raise DatasetError(f"{name}: expected a JSON list of detections "
                           f"[{{image_id, category_id, bbox, score}}, ...], got a {type(obj).__name__}{hint}")
    if not obj:
        log.warning("%s: the results list is empty: no detections, every AP and AR will be 0", name)
        return Detections.empty()
    where = f"{name}: results"
    image_ids = _int_array(_column(obj, "image_id", where), where, "image_id")
    _known(image_ids, ground_truth.image_id_array, where, "image_id", "an image", "the ground truth")
    cat_ids = _int_array(_column(obj, "category_id", where), where, "category_id")
    _known(cat_ids, ground_truth.category_id_array, where, "category_id", "a category", "the ground truth")
    boxes = _boxes_array(_column(obj, "bbox", where), where, lambda v: (v >= 0, ">= 0"))
    scores = _float_array(_column(obj, "score", where), where, "score")
    return Detections(image_ids=image_ids, category_ids=cat_ids, boxes_xywh=boxes, scores=scores)
