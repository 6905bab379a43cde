"""SetCriterion: parity with transformers' DETR loss, aux losses, per-query breakdown, edge cases."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from transformers import DetrConfig, DetrForObjectDetection, ResNetConfig
from transformers.loss.loss_for_object_detection import HungarianMatcher as HFMatcher
from transformers.loss.loss_for_object_detection import ImageLoss

from cvdemo.losses import QueryBreakdown, SetCriterion
from cvdemo.matching import HungarianMatcher

NUM_CLASSES = 5
WEIGHTS = {"loss_ce": 1.0, "loss_bbox": 5.0, "loss_giou": 2.0}


def make_criterion(num_classes: int = NUM_CLASSES, eos_coef: float = 0.1, **kw) -> SetCriterion:
    return SetCriterion(num_classes, HungarianMatcher(1, 5, 2), WEIGHTS, eos_coef=eos_coef, **kw)


def detr_labels(seed: int):
    g = torch.Generator().manual_seed(seed)
    sizes = [3, 1, 0, 4]  # an image without objects too
    return [
        {
            "class_labels": torch.randint(0, NUM_CLASSES, (n,), generator=g),
            "boxes": torch.rand(n, 4, generator=g) * 0.5 + 0.25,
        }
        for n in sizes
    ]


@pytest.fixture(scope="module", params=[False, True], ids=["no_aux", "aux"])
def detr_run(request):
    """A randomly initialised transformers DETR (tiny ResNet backbone, DETR head as is): its loss_dict."""
    torch.manual_seed(0)
    backbone = ResNetConfig(
        embedding_size=8, hidden_sizes=[8, 16], depths=[1, 1], layer_type="basic", out_features=["stage2"]
    )
    config = DetrConfig(
        use_pretrained_backbone=False,
        num_labels=NUM_CLASSES,
        num_queries=12,
        auxiliary_loss=request.param,
        backbone_config=backbone,
    )
    model = DetrForObjectDetection(config).eval()  # eval: no dropout; the loss is still computed
    labels = detr_labels(seed=1)
    with torch.no_grad():
        out = model(pixel_values=torch.randn(len(labels), 3, 64, 64), labels=labels)
    return config, labels, out


def test_loss_parity_with_transformers_detr(detr_run):
    config, labels, out = detr_run
    outputs = {"pred_logits": out.logits, "pred_boxes": out.pred_boxes}
    if config.auxiliary_loss:
        outputs["aux_outputs"] = [
            {"pred_logits": a["logits"], "pred_boxes": a["pred_boxes"]} for a in out.auxiliary_outputs
        ]
    targets = [{"labels": t["class_labels"], "boxes": t["boxes"]} for t in labels]
    criterion = SetCriterion(
        config.num_labels,
        HungarianMatcher(config.class_cost, config.bbox_cost, config.giou_cost),
        WEIGHTS,
        eos_coef=config.eos_coefficient,
    )
    ours = criterion(outputs, targets)
    reference = out.loss_dict
    num_aux = config.decoder_layers - 1 if config.auxiliary_loss else 0
    names = ["loss_ce", "loss_bbox", "loss_giou", "cardinality_error"]
    expected_keys = set(names) | {f"{n}_{i}" for n in names for i in range(num_aux)}
    assert expected_keys <= set(ours)
    assert set(reference) == expected_keys
    for key in expected_keys:
        assert ours[key].item() == pytest.approx(reference[key].item(), abs=1e-5), key
    assert "class_error" in ours and not any(k.startswith("class_error_") for k in ours)
    # transformers' total: the same weights, aux keys included
    weight_dict = {**WEIGHTS, **{f"{k}_{i}": v for i in range(num_aux) for k, v in WEIGHTS.items()}}
    ref_total = sum(reference[k] * weight_dict[k] for k in reference if k in weight_dict)
    assert criterion.weighted_total(ours).item() == pytest.approx(ref_total.item(), abs=1e-5)
    assert out.loss.item() == pytest.approx(ref_total.item(), abs=1e-5)


def random_outputs(batch: int, queries: int, seed: int, aux: int = 0, requires_grad: bool = False):
    g = torch.Generator().manual_seed(seed)

    def layer():
        logits = torch.randn(batch, queries, NUM_CLASSES + 1, generator=g) * 2
        boxes = torch.rand(batch, queries, 4, generator=g) * 0.6 + 0.2
        return {
            "pred_logits": logits.requires_grad_(requires_grad),
            "pred_boxes": boxes.requires_grad_(requires_grad),
        }

    outputs = layer()
    if aux:
        outputs["aux_outputs"] = [layer() for _ in range(aux)]
    return outputs


def random_targets(sizes, seed: int):
    g = torch.Generator().manual_seed(seed)
    return [
        {
            "labels": torch.randint(0, NUM_CLASSES, (n,), generator=g),
            "boxes": torch.rand(n, 4, generator=g) * 0.5 + 0.2,
        }
        for n in sizes
    ]


@pytest.mark.parametrize("eos_coef", [0.1, 0.5])
def test_parity_with_transformers_image_loss_and_aux(eos_coef):
    outputs = random_outputs(3, 10, seed=2, aux=2)
    targets = random_targets([2, 0, 5], seed=3)
    ours = make_criterion(eos_coef=eos_coef)(outputs, targets)
    hf_loss = ImageLoss(HFMatcher(1, 5, 2), NUM_CLASSES, eos_coef, ["labels", "boxes", "cardinality"])

    def rename(o):
        return {"logits": o["pred_logits"], "pred_boxes": o["pred_boxes"]}

    hf_outputs = {**rename(outputs), "auxiliary_outputs": [rename(a) for a in outputs["aux_outputs"]]}
    reference = hf_loss(hf_outputs, [{"class_labels": t["labels"], "boxes": t["boxes"]} for t in targets])
    assert set(reference) <= set(ours)
    for key, value in reference.items():
        assert ours[key].item() == pytest.approx(value.item(), abs=1e-6), key


def test_class_error_and_cardinality_against_direct_computation():
    outputs = random_outputs(2, 8, seed=4)
    targets = random_targets([3, 2], seed=5)
    criterion = make_criterion()
    losses = criterion(outputs, targets)
    indices = criterion.matcher(outputs, targets)
    hits = total = 0
    for b, (src, tgt) in enumerate(indices):
        predicted = outputs["pred_logits"][b, src].argmax(-1)
        hits += int((predicted == targets[b]["labels"][tgt]).sum())
        total += len(src)
    assert losses["class_error"].item() == pytest.approx(100 - 100 * hits / total, abs=1e-4)
    non_empty = (outputs["pred_logits"].argmax(-1) != NUM_CLASSES).sum(1).float()
    expected = (non_empty - torch.tensor([3.0, 2.0])).abs().mean()
    assert losses["cardinality_error"].item() == pytest.approx(expected.item())
    assert not losses["class_error"].requires_grad and not losses["cardinality_error"].requires_grad


def test_per_query_breakdown_adds_up_to_the_weighted_loss():
    outputs = random_outputs(3, 9, seed=6, aux=1)
    targets = random_targets([4, 0, 2], seed=7)
    criterion = make_criterion()
    losses = criterion(outputs, targets)
    breakdown = criterion.per_query_breakdown(outputs, targets)
    assert len(breakdown) == 3 and all(isinstance(b, QueryBreakdown) for b in breakdown)
    indices = criterion.matcher(outputs, targets)
    grand_total = 0.0
    for b, (view, (src, tgt)) in enumerate(zip(breakdown, indices)):
        assert view.matched_gt.shape == (9,)
        assert sorted(view.matched_gt[view.matched_gt >= 0].tolist()) == sorted(tgt.tolist())
        assert (view.matched_gt[src.numpy()] == tgt.numpy()).all()
        unmatched = view.matched_gt < 0
        assert (view.target_class[unmatched] == NUM_CLASSES).all()
        assert np.allclose(view.ce_weight[unmatched], 0.1) and (view.ce_weight[~unmatched] == 1).all()
        log_p = F.log_softmax(outputs["pred_logits"][b].double(), -1)
        expected_ce = -log_p[torch.arange(9), torch.as_tensor(view.target_class)]
        assert view.ce == pytest.approx(expected_ce.numpy(), abs=1e-5)
        assert all(math.isnan(v) for v in view.l1[unmatched]) and all(
            math.isnan(v) for v in view.giou[unmatched]
        )
        if len(src):
            direct_l1 = (outputs["pred_boxes"][b, src] - targets[b]["boxes"][tgt]).abs().sum(-1)
            assert view.l1[src.numpy()] == pytest.approx(direct_l1.numpy(), abs=1e-6)
        grand_total += view.total.sum()
    main = {k: losses[k] for k in WEIGHTS}
    assert grand_total == pytest.approx(criterion.weighted_total(main).item(), abs=1e-5)


def test_loss_breakdown_is_the_main_outputs_loss_with_its_per_query_parts():
    outputs = random_outputs(2, 7, seed=16, aux=2)
    targets = random_targets([3, 1], seed=17)
    criterion = make_criterion()
    losses = criterion(outputs, targets)
    view = criterion.loss_breakdown(outputs, targets)
    assert set(view.losses) == {"loss_ce", "class_error", "loss_bbox", "loss_giou", "cardinality_error"}
    for key, value in view.losses.items():
        assert value == pytest.approx(losses[key].item(), abs=1e-6), key
    assert view.total == pytest.approx(criterion.weighted_total({k: losses[k] for k in WEIGHTS}).item(), abs=1e-5)
    assert sum(b.total.sum() for b in view.per_image) == pytest.approx(view.total, abs=1e-5)
    # with a given matching (not the optimal one) the numbers follow that matching
    main = {k: v for k, v in outputs.items() if k != "aux_outputs"}
    other = [(torch.tensor([4, 5, 6]), torch.tensor([0, 1, 2])), (torch.tensor([0]), torch.tensor([0]))]
    forced = criterion.loss_breakdown(outputs, targets, other)
    num_boxes = criterion.num_boxes(targets, torch.device("cpu"))
    boxes = criterion.get_loss("boxes", main, targets, other, num_boxes)
    assert forced.losses["loss_bbox"] == pytest.approx(boxes["loss_bbox"].item(), abs=1e-6)
    assert forced.per_image[0].matched_gt.tolist() == [-1, -1, -1, -1, 0, 1, 2]
    assert sum(b.total.sum() for b in forced.per_image) == pytest.approx(forced.total, abs=1e-5)


def test_weighted_total_uses_aux_fallback_and_explicit_weights():
    outputs = random_outputs(2, 6, seed=8, aux=2)
    targets = random_targets([1, 2], seed=9)
    criterion = make_criterion()
    losses = criterion(outputs, targets)
    expected = sum(
        losses[f"{k}{suffix}"] * w for k, w in WEIGHTS.items() for suffix in ("", "_0", "_1")
    )  # class_error and cardinality_error have no weight
    assert criterion.weighted_total(losses).item() == pytest.approx(expected.item(), rel=1e-6)
    explicit = SetCriterion(
        NUM_CLASSES, HungarianMatcher(), {**WEIGHTS, "loss_ce_0": 0.0, "loss_bbox_0": 0.0}
    )
    reduced = expected - losses["loss_ce_0"] - 5 * losses["loss_bbox_0"]
    assert explicit.weighted_total(losses).item() == pytest.approx(reduced.item(), rel=1e-6)
    with pytest.raises(ValueError, match="has a weight"):
        SetCriterion(NUM_CLASSES, HungarianMatcher(), {}).weighted_total(losses)


def test_gradients_flow_and_stay_finite_with_degenerate_predictions():
    outputs = random_outputs(2, 7, seed=10, aux=1, requires_grad=True)
    with torch.no_grad():
        outputs["pred_boxes"][0, :3, 2:] = 0.0  # zero-size boxes, as a saturated sigmoid gives
    targets = random_targets([3, 2], seed=11)
    criterion = make_criterion()
    total = criterion.weighted_total(criterion(outputs, targets))
    total.backward()
    for tensor in (outputs["pred_logits"], outputs["pred_boxes"], outputs["aux_outputs"][0]["pred_boxes"]):
        assert tensor.grad is not None and torch.isfinite(tensor.grad).all()
    assert outputs["pred_boxes"].grad.abs().sum() > 0


def test_all_images_empty():
    outputs = random_outputs(2, 5, seed=12)
    losses = make_criterion()(outputs, random_targets([0, 0], seed=13))
    assert losses["loss_bbox"].item() == 0 and losses["loss_giou"].item() == 0
    assert losses["class_error"].item() == 100  # as DETR logs it when nothing is matched
    expected_ce = F.cross_entropy(outputs["pred_logits"].flatten(0, 1), torch.full((10,), NUM_CLASSES))
    assert losses["loss_ce"].item() == pytest.approx(expected_ce.item(), abs=1e-6)


def test_configuration_errors():
    with pytest.raises(ValueError, match="unknown losses"):
        make_criterion(losses=("labels", "masks"))
    outputs = random_outputs(1, 4, seed=14)
    with pytest.raises(ValueError, match=r"num_classes \+ 1 = 8"):
        make_criterion(num_classes=7)(outputs, random_targets([1], seed=15))
    only_boxes = make_criterion(losses=("boxes",))(outputs, random_targets([1], seed=15))
    assert set(only_boxes) == {"loss_bbox", "loss_giou"}
