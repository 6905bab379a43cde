"""The Evaluate tab's counts reconcile: on the shapes example with images (12 scenes and the shipped detr-shapes'
predictions), at every threshold the identities of `cvdemo.metrics.reconcile` hold exactly, their figures are the
very numbers the tab shows elsewhere (the counts line, the confusion matrix's background cells, TIDE's table), and
the tab's text states each identity with its numbers and defines each figure, in English and Chinese."""
from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pytest

from cvdemo.datasets import load_coco_detections, load_coco_ground_truth
from cvdemo.datasets.structure import Detections
from cvdemo.metrics import ObjectAssigner, confusion_matrix, tide_errors
from cvdemo.metrics.browse import load_evaluation
from cvdemo.metrics.reconcile import reconcile
from cvdemo.ui.evaluation_viewer import reconcile_markdown, tide_markdown
from cvdemo.ui.texts.evaluate import T

ROOT = Path(__file__).parents[1]
SHAPES = ROOT / "examples" / "shapes-detr-eval"
COCO = Path(__file__).parent / "data" / "coco-val2014-100"
THRESHOLDS = [(iou, score) for iou in (0.2, 0.5, 0.75, 0.95) for score in (0.0, 0.3, 0.7)]


@pytest.fixture(scope="module")
def shapes():
    gt = load_coco_ground_truth(SHAPES / "annotations.json")
    return gt, load_coco_detections(SHAPES / "predictions.json", gt)


def test_the_example_has_images_annotations_and_the_shipped_models_predictions(shapes):
    gt, dt = shapes
    images = sorted((SHAPES / "images").glob("*.png"))
    assert [p.name for p in images] == sorted(info.file_name for info in gt.images) and len(images) >= 10
    assert len(dt) == 10 * len(gt.images)  # every query of detr-shapes (10) on every image, as DETR evaluates
    assert sum(p.stat().st_size for p in SHAPES.rglob("*") if p.is_file()) < 600_000  # small enough for the repo


@pytest.mark.parametrize(("iou", "score"), THRESHOLDS)
def test_the_identities_hold_exactly_and_use_the_numbers_shown_elsewhere(shapes, iou, score):
    gt, dt = shapes
    assigner = ObjectAssigner(gt, dt, min_iou=0.2)
    rec = reconcile(gt, dt, iou, score, assigner=assigner)
    for identity in rec.identities():
        assert identity.holds(), identity
    f = rec.figures()
    counts = assigner.assign(iou, score).counts()  # the counts line
    assert (f["tp"], f["fp"], f["fn"]) == (counts["tp"], counts["fp"], counts["fn"])
    cm = confusion_matrix(gt, dt, iou_threshold=iou, score_threshold=score).matrix
    assert f["bg_col"] == cm[:-1, -1].sum() and f["bg_row"] == cm[-1, :-1].sum()
    tide = tide_errors(gt, dt, fg_threshold=iou, score_threshold=score, assigner=assigner).counts()
    assert f["tide_missed"] == tide["missed"]
    assert [f[f"fp_{k}"] for k in ("loc", "cls", "dupe", "bkg", "both")] == [tide[k] for k in
                                                                           ("loc", "cls", "dupe", "bkg", "both")]
    # the identities written out: FN = TIDE missed + FN with a loc error + FN with (only) a cls error, ...
    assert f["fn"] == f["tide_missed"] + f["fn_loc"] + f["fn_cls"]
    assert f["bg_col"] == f["fn"] - f["fn_cm_wrong"] - f["fn_cm_right"] + f["tp_bg_col"]
    assert f["objects"] == f["tp"] + f["fn"] == int((~gt.iscrowd).sum())
    assert f["dets"] == f["tp"] + f["fp"] + f["ignored_dets"] + f["beyond_top"] == int((dt.scores >= score).sum())
    assert f["fp_bkg"] == f["bg_row_fp_bkg"] + f["crowd_fp_bkg"]


def test_the_default_thresholds_show_every_view_disagreeing_and_reconciled(shapes):
    """At the tab's defaults (IoU 0.5, score 0.3) the three views give different numbers, and the identities say
    why: the example is worth showing."""
    gt, dt = shapes
    f = reconcile(gt, dt, 0.5, 0.3).figures()
    assert f["fn"] != f["bg_col"] or f["fn"] != f["tide_missed"]
    assert f["bg_row"] != f["fp_bkg"]


def test_identities_hold_on_coco_with_crowd_regions_and_many_classes():
    gt = load_coco_ground_truth(COCO / "instances_val2014_100.json")
    dt = load_coco_detections(COCO / "instances_val2014_fakebbox100_results.json", gt)
    assigner = ObjectAssigner(gt, dt, min_iou=0.2)
    for iou, score in THRESHOLDS:
        reconcile(gt, dt, iou, score, assigner=assigner).check()


def test_identities_hold_beyond_the_top_100_and_on_random_boxes(shapes):
    """Many detections per image and class (COCO keeps 100; the confusion matrix keeps all): still exact."""
    gt, _ = shapes
    rng = np.random.default_rng(0)
    n = 150 * len(gt.images)
    xy = rng.uniform(0, 100, (n, 2))
    dt = Detections(image_ids=np.repeat([i.id for i in gt.images], 150),
                    category_ids=rng.choice([c.id for c in gt.categories[:1]], n),  # 150 of one class per image
                    boxes_xywh=np.concatenate([xy, rng.uniform(5, 60, (n, 2))], axis=1), scores=rng.uniform(0, 1, n))
    for iou, score in [(0.2, 0.0), (0.5, 0.1), (0.5, 0.5)]:
        rec = reconcile(gt, dt, iou, score)
        rec.check()
        assert rec.figures()["beyond_top"] > 0 or score > 0


@pytest.mark.parametrize("locale", ["en", "zh-CN"])
def test_the_text_states_each_identity_with_its_numbers(shapes, tmp_path, locale):
    files = [("annotations.json", str(SHAPES / "annotations.json"))]
    files += [(p.name, str(p)) for p in sorted((SHAPES / "images").glob("*.png"))]
    browser = load_evaluation(tmp_path / "e", files, [("predictions.json", str(SHAPES / "predictions.json"))])
    try:
        assert len(browser.dataset.image_files) == len(browser.gt.images)  # images: no blank canvas
        rec = browser.reconciliation(0.5, 0.3)
        text = reconcile_markdown(rec, locale)
        assert text in tide_markdown(browser, 0.5, 0.3, locale)  # shown beside TIDE's table
        name = {"fn": T.text("rc_fn", locale), "tide_missed": T.text("rc_tide_missed", locale),
                "bg_col": T.text("rc_bg_col", locale), "bg_row": T.text("rc_bg_row", locale)}
        lines = [line for line in text.splitlines() if line.startswith("- ")]
        assert len(lines) == len(rec.identities())
        for identity, line in zip(rec.identities(), lines):
            numbers = [int(v.replace(",", "")) for v in re.findall(r"\*\*([\d,]+)\*\*", line)]
            key, total = identity.total
            assert numbers[0] == total
            shown = [(s, v) for s, _, v in identity.terms if v] or [(1, identity.terms[0][2])]
            assert numbers[1:] == [v for _, v in shown]
            assert total == sum(s * v for s, v in shown)
            if key in name:
                assert line.startswith(f"- {name[key]} **")
        f = rec.figures()
        assert f"- {name['fn']} **{f['fn']}** =" in text
        assert T.text("rc_def_bg_col", locale) in text and T.text("rc_def_tide_missed", locale) in text
        assert T.text("rc_def_fn_loc", locale) in text and T.text("rc_def_fn_cls", locale) in text
        if locale == "zh-CN":
            assert "counts line" not in text and "background row" not in text
    finally:
        browser.close()
