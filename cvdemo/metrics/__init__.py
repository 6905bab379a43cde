"""Detection metrics over `cvdemo.datasets` structures (NumPy only; pycocotools is a test reference).

- `coco_eval`: COCO bbox evaluation, the same numbers as pycocotools (12 stats, PR arrays).
- `voc`: Pascal VOC AP@0.5, 11-point (2007) and all-point (2010+).
- `assignment`: per detection TP/FP/ignored and per object found/missed, at any IoU and
  score threshold, IoUs cached for a slider.
- `confusion`: class-agnostic confusion matrix with background.
- `tide`: TIDE-style error breakdown (loc, cls, dupe, bkg, both, missed).
- `reconcile`: how the counts line's FN, the confusion matrix's background cells and TIDE's error types link,
  as identities that hold exactly at any thresholds.
- `greedy_matching`: COCO's greedy matching, vectorised over many (image, category) groups.
- `report`: the metrics report (the JSON of ``python -m cvdemo.evaluate --json`` and of the app's Evaluate tab).
- `browse`: an evaluation kept for browsing (TP/FP/FN per image at any thresholds, one image's boxes, exports),
  what the Evaluate tab shows; imported on its own (it needs pandas).
"""
from cvdemo.metrics.assignment import Assignment, ObjectAssigner
from cvdemo.metrics.coco_eval import STAT_NAMES, CocoEvalParams, CocoEvaluation, evaluate_coco
from cvdemo.metrics.confusion import ConfusionMatrix, confusion_matrix
from cvdemo.metrics.tide import TideBreakdown, tide_errors
from cvdemo.metrics.voc import VocEvaluation, evaluate_voc, voc_ap

__all__ = [
    "STAT_NAMES", "Assignment", "CocoEvalParams", "CocoEvaluation", "ConfusionMatrix", "ObjectAssigner",
    "TideBreakdown", "VocEvaluation", "confusion_matrix", "evaluate_coco", "evaluate_voc", "tide_errors",
    "voc_ap",
]
