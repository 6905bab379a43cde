"""VOC AP against a direct, loop-by-loop implementation of the devkit's voc_eval + voc_ap."""
from __future__ import annotations

import numpy as np
import pytest

from cvdemo.datasets import Category, Detections, GroundTruth, ImageInfo
from cvdemo.metrics.voc import evaluate_voc, voc_ap


def devkit_voc_ap(rec, prec, use_07_metric):
    """py-faster-rcnn's voc_eval.voc_ap, as published."""
    if use_07_metric:
        ap = 0.0
        for t in np.arange(0.0, 1.1, 0.1):
            if np.sum(rec >= t) == 0:
                p = 0
            else:
                p = np.max(prec[rec >= t])
            ap = ap + p / 11.0
    else:
        mrec = np.concatenate(([0.0], rec, [1.0]))
        mpre = np.concatenate(([0.0], prec, [0.0]))
        for i in range(mpre.size - 1, 0, -1):
            mpre[i - 1] = np.maximum(mpre[i - 1], mpre[i])
        i = np.where(mrec[1:] != mrec[:-1])[0]
        ap = np.sum((mrec[i + 1] - mrec[i]) * mpre[i + 1])
    return ap


def devkit_voc_eval(gt: GroundTruth, dt: Detections, cat: int, thresh: float, plus_one: bool):
    """voc_eval's matching for one class, with boxes as corners (x, y, x + w, y + h)."""
    one = 1.0 if plus_one else 0.0
    recs = {}
    for i in np.flatnonzero(gt.category_ids == cat):
        x, y, w, h = gt.boxes_xywh[i]
        r = recs.setdefault(int(gt.image_ids[i]), {"bbox": [], "difficult": [], "det": []})
        r["bbox"].append([x, y, x + w, y + h])
        r["difficult"].append(bool(gt.ignore[i] or gt.iscrowd[i]))
        r["det"].append(False)
    npos = sum(not d for r in recs.values() for d in r["difficult"])
    idx = np.flatnonzero(dt.category_ids == cat)
    idx = idx[np.argsort(-dt.scores[idx], kind="mergesort")]
    tp, fp = np.zeros(len(idx)), np.zeros(len(idx))
    for d, i in enumerate(idx):
        r = recs.get(int(dt.image_ids[i]), {"bbox": [], "difficult": [], "det": []})
        x, y, w, h = dt.boxes_xywh[i]
        bb = [x, y, x + w, y + h]
        bbgt = np.array(r["bbox"], dtype=float).reshape(-1, 4)
        ovmax = -np.inf
        if bbgt.size > 0:
            ixmin = np.maximum(bbgt[:, 0], bb[0])
            iymin = np.maximum(bbgt[:, 1], bb[1])
            ixmax = np.minimum(bbgt[:, 2], bb[2])
            iymax = np.minimum(bbgt[:, 3], bb[3])
            iw = np.maximum(ixmax - ixmin + one, 0.0)
            ih = np.maximum(iymax - iymin + one, 0.0)
            inters = iw * ih
            uni = ((bb[2] - bb[0] + one) * (bb[3] - bb[1] + one)
                   + (bbgt[:, 2] - bbgt[:, 0] + one) * (bbgt[:, 3] - bbgt[:, 1] + one) - inters)
            overlaps = inters / uni
            ovmax = np.max(overlaps)
            jmax = np.argmax(overlaps)
        if ovmax > thresh:
            if not r["difficult"][jmax]:
                if not r["det"][jmax]:
                    tp[d] = 1.0
                    r["det"][jmax] = True
                else:
                    fp[d] = 1.0
        else:
            fp[d] = 1.0
    fp, tp = np.cumsum(fp), np.cumsum(tp)
    rec = tp / float(npos) if npos else np.zeros_like(tp)
    prec = tp / np.maximum(tp + fp, np.finfo(np.float64).eps)
    return rec, prec, npos


def random_voc_set(seed: int) -> tuple[GroundTruth, Detections]:
    rng = np.random.default_rng(seed)
    n_img, n_cat = 6, 3
    boxes, img, cat, difficult = [], [], [], []
    for i in range(n_img):
        for _ in range(int(rng.integers(0, 7))):
            w, h = int(rng.integers(5, 60)), int(rng.integers(5, 60))
            boxes.append([int(rng.integers(0, 100)), int(rng.integers(0, 100)), w, h])
            img.append(i + 1)
            cat.append(int(rng.integers(1, n_cat + 1)))
            difficult.append(rng.random() < 0.2)
            if rng.random() < 0.3:  # a twin 2 px to the right: a detection 1 px right ties on IoU
                boxes.append([boxes[-1][0] + 2, *boxes[-1][1:]])
                img.append(i + 1)
                cat.append(cat[-1])
                difficult.append(rng.random() < 0.2)
    gt = GroundTruth(images=[ImageInfo(i + 1, f"{i}.jpg", 200, 200) for i in range(n_img)],
                     categories=[Category(c, f"c{c}") for c in range(1, n_cat + 2)],  # the last: no objects
                     ann_ids=np.arange(1, len(boxes) + 1), image_ids=img, category_ids=cat,
                     boxes_xywh=np.array(boxes, float).reshape(-1, 4), areas=[b[2] * b[3] for b in boxes],
                     ignore=difficult)
    dboxes, dimg, dcat, scores = [], [], [], []
    for _ in range(int(rng.integers(10, 80))):
        if len(boxes) and rng.random() < 0.7:
            j = int(rng.integers(len(boxes)))
            jitter = rng.integers(-2, 3, 4) if rng.random() < 0.5 else rng.normal(0, 3, 4)
            b = np.array(boxes[j], float) + jitter
            b[2:] = np.maximum(b[2:], 1)
            dimg.append(img[j])
            dcat.append(cat[j] if rng.random() < 0.8 else int(rng.integers(1, n_cat + 2)))
        else:
            b = np.array([rng.uniform(0, 100), rng.uniform(0, 100), rng.uniform(3, 50), rng.uniform(3, 50)])
            dimg.append(int(rng.integers(1, n_img + 1)))
            dcat.append(int(rng.integers(1, n_cat + 2)))
        dboxes.append(b)
        scores.append(float(rng.choice([0.3, 0.6])) if rng.random() < 0.3 else float(rng.random()))
    return gt, Detections(dimg, dcat, np.array(dboxes).reshape(-1, 4), scores)


@pytest.mark.parametrize("seed", range(25))
@pytest.mark.parametrize("plus_one", [False, True])
def test_voc_ap_matches_the_devkit(seed, plus_one):
    gt, dt = random_voc_set(seed)
    got = evaluate_voc(gt, dt, 0.5, legacy_plus_one=plus_one)
    for k, cat in enumerate(got.category_ids):
        rec, prec, npos = devkit_voc_eval(gt, dt, int(cat), 0.5, plus_one)
        assert got.num_gt[k] == npos
        if npos == 0:
            assert np.isnan(got.ap07[k]) and np.isnan(got.ap12[k])
            continue
        np.testing.assert_allclose(got.recall[k], rec, rtol=0, atol=1e-12)
        np.testing.assert_allclose(got.precision[k], prec, rtol=0, atol=1e-12)
        assert got.ap07[k] == pytest.approx(devkit_voc_ap(rec, prec, True), abs=1e-12)
        assert got.ap12[k] == pytest.approx(devkit_voc_ap(rec, prec, False), abs=1e-12)
    finite = np.isfinite(got.ap12)
    assert got.map12 == pytest.approx(got.ap12[finite].mean())
    assert got.map07 == pytest.approx(got.ap07[finite].mean())


@pytest.mark.parametrize("seed", range(30))
def test_voc_ap_function_matches_the_devkit(seed):
    rng = np.random.default_rng(seed)
    n = int(rng.integers(1, 40))
    tp = rng.random(n) < 0.5
    ignored = rng.random(n) < 0.1
    tp_cum = np.cumsum(tp & ~ignored).astype(float)
    fp_cum = np.cumsum(~tp & ~ignored).astype(float)
    rec = tp_cum / max(int(tp.sum()) + int(rng.integers(0, 5)), 1)
    prec = tp_cum / np.maximum(tp_cum + fp_cum, np.finfo(np.float64).eps)
    for mode in (True, False):
        assert voc_ap(rec, prec, mode) == pytest.approx(devkit_voc_ap(rec, prec, mode), abs=1e-12)


def test_the_two_voc_modes_differ_where_they_should():
    # one TP at the top, then FPs, then a TP: recall 0.5 at precision 1, recall 1 at precision 0.5
    rec = np.array([0.5, 0.5, 0.5, 1.0])
    prec = np.array([1.0, 0.5, 1 / 3, 0.5])
    assert voc_ap(rec, prec, use_07_metric=False) == pytest.approx(0.5 * 1.0 + 0.5 * 0.5)
    assert voc_ap(rec, prec, use_07_metric=True) == pytest.approx((6 * 1.0 + 5 * 0.5) / 11)
