"""The metrics report of an evaluation as plain data: what ``python -m cvdemo.evaluate --json`` prints and what the
Evaluate tab offers as ``metrics.json`` (one definition for both, so the two never drift apart).

    metrics_dict(coco)                                   # pycocotools' 12 numbers: {"AP", "AP50", ..., "ARl"}
    metrics_dict(coco, voc, per_class=True)              # + "per_class" {name: {AP, AP50, AP75, AR}} + "voc"
    metrics_dict(coco, voc, per_class=True, at_thresholds={"iou_threshold": .5, "score_threshold": .3, "tp": ...})

Floats are kept in full; a value COCO leaves undefined (-1: no object of that size or class) stays -1 as
pycocotools prints it, a NaN (VOC AP of a class without objects) becomes JSON ``null``. Keys are English and
machine-readable whatever the language of the UI.
"""
from __future__ import annotations

import math
from typing import Any

from cvdemo.metrics.coco_eval import CocoEvaluation
from cvdemo.metrics.voc import VocEvaluation

__all__ = ["json_float", "metrics_dict", "voc_dict"]


def json_float(value: float) -> float | None:
    """``value`` for JSON: NaN becomes None (``null``)."""
    return None if math.isnan(value) else value


def voc_dict(voc: VocEvaluation) -> dict[str, Any]:
    """``{"VOC07", "VOC12", "per_class": {name: {"VOC07", "VOC12"}}}``: VOC AP@0.5, 11-point and all-point."""
    names = voc.category_names
    return {"VOC07": json_float(voc.map07), "VOC12": json_float(voc.map12),
            "per_class": {names.get(c, str(c)): {"VOC07": json_float(a07), "VOC12": json_float(a12)}
                          for c, a07, a12 in zip(voc.category_ids.tolist(), voc.ap07.tolist(), voc.ap12.tolist())}}


def metrics_dict(coco: CocoEvaluation, voc: VocEvaluation | None = None, *, per_class: bool = False,
                 at_thresholds: dict[str, Any] | None = None) -> dict[str, Any]:
    """The report (see the module docstring): pycocotools' 12 statistics, then, if asked, ``"per_class"`` (AP,
    AP50, AP75, AR per category name), ``"voc"`` (`voc_dict`) and ``"at_thresholds"`` (given as is: the
    thresholds and the TP/FP/FN counts at them)."""
    out: dict[str, Any] = coco.stats_dict()
    if per_class:
        names = coco.category_names
        out["per_class"] = {names.get(c, str(c)): v for c, v in coco.per_class().items()}
    if voc is not None:
        out["voc"] = voc_dict(voc)
    if at_thresholds is not None:
        out["at_thresholds"] = dict(at_thresholds)
    return out
