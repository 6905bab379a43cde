"""COCO evaluation: the same numbers as pycocotools (the test-time reference), to 1e-9.

`random_coco_pair` (also used by test_assignment.py) makes small ground-truth/results
pairs full of the cases evaluators get wrong: crowd regions, mask area != box area, empty
images, images without detections, categories without ground truth, score ties, more
than 100 detections in one (image, category), boxes exactly on the area-range edges, and
integer boxes whose IoU is exactly a threshold.
"""
from __future__ import annotations

import contextlib
import copy
import io
from pathlib import Path

import numpy as np
import pytest
from pycocotools import mask as mask_utils
from pycocotools.coco import COCO
from pycocotools.cocoeval import COCOeval

from cvdemo.datasets import load_coco_detections, load_coco_ground_truth
from cvdemo.metrics import STAT_NAMES, CocoEvalParams, evaluate_coco
from cvdemo.metrics.greedy_matching import iou_xywh_coco

FIXTURE = Path(__file__).parent / "data" / "coco-val2014-100"
PUBLISHED = [0.505, 0.697, 0.573, 0.586, 0.519, 0.501, 0.387, 0.594, 0.595, 0.640, 0.566, 0.564]


def random_coco_pair(seed: int) -> tuple[dict, list[dict]]:
    """A small random COCO instances dict and results list (see the module docstring)."""
    rng = np.random.default_rng(seed)
    n_img, n_cat = int(rng.integers(1, 7)), int(rng.integers(1, 5))
    images = [{"id": 10 + 3 * i, "file_name": f"{i}.jpg", "width": 200, "height": 200} for i in range(n_img)]
    cats = [{"id": 1 + 2 * c, "name": f"c{c}"} for c in range(n_cat + 1)]  # the last one never has GT
    edge_sizes = [(32, 32), (96, 96), (16, 64), (31, 33), (8, 128)]  # areas 1024, 9216 exactly, ...
    anns, dets = [], []
    crowded = rng.random() < 0.5
    for im in images:
        if rng.random() < 0.15:
            continue  # an empty image (and no detections either)
        gts = []
        for _ in range(int(rng.integers(0, 9))):
            if rng.random() < 0.3:
                w, h = edge_sizes[int(rng.integers(len(edge_sizes)))]
            else:
                w, h = int(rng.integers(2, 120)), int(rng.integers(2, 120))
            x, y = int(rng.integers(0, 80)), int(rng.integers(0, 80))
            c = cats[int(rng.integers(n_cat))]["id"]
            area = float(w * h) if rng.random() < 0.5 else float(w * h * rng.choice([0.5, 0.9, 1.3]))
            if rng.random() < 0.2:
                area = float(rng.choice([32**2, 96**2]))  # mask area exactly on an edge
            crowd = int(crowded and rng.random() < 0.15)
            anns.append({"id": len(anns) + 1, "image_id": im["id"], "category_id": c,
                         "bbox": [x, y, w, h], "area": area, "iscrowd": crowd})
            gts.append((x, y, w, h, c))
            if rng.random() < 0.25:  # a twin 2 px to the right: a detection 1 px right ties on IoU
                anns.append({"id": len(anns) + 1, "image_id": im["id"], "category_id": c,
                             "bbox": [x + 2, y, w, h], "area": float(w * h), "iscrowd": 0})
                gts.append((x + 1, y, w, h, c))
        if rng.random() < 0.15:
            continue  # an image without detections
        n_det = int(rng.integers(0, 25))
        if rng.random() < 0.1 and gts:
            n_det = 130  # > 100 in one (image, category)
        same_cat = gts[0][4] if n_det == 130 else None
        for _ in range(n_det):
            if gts and rng.random() < 0.7:
                x, y, w, h, c = gts[int(rng.integers(len(gts)))]
                if rng.random() < 0.5:  # integer jitter: IoUs exactly at thresholds happen
                    x, y = x + int(rng.integers(-3, 4)), y + int(rng.integers(-3, 4))
                    w, h = max(1, w + int(rng.integers(-4, 5))), max(1, h + int(rng.integers(-4, 5)))
                else:
                    x, y = x + rng.normal(0, 0.1 * w), y + rng.normal(0, 0.1 * h)
                    w, h = w * np.exp(rng.normal(0, 0.15)), h * np.exp(rng.normal(0, 0.15))
                if rng.random() < 0.15:
                    c = cats[int(rng.integers(n_cat + 1))]["id"]
            else:
                w, h = edge_sizes[int(rng.integers(len(edge_sizes)))] if rng.random() < 0.3 else \
                    (float(rng.uniform(2, 100)), float(rng.uniform(2, 100)))
                x, y = float(rng.uniform(0, 100)), float(rng.uniform(0, 100))
                c = cats[int(rng.integers(n_cat + 1))]["id"]
            if same_cat is not None:
                c = same_cat
            if rng.random() < 0.03:
                w = 0.0  # a degenerate prediction: overlaps nothing, area 0 ("small")
            score = float(rng.choice([0.1, 0.5, 0.9])) if rng.random() < 0.4 else float(rng.random())
            box = [float(x), float(y), float(w), float(h)]
            dets.append({"image_id": im["id"], "category_id": c, "bbox": box, "score": score})
    if not dets:  # an empty results list is its own test: pycocotools crashes on it
        dets.append({"image_id": images[0]["id"], "category_id": cats[0]["id"],
                     "bbox": [1.0, 2.0, 30.0, 40.0], "score": 0.5})
    rng.shuffle(dets)
    return {"images": images, "annotations": anns, "categories": cats}, dets


def pycocotools_eval(gt: dict, dets: list[dict], params: CocoEvalParams | None = None) -> COCOeval:
    """pycocotools' evaluate + accumulate + summarize, silenced, on deep copies."""
    with contextlib.redirect_stdout(io.StringIO()):
        coco_gt = COCO()
        coco_gt.dataset = copy.deepcopy(gt)
        coco_gt.createIndex()
        coco_dt = coco_gt.loadRes(copy.deepcopy(dets))
        ev = COCOeval(coco_gt, coco_dt, "bbox")
        if params is not None:
            ev.params.iouThrs = np.array(params.iou_thresholds)
            ev.params.maxDets = list(params.max_dets)
            ev.params.areaRng = [list(r) for r in params.area_ranges]
            ev.params.areaRngLbl = list(params.area_labels)
            if params.image_ids is not None:
                ev.params.imgIds = list(params.image_ids)
            if params.category_ids is not None:
                ev.params.catIds = list(params.category_ids)
        ev.evaluate()
        ev.accumulate()
        ev.summarize()
    return ev


def ours(gt: dict, dets: list[dict], params: CocoEvalParams | None = None):
    ground_truth = load_coco_ground_truth(gt)
    return evaluate_coco(ground_truth, load_coco_detections(dets, ground_truth), params)


def assert_same(ref: COCOeval, got) -> None:
    np.testing.assert_allclose(got.stats, ref.stats, rtol=0, atol=1e-9)
    for name in ("precision", "recall", "scores"):
        np.testing.assert_allclose(getattr(got, name), ref.eval[name], rtol=0, atol=1e-12, err_msg=name)


def test_fixture_gives_the_published_numbers_and_pycocotools_to_1e9():
    gt_path = FIXTURE / "instances_val2014_100.json"
    dt_path = FIXTURE / "instances_val2014_fakebbox100_results.json"
    with contextlib.redirect_stdout(io.StringIO()) as printed:
        coco_gt = COCO(str(gt_path))
        ref = COCOeval(coco_gt, coco_gt.loadRes(str(dt_path)), "bbox")
        ref.evaluate()
        ref.accumulate()
        ref.summarize()
    ground_truth = load_coco_ground_truth(gt_path)
    got = evaluate_coco(ground_truth, load_coco_detections(dt_path, ground_truth))
    assert_same(ref, got)
    assert [round(s, 3) for s in got.stats] == PUBLISHED
    ref_lines = [line for line in printed.getvalue().splitlines() if line.startswith(" Average")]
    assert got.summary_lines() == ref_lines
    assert list(got.stats_dict()) == list(STAT_NAMES)


@pytest.mark.parametrize("seed", range(60))
def test_random_sets_match_pycocotools(seed):
    gt, dets = random_coco_pair(seed)
    assert_same(pycocotools_eval(gt, dets), ours(gt, dets))


def test_random_sets_cover_the_hard_cases():
    """The generator really produces what the parity test claims to cover."""
    pairs = [random_coco_pair(seed) for seed in range(60)]
    anns = [a for gt, _ in pairs for a in gt["annotations"]]
    assert any(a["iscrowd"] for a in anns)
    assert any(a["area"] != a["bbox"][2] * a["bbox"][3] for a in anns)
    assert any(a["area"] in (32**2, 96**2) for a in anns)
    assert any(d["bbox"][2] == 0 for _, dets in pairs for d in dets)
    assert any(len({d["score"] for d in dets}) < len(dets) for _, dets in pairs)  # ties
    groups = [np.unique([(d["image_id"], d["category_id"]) for d in dets], axis=0, return_counts=True)[1]
              for _, dets in pairs]
    assert any(counts.max() > 100 for counts in groups)
    image_ids = [{im["id"] for im in gt["images"]} for gt, _ in pairs]
    assert any(ids - {a["image_id"] for a in gt["annotations"]} for ids, (gt, _) in zip(image_ids, pairs))
    assert any(ids - {d["image_id"] for d in dets} for ids, (_, dets) in zip(image_ids, pairs))
    assert any({c["id"] for c in gt["categories"]} - {a["category_id"] for a in gt["annotations"]}
               for gt, _ in pairs)


@pytest.mark.parametrize("seed", range(8))
def test_custom_parameters_match_pycocotools(seed):
    gt, dets = random_coco_pair(100 + seed)
    params = CocoEvalParams(iou_thresholds=(0.3, 0.5, 0.62, 0.75, 0.9), max_dets=(3, 20, 100),
                            area_ranges=((0, 1e10), (0, 20**2), (20**2, 60**2), (60**2, 1e10)))
    assert_same(pycocotools_eval(gt, dets, params), ours(gt, dets, params))
    # a subset of the images and categories
    params = CocoEvalParams(image_ids=tuple(im["id"] for im in gt["images"][::2]),
                            category_ids=tuple(c["id"] for c in gt["categories"][1:]))
    assert_same(pycocotools_eval(gt, dets, params), ours(gt, dets, params))


def test_empty_results_give_zero_not_a_crash():
    gt, _ = random_coco_pair(3)
    got = ours(gt, [])
    has_gt = {a["category_id"] for a in gt["annotations"] if not a["iscrowd"]}
    assert got.stats[0] == 0.0 and got.stats[8] == 0.0
    per_class = got.per_class()
    assert {c for c, v in per_class.items() if v["AP"] == 0.0} == has_gt
    assert all(v["AP"] == -1 for c, v in per_class.items() if c not in has_gt)


def test_per_class_ap_is_the_mean_over_pycocotools_precision():
    gt, dets = random_coco_pair(7)
    ref = pycocotools_eval(gt, dets)
    per_class = ours(gt, dets).per_class()
    for k, cat in enumerate(ref.params.catIds):
        p = ref.eval["precision"][:, :, k, 0, -1]
        expected = np.mean(p[p > -1]) if (p > -1).any() else -1
        assert per_class[cat]["AP"] == pytest.approx(expected, abs=1e-12)
        p50 = p[0]
        expected50 = np.mean(p50[p50 > -1]) if (p50 > -1).any() else -1
        assert per_class[cat]["AP50"] == pytest.approx(expected50, abs=1e-12)


def test_equal_ious_go_to_the_last_ground_truth_like_pycocotools():
    # d1 overlaps A and B equally (IoU 0.818): pycocotools takes the last (B), so d2 gets A
    # (IoU 1) and both are TPs at every threshold; taking A would leave d2 B at IoU 0.667.
    gt = {"images": [{"id": 1}], "categories": [{"id": 1, "name": "x"}],
          "annotations": [{"id": i + 1, "image_id": 1, "category_id": 1, "bbox": [x, 0, 10, 10], "area": 100,
                           "iscrowd": 0} for i, x in enumerate([0, 2])]}
    dets = [{"image_id": 1, "category_id": 1, "bbox": [1, 0, 10, 10], "score": 0.9},
            {"image_id": 1, "category_id": 1, "bbox": [0, 0, 10, 10], "score": 0.8}]
    ref = pycocotools_eval(gt, dets)
    got = ours(gt, dets)
    assert_same(ref, got)
    assert got.stats[2] == pytest.approx(1.0)  # AP75: both TPs


def test_iou_is_bit_identical_to_pycocotools():
    rng = np.random.default_rng(0)
    dets = np.concatenate([rng.uniform(0, 50, (60, 2)), rng.uniform(0, 40, (60, 2))], axis=1)
    dets[:20] = np.round(dets[:20])
    dets[50:, 2] = 0.0  # zero-width detections
    gts = np.concatenate([rng.uniform(0, 50, (25, 2)), rng.uniform(1, 40, (25, 2))], axis=1)
    gts[:10] = np.round(gts[:10])
    crowd = rng.random(25) < 0.3
    ref = mask_utils.iou(dets.tolist(), gts.tolist(), crowd.astype(np.uint8).tolist())
    got = iou_xywh_coco(dets[:, None], gts[None], crowd[None])
    assert np.array_equal(got, ref)


ONE_DET = [{"image_id": 1, "category_id": 1, "bbox": [0, 0, 4, 4], "score": 0.5}]
DEGENERATE = {
    "no objects at all": {"images": [{"id": 1}], "categories": [{"id": 1}], "annotations": []},
    "only a crowd region": {"images": [{"id": 1}], "categories": [{"id": 1}], "annotations": [
        {"id": 1, "image_id": 1, "category_id": 1, "bbox": [0, 0, 4, 4], "area": 16, "iscrowd": 1}]},
    "object of another class": {
        "images": [{"id": 1}, {"id": 2}], "categories": [{"id": 1}, {"id": 2}],
        "annotations": [{"id": 9, "image_id": 2, "category_id": 2, "bbox": [0, 0, 4, 4], "area": 16,
                         "iscrowd": 0}]},
}


@pytest.mark.parametrize("case", DEGENERATE)
def test_degenerate_sets_match_pycocotools(case):
    assert_same(pycocotools_eval(DEGENERATE[case], ONE_DET), ours(DEGENERATE[case], ONE_DET))
