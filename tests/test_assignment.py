"""Per-object assignment: the same TP/FP/ignore decisions as pycocotools' evalImgs."""
from __future__ import annotations

import numpy as np
import pytest
from test_coco_eval import pycocotools_eval, random_coco_pair

from cvdemo.datasets import Detections, load_coco_detections, load_coco_ground_truth
from cvdemo.metrics.assignment import FOUND, FP, IGNORED, MISSED, SKIPPED, TP, ObjectAssigner
from cvdemo.metrics.confusion import confusion_matrix
from cvdemo.metrics.greedy_matching import iou_xywh_coco
from cvdemo.metrics.tide import ERROR_NAMES, tide_errors


def load(seed):
    gt_dict, dets = random_coco_pair(seed)
    gt = load_coco_ground_truth(gt_dict)
    return gt_dict, dets, gt, load_coco_detections(dets, gt)


@pytest.mark.parametrize("seed", range(30))
def test_assignment_is_pycocotools_eval_imgs(seed):
    gt_dict, dets, gt, dt = load(seed)
    ref = pycocotools_eval(gt_dict, dets)
    assigner = ObjectAssigner(gt, dt, min_iou=0.5)
    row_of_ann = {int(a): i for i, a in enumerate(gt.ann_ids)}
    by_t = {t: assigner.assign(float(thr), score_threshold=-np.inf)
            for t, thr in enumerate(ref.params.iouThrs)}
    seen_dets = set()
    for e in ref.evalImgs:
        if e is None or e["aRng"] != ref.params.areaRng[0]:
            continue
        det_rows = np.array(e["dtIds"], dtype=np.int64) - 1  # loadRes numbers results 1..M in file order
        gt_rows = np.array([row_of_ann[g] for g in e["gtIds"]], dtype=np.int64)
        seen_dets.update(det_rows.tolist())
        for t, a in by_t.items():
            matched_ann = np.r_[0, gt.ann_ids][a.det_gt[det_rows] + 1]  # 0: unmatched, as pycocotools
            np.testing.assert_array_equal(matched_ann, e["dtMatches"][t])
            np.testing.assert_array_equal(a.det_status[det_rows] == IGNORED, e["dtIgnore"][t].astype(bool))
            np.testing.assert_array_equal(a.gt_det[gt_rows] + 1, e["gtMatches"][t])
            np.testing.assert_array_equal(a.gt_status[gt_rows] == IGNORED, e["gtIgnore"].astype(bool))
            found = (a.gt_status[gt_rows] == FOUND)
            np.testing.assert_array_equal(found, (e["gtMatches"][t] > 0) & ~e["gtIgnore"].astype(bool))
    beyond = np.setdiff1d(np.arange(len(dt)), list(seen_dets))
    assert np.all(by_t[0].det_status[beyond] == SKIPPED)  # beyond 100 per image and category


@pytest.mark.parametrize("seed", range(10))
def test_score_threshold_is_the_same_as_dropping_the_detections(seed):
    _, _, gt, dt = load(seed)
    thr = float(np.median(dt.scores))
    got = ObjectAssigner(gt, dt).assign(0.6, score_threshold=thr)
    keep = np.flatnonzero(dt.scores >= thr)
    sub = Detections(dt.image_ids[keep], dt.category_ids[keep], dt.boxes_xywh[keep], dt.scores[keep])
    ref = ObjectAssigner(gt, sub).assign(0.6)
    np.testing.assert_array_equal(got.det_status[keep], ref.det_status)
    np.testing.assert_array_equal(got.det_gt[keep], ref.det_gt)
    np.testing.assert_array_equal(got.gt_status, ref.gt_status)
    assert np.all(got.det_status[dt.scores < thr] == SKIPPED)


def test_matched_iou_and_counts_are_consistent():
    _, _, gt, dt = load(4)
    a = ObjectAssigner(gt, dt).assign(0.5)
    tp = np.flatnonzero(a.det_status == TP)
    g = a.det_gt[tp]
    assert np.all(a.det_iou[tp] >= 0.5)
    expected = iou_xywh_coco(dt.boxes_xywh[tp], gt.boxes_xywh[g], gt.iscrowd[g])
    np.testing.assert_array_equal(a.det_iou[tp], expected)
    np.testing.assert_array_equal(gt.category_ids[g], dt.category_ids[tp])
    assert len(np.unique(g)) == len(g)  # one detection per object
    np.testing.assert_array_equal(a.gt_det[g], tp)
    counts = a.counts()
    assert counts["tp"] == len(tp) == np.count_nonzero(a.gt_status == FOUND)
    assert counts["fn"] == np.count_nonzero(a.gt_status == MISSED)
    assert counts["fp"] == np.count_nonzero(a.det_status == FP)


def test_rows_of_image():
    _, _, gt, dt = load(5)
    assigner = ObjectAssigner(gt, dt)
    for im in gt.images:
        det_rows, gt_rows = assigner.rows_of_image(im.id)
        np.testing.assert_array_equal(det_rows, np.flatnonzero(dt.image_ids == im.id))
        np.testing.assert_array_equal(gt_rows, np.flatnonzero(gt.image_ids == im.id))


def test_rejects_thresholds_below_the_cached_minimum():
    _, _, gt, dt = load(1)
    with pytest.raises(ValueError, match="min_iou"):
        ObjectAssigner(gt, dt, min_iou=0.3).assign(0.2)


def direct_confusion(gt, dt, iou_thr, score_thr):
    """Class-agnostic COCO matching image by image, pycocotools' loop written out (crowd = ignore)."""
    cats = sorted(int(c) for c in gt.category_id_array)
    col = {c: i for i, c in enumerate(cats)}
    bg = len(cats)
    m = np.zeros((bg + 1, bg + 1), np.int64)
    crowd = gt.iscrowd
    for im in gt.images:
        gts = sorted(np.flatnonzero(gt.image_ids == im.id).tolist(), key=lambda g: crowd[g])  # crowd last
        dets = np.flatnonzero((dt.image_ids == im.id) & (dt.scores >= score_thr))
        dets = dets[np.argsort(-dt.scores[dets], kind="mergesort")]
        used = set()
        for d in dets:
            best, best_iou = -1, min(iou_thr, 1 - 1e-10)
            for g in gts:
                if g in used and not crowd[g]:
                    continue
                if best > -1 and not crowd[best] and crowd[g]:
                    break
                iou = iou_xywh_coco(dt.boxes_xywh[d], gt.boxes_xywh[g], crowd[g])
                if iou < best_iou:
                    continue
                best, best_iou = g, iou
            if best == -1:
                m[bg, col[int(dt.category_ids[d])]] += 1
            elif not crowd[best]:
                used.add(best)
                m[col[int(gt.category_ids[best])], col[int(dt.category_ids[d])]] += 1
        for g in gts:
            if g not in used and not crowd[g]:
                m[col[int(gt.category_ids[g])], bg] += 1
    return m


@pytest.mark.parametrize("seed", range(12))
def test_confusion_matrix_matches_a_direct_implementation(seed):
    _, _, gt, dt = load(seed)
    got = confusion_matrix(gt, dt, iou_threshold=0.5, score_threshold=0.3)
    np.testing.assert_array_equal(got.matrix, direct_confusion(gt, dt, 0.5, 0.3))
    assert got.matrix[:-1].sum() == np.count_nonzero(~gt.iscrowd)  # every counted object once


def direct_tide(gt, dt, a, fg, bg):
    """TIDE's tests for each false positive, one detection and one object at a time."""
    errors, pointed = {}, set()
    counted = [g for g in range(len(gt)) if a.gt_status[g] != IGNORED]
    for d in np.flatnonzero(a.det_status == FP):
        objs = [g for g in counted if gt.image_ids[g] == dt.image_ids[d]]
        iou = {g: float(iou_xywh_coco(dt.boxes_xywh[d], gt.boxes_xywh[g], False)) for g in objs}
        same = [g for g in objs if gt.category_ids[g] == dt.category_ids[d]]
        other = [g for g in objs if gt.category_ids[g] != dt.category_ids[d]]
        best_same = max(same, key=lambda g: iou[g], default=None)  # max() keeps the first of ties
        best_other = max(other, key=lambda g: iou[g], default=None)
        if best_same is not None and bg <= iou[best_same] <= fg:
            errors[d] = "loc"
            pointed.add(best_same)
        elif best_other is not None and iou[best_other] >= fg:
            errors[d] = "cls"
            pointed.add(best_other)
        elif any(iou[g] >= fg for g in same if a.gt_status[g] == FOUND):
            errors[d] = "dupe"
        elif all(v <= bg for v in iou.values()):
            errors[d] = "bkg"
        else:
            errors[d] = "both"
    missed = {g for g in counted if a.gt_status[g] == MISSED and g not in pointed}
    return errors, missed


@pytest.mark.parametrize("seed", range(12))
def test_tide_errors_match_a_direct_implementation(seed):
    _, _, gt, dt = load(seed)
    got = tide_errors(gt, dt, fg_threshold=0.5, bg_threshold=0.1)
    a = ObjectAssigner(gt, dt).assign(0.5)
    errors, missed = direct_tide(gt, dt, a, 0.5, 0.1)
    assert {int(d): ERROR_NAMES[e] for d, e in enumerate(got.det_error) if e >= 0} == errors
    assert set(np.flatnonzero(got.missed).tolist()) == missed
    counts = got.counts()
    assert sum(counts[n] for n in ERROR_NAMES) == a.counts()["fp"]
