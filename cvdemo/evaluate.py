"""Evaluate COCO-format detections from the command line, with pycocotools' numbers.

    python -m cvdemo.evaluate GT.json DT.json [--json] [--voc] [--per-class]

- default: pycocotools' 12-line summary, character for character;
- ``--json``: ``{"AP", "AP50", "AP75", "APs", "APm", "APl", "AR1", "AR10", "AR100", "ARs",
  "ARm", "ARl"}`` as full floats (plus ``"per_class"`` / ``"voc"`` objects if asked for):
  `cvdemo.metrics.report.metrics_dict`, the same report the app's Evaluate tab writes;
- ``--voc``: VOC2007 (11-point) and VOC2010+ (all-point) AP@0.5 per class and their means;
- ``--per-class``: a table of AP, AP50, AP75 and AR per class.

Bad input prints one line, ``error: <file>: <record>: <what is wrong>``, on stderr and exits
with status 2.
"""
from __future__ import annotations

import argparse
import json
import logging
import math
import sys
from collections.abc import Sequence

from cvdemo.datasets.coco import load_coco_detections, load_coco_ground_truth
from cvdemo.datasets.structure import DatasetError
from cvdemo.metrics.coco_eval import CocoEvaluation, evaluate_coco
from cvdemo.metrics.report import metrics_dict
from cvdemo.metrics.voc import VocEvaluation, evaluate_voc

__all__ = ["main"]


def _number(value: float) -> str:
    return "   -  " if value < 0 or math.isnan(value) else f"{value:6.3f}"


def _per_class_table(result: CocoEvaluation) -> list[str]:
    rows = [f"{'category':<24} {'AP':>6} {'AP50':>6} {'AP75':>6} {'AR':>6} {'#GT':>6}"]
    for k, (cat, v) in enumerate(result.per_class().items()):
        name = result.category_names.get(cat, str(cat))[:24]
        rows.append(f"{name:<24} {_number(v['AP'])} {_number(v['AP50'])} {_number(v['AP75'])} "
                    f"{_number(v['AR'])} {int(result.num_gt[k, 0]):>6d}")
    return rows


def _voc_table(voc: VocEvaluation) -> list[str]:
    rows = [f"{'category':<24} {'VOC07':>6} {'VOC12':>6} {'#GT':>6}"]
    for k, cat in enumerate(voc.category_ids.tolist()):
        name = voc.category_names.get(cat, str(cat))[:24]
        rows.append(f"{name:<24} {_number(voc.ap07[k])} {_number(voc.ap12[k])} {int(voc.num_gt[k]):>6d}")
    rows.append(f"{'mean':<24} {_number(voc.map07)} {_number(voc.map12)}")
    return rows


def main(argv: Sequence[str] | None = None) -> int:
    """Run the CLI; returns the exit status (0, or 2 for bad input)."""
    parser = argparse.ArgumentParser(prog="python -m cvdemo.evaluate",
                                     description="COCO bbox evaluation (pycocotools' numbers) of a COCO "
                                                 "results file against COCO ground truth.")
    parser.add_argument("gt", help="ground truth, COCO instances json")
    parser.add_argument("dt", help="detections, COCO results json: [{image_id, category_id, bbox, score}]")
    parser.add_argument("--json", action="store_true", help="print the 12 statistics as a JSON object")
    parser.add_argument("--voc", action="store_true", help="add VOC07 and VOC12 AP@0.5 per class and mean")
    parser.add_argument("--per-class", action="store_true", help="add a per-class AP table")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING, format="warning: %(message)s", stream=sys.stderr)

    try:
        gt = load_coco_ground_truth(args.gt)
        dt = load_coco_detections(args.dt, gt)
    except DatasetError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    result = evaluate_coco(gt, dt)
    voc = evaluate_voc(gt, dt) if args.voc else None

    if args.json:
        out = metrics_dict(result, voc, per_class=args.per_class)
        print(json.dumps(out, indent=2))
        return 0
    lines = result.summary_lines()
    if args.per_class:
        lines += ["", *_per_class_table(result)]
    if voc is not None:
        lines += ["", "VOC AP@0.5 (difficult/crowd objects ignored)", *_voc_table(voc)]
    print("\n".join(lines))
    return 0


if __name__ == "__main__":
    sys.exit(main())
