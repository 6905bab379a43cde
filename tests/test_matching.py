"""DETR's Hungarian matcher and the one-to-many IoU assignment, against reference implementations."""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torchvision.ops as tvops
from scipy.optimize import linear_sum_assignment
from torchvision.models.detection._utils import Matcher as TorchvisionMatcher
from transformers.loss.loss_for_object_detection import HungarianMatcher as HFMatcher

from cvdemo.boxes import box_cxcywh_to_xyxy, box_iou_xyxy
from cvdemo.matching import (
    HungarianMatcher,
    IoUAssignment,
    MatchCosts,
    OneToManyMatcher,
    max_iou_assignment,
    nms_xyxy,
)


def make_batch(sizes, num_queries=20, num_classes=7, seed=0, dtype=torch.float32):
    g = torch.Generator().manual_seed(seed)
    outputs = {
        "pred_logits": torch.randn(len(sizes), num_queries, num_classes + 1, generator=g, dtype=dtype) * 2,
        "pred_boxes": torch.rand(len(sizes), num_queries, 4, generator=g, dtype=dtype) * 0.6 + 0.2,
    }
    targets = [
        {
            "labels": torch.randint(0, num_classes, (n,), generator=g),
            "boxes": torch.rand(n, 4, generator=g, dtype=dtype) * 0.6 + 0.2,
        }
        for n in sizes
    ]
    return outputs, targets


def detr_full_batch_costs(outputs, targets, w_class=1.0, w_bbox=5.0, w_giou=2.0):
    """facebookresearch/detr's own formulation: one [B*Q, sum n] matrix, split afterwards."""
    batch, queries = outputs["pred_logits"].shape[:2]
    prob = outputs["pred_logits"].flatten(0, 1).softmax(-1)
    boxes = outputs["pred_boxes"].flatten(0, 1)
    tgt_ids = torch.cat([t["labels"] for t in targets])
    tgt_boxes = torch.cat([t["boxes"] for t in targets])
    c_class = -prob[:, tgt_ids]
    c_bbox = torch.cdist(boxes, tgt_boxes, p=1)
    c_giou = -tvops.generalized_box_iou(
        tvops.box_convert(boxes, "cxcywh", "xyxy"), tvops.box_convert(tgt_boxes, "cxcywh", "xyxy")
    )
    sizes = [len(t["labels"]) for t in targets]
    out = []
    for term in (c_class, c_bbox, c_giou):
        split = term.view(batch, queries, -1).split(sizes, -1)
        out.append([block[i] for i, block in enumerate(split)])
    totals = [w_class * a + w_bbox * b + w_giou * c for a, b, c in zip(*out)]
    return (*out, totals)


def test_cost_terms_equal_detr_full_batch_formulation():
    outputs, targets = make_batch([3, 0, 5, 1], dtype=torch.float64)
    costs = HungarianMatcher(cost_class=1, cost_bbox=5, cost_giou=2).cost_terms(outputs, targets)
    ref_class, ref_bbox, ref_giou, ref_total = detr_full_batch_costs(outputs, targets)
    assert len(costs) == 4 and all(isinstance(c, MatchCosts) for c in costs)
    for i, c in enumerate(costs):
        assert c.total.shape == (20, len(targets[i]["labels"]))
        torch.testing.assert_close(c["class"], ref_class[i])
        torch.testing.assert_close(c.bbox, ref_bbox[i])
        torch.testing.assert_close(c.giou, ref_giou[i])
        torch.testing.assert_close(c.total, ref_total[i])
        assert set(c.to_numpy()) == {"class", "bbox", "giou", "total"}
    assert costs[0].weights == (1.0, 5.0, 2.0)


def test_matching_equals_transformers_and_detr_full_batch():
    outputs, targets = make_batch([4, 2, 7, 0, 1], num_queries=15, seed=1)
    ours = HungarianMatcher(cost_class=1, cost_bbox=5, cost_giou=2)(outputs, targets)
    hf = HFMatcher(class_cost=1, bbox_cost=5, giou_cost=2)(
        {"logits": outputs["pred_logits"], "pred_boxes": outputs["pred_boxes"]},
        [{"class_labels": t["labels"], "boxes": t["boxes"]} for t in targets],
    )
    *_, totals = detr_full_batch_costs(outputs, targets)
    for (src, tgt), (hf_src, hf_tgt), total in zip(ours, hf, totals):
        assert src.dtype == torch.int64 and tgt.dtype == torch.int64
        torch.testing.assert_close(src, hf_src)
        torch.testing.assert_close(tgt, hf_tgt)
        ref_rows, ref_cols = linear_sum_assignment(total.numpy())
        np.testing.assert_array_equal(src.numpy(), ref_rows)
        np.testing.assert_array_equal(tgt.numpy(), ref_cols)
        assert len(src) == total.shape[1]  # every target gets a query


def test_batched_matching_equals_one_image_at_a_time():
    outputs, targets = make_batch([6, 0, 3, 9, 1, 2], num_queries=12, seed=2)
    matcher = HungarianMatcher()
    batched = matcher(outputs, targets)
    for i, (src, tgt) in enumerate(batched):
        alone = matcher({k: v[i : i + 1] for k, v in outputs.items()}, [targets[i]])[0]
        torch.testing.assert_close(src, alone[0])
        torch.testing.assert_close(tgt, alone[1])


def test_empty_targets_and_single_query():
    outputs, targets = make_batch([0, 0], num_queries=5)
    result = HungarianMatcher()(outputs, targets)
    assert all(len(src) == 0 and len(tgt) == 0 and src.dtype == torch.int64 for src, tgt in result)
    assert [c.total.shape for c in HungarianMatcher().cost_terms(outputs, targets)] == [(5, 0), (5, 0)]

    no_images = {"pred_logits": torch.zeros(0, 5, 3), "pred_boxes": torch.zeros(0, 5, 4)}
    assert HungarianMatcher()(no_images, []) == [] and HungarianMatcher().cost_terms(no_images, []) == []

    outputs, targets = make_batch([1, 0], num_queries=1, seed=3)
    result = HungarianMatcher()(outputs, targets)
    assert result[0][0].tolist() == [0] and result[0][1].tolist() == [0]
    assert len(result[1][0]) == 0


def test_more_targets_than_queries_is_a_clear_error():
    outputs, targets = make_batch([2, 6], num_queries=5)
    with pytest.raises(ValueError, match=r"image 1 has 6 target objects but the model has only 5 queries"):
        HungarianMatcher()(outputs, targets)


def test_nan_predictions_raise_naming_the_image_or_are_matched_last():
    outputs, targets = make_batch([2, 3], num_queries=6, seed=4)
    outputs["pred_boxes"][1, 0] = float("nan")
    outputs["pred_logits"][1, 4, 2] = float("inf")
    with pytest.raises(ValueError, match=r"image 1: .*queries \[0, 4\]"):
        HungarianMatcher()(outputs, targets)
    result = HungarianMatcher(nonfinite="replace")(outputs, targets)
    assert not {0, 4} & set(result[1][0].tolist())  # finite queries are preferred
    # the clean image is matched exactly as without the bad one
    clean = HungarianMatcher()({k: v[:1] for k, v in outputs.items()}, targets[:1])[0]
    torch.testing.assert_close(result[0][0], clean[0])
    # with too few finite queries, the non-finite ones are still used, and the rest stays optimal
    outputs["pred_boxes"][1, 1:4] = float("nan")
    result = HungarianMatcher(nonfinite="replace")(outputs, targets)
    assert sorted(result[1][1].tolist()) == [0, 1, 2] and 5 in result[1][0].tolist()


def test_bad_inputs_are_explained():
    outputs, targets = make_batch([2], num_queries=4, num_classes=3)
    with pytest.raises(KeyError, match="pred_logits"):
        HungarianMatcher()({"logits": outputs["pred_logits"], "pred_boxes": outputs["pred_boxes"]}, targets)
    with pytest.raises(ValueError, match=r"labels must be in \[0, 3\)"):
        HungarianMatcher()(outputs, [{"labels": torch.tensor([0, 3]), "boxes": targets[0]["boxes"]}])
    with pytest.raises(ValueError, match="targets\\[0\\]: boxes contain NaN"):
        HungarianMatcher()(
            outputs, [{"labels": torch.tensor([0, 1]), "boxes": torch.full((2, 4), float("nan"))}]
        )
    with pytest.raises(ValueError, match="2 target dicts for a batch of 1"):
        HungarianMatcher()(outputs, targets * 2)
    with pytest.raises(ValueError, match="all matcher costs are 0"):
        HungarianMatcher(0, 0, 0)
    with pytest.raises(KeyError, match="'labels' and 'boxes'"):
        HungarianMatcher()(outputs, [{"class_labels": torch.tensor([0]), "boxes": torch.rand(1, 4)}])


def test_degenerate_predicted_boxes_are_matched_without_error():
    outputs, targets = make_batch([3], num_queries=5, seed=5)
    outputs["pred_boxes"][0, :2, 2:] = 0.0  # zero width and height, as a saturated sigmoid gives
    costs = HungarianMatcher().cost_terms(outputs, targets)[0]
    assert torch.isfinite(costs.total).all()
    src, _ = HungarianMatcher()(outputs, targets)[0]
    assert len(src) == 3


# --- one-to-many assignment ----------------------------------------------------------


def random_xyxy(n, g, scale=100.0):
    xy = torch.rand(n, 2, generator=g) * scale
    return torch.cat([xy, xy + torch.rand(n, 2, generator=g) * scale * 0.4 + 1.0], -1)


@pytest.mark.parametrize("low, allow_low", [(None, False), (0.3, False), (None, True), (0.3, True)])
def test_max_iou_assignment_matches_torchvision_matcher(low, allow_low):
    g = torch.Generator().manual_seed(6)
    for _ in range(20):
        gts = random_xyxy(5, g)
        # predictions jittered around the GT (so every GT overlaps something: torchvision would give a
        # GT without any overlap every IoU-0 prediction, where we give it none) plus random ones
        wh = (gts[:, 2:] - gts[:, :2]).repeat(4, 2)
        jitter = gts.repeat(4, 1) + torch.randn(20, 4, generator=g) * 0.15 * wh
        preds = torch.cat([jitter, random_xyxy(30, g)]).double()
        gts = gts.double()
        ours = max_iou_assignment(
            preds, gts, iou_threshold=0.5, low_threshold=low, allow_low_quality_matches=allow_low
        )
        ref_matcher = TorchvisionMatcher(
            0.5, 0.5 if low is None else low, allow_low_quality_matches=allow_low
        )
        ref = ref_matcher(tvops.box_iou(gts, preds))
        np.testing.assert_array_equal(ours.gt_index, ref.numpy())
        np.testing.assert_allclose(ours.iou, tvops.box_iou(preds, gts).numpy(), rtol=1e-12)
        np.testing.assert_array_equal(ours.positives_per_gt, np.bincount(ref[ref >= 0].numpy(), minlength=5))


def test_max_iou_assignment_gives_duplicates_where_hungarian_gives_one_query_per_object():
    gt_xyxy = torch.tensor([[10.0, 10.0, 50.0, 50.0], [60.0, 60.0, 90.0, 95.0]])
    preds_xyxy = torch.tensor(
        [
            [11.0, 9.0, 49.0, 52.0],
            [12.0, 12.0, 48.0, 47.0],
            [9.0, 11.0, 51.0, 50.0],  # three on GT 0
            [61.0, 59.0, 91.0, 94.0],
            [0.0, 0.0, 5.0, 5.0],
        ]
    )
    one_to_many = max_iou_assignment(preds_xyxy, gt_xyxy, iou_threshold=0.5)
    assert isinstance(one_to_many, IoUAssignment)
    assert one_to_many.gt_index.tolist() == [0, 0, 0, 1, -1]
    assert one_to_many.positives_per_gt.tolist() == [3, 1]
    assert one_to_many.positive.tolist() == [True, True, True, True, False]
    # NMS with the scores keeps one box per object ...
    scores = torch.tensor([0.9, 0.8, 0.7, 0.95, 0.1])
    keep = nms_xyxy(preds_xyxy, scores, 0.5)
    assert keep.tolist() == [3, 0, 4]
    assert isinstance(nms_xyxy(preds_xyxy.numpy(), scores.numpy(), 0.5), np.ndarray)
    # ... which DETR's one-to-one matching gives by construction: one query per GT.
    size = torch.tensor([100.0, 100.0, 100.0, 100.0])
    outputs = {
        "pred_logits": torch.zeros(1, 5, 3),
        "pred_boxes": tvops.box_convert(preds_xyxy / size, "xyxy", "cxcywh")[None],
    }
    targets = [{"labels": torch.tensor([0, 1]), "boxes": tvops.box_convert(gt_xyxy / size, "xyxy", "cxcywh")}]
    src, tgt = HungarianMatcher()(outputs, targets)[0]
    assert len(src) == 2 and sorted(tgt.tolist()) == [0, 1]
    assert src[tgt == 1].item() == 3 and src[tgt == 0].item() in (0, 1, 2)


def test_max_iou_assignment_edge_cases():
    preds = np.array([[0.0, 0.0, 1.0, 1.0], [5.0, 5.0, 6.0, 6.0]])
    empty = max_iou_assignment(preds, np.zeros((0, 4)))
    assert empty.gt_index.tolist() == [-1, -1] and empty.positives_per_gt.shape == (0,)
    # a GT that overlaps no prediction takes none (torchvision would hand it every IoU-0 prediction)
    far = max_iou_assignment(preds, np.array([[50.0, 50.0, 60.0, 60.0]]))
    assert far.gt_index.tolist() == [-1, -1]
    # a low-quality best match is kept for its GT when allowed
    low = max_iou_assignment(preds, np.array([[0.5, 0.5, 2.0, 2.0]]), iou_threshold=0.7)
    assert low.gt_index.tolist() == [0, -1]
    with pytest.raises(ValueError, match="low_threshold"):
        max_iou_assignment(preds, preds, iou_threshold=0.3, low_threshold=0.5)


# --- one-to-many matching for training (DETA's assignment) -------------------------------------------


@pytest.mark.parametrize("threshold", [0.3, 0.5])
def test_one_to_many_matcher_keeps_the_hungarian_pairs_and_adds_every_query_above_the_iou(threshold):
    outputs, targets = make_batch([3, 0, 5, 1], num_queries=30, seed=4)
    hungarian = HungarianMatcher()
    one_to_one = hungarian(outputs, targets)
    many = OneToManyMatcher(hungarian, iou_threshold=threshold)(outputs, targets)
    extra_total = 0
    for b, ((rows, cols), (queries, assigned), target) in enumerate(zip(one_to_one, many, targets)):
        assert queries.tolist() == sorted(set(queries.tolist())), "each query at most once, increasing"
        pairs = dict(zip(queries.tolist(), assigned.tolist()))
        assert all(pairs[q] == t for q, t in zip(rows.tolist(), cols.tolist())), "a Hungarian pair was lost"
        if len(target["boxes"]) == 0:
            assert len(queries) == 0
            continue
        iou = box_iou_xyxy(box_cxcywh_to_xyxy(outputs["pred_boxes"][b]).numpy(),
                           box_cxcywh_to_xyxy(target["boxes"]).numpy())  # [Q, n]
        for q in range(iou.shape[0]):  # naive loop: the rule, query by query
            if q in rows.tolist():
                continue
            if iou[q].max() >= threshold:
                assert pairs[q] == int(iou[q].argmax())
                extra_total += 1
            else:
                assert q not in pairs
    assert extra_total > 0, "the batch should have queries above the threshold besides the Hungarian ones"


def test_one_to_many_matcher_gives_duplicates_of_one_object():
    box = torch.tensor([0.5, 0.5, 0.4, 0.4])
    boxes = torch.stack([box, box + torch.tensor([0.01, 0.0, 0.0, 0.0]), torch.tensor([0.1, 0.1, 0.05, 0.05])])
    outputs = {"pred_logits": torch.zeros(1, 3, 3), "pred_boxes": boxes[None]}
    targets = [{"labels": torch.tensor([1]), "boxes": box[None]}]
    (queries, assigned), = OneToManyMatcher(HungarianMatcher())(outputs, targets)
    assert queries.tolist() == [0, 1] and assigned.tolist() == [0, 0]
    assert HungarianMatcher()(outputs, targets)[0][0].tolist() == [0], "one-to-one keeps one of the two"
    with pytest.raises(ValueError, match="iou_threshold"):
        OneToManyMatcher(HungarianMatcher(), iou_threshold=0)
