"""RetinaNet family (cvdemo.models.retinanet): both contracts, every stage of `inspect`, save -> load."""

import json

import pytest
import torch
from torchvision.ops import box_iou

import cvdemo.models
from cvdemo.models import CheckpointError
from cvdemo.models.retinanet import MODEL_TYPE, RETINANET_PRESETS, RetinaNet, RetinaNetConfig, from_config_dict

pytestmark = pytest.mark.usefixtures("one_torch_thread")

LABELS = {0: "circle", 1: "square", 2: "triangle"}
CLASSES = {"num_classes": len(LABELS), "id2label": LABELS}
SIZES = [(96, 128), (128, 96)]  # (h, w): a batch of non-square images


def tiny(**overrides) -> RetinaNet:
    """A random tiny RetinaNet whose class scores start near 0.5 (torchvision's prior of 0.01 would leave a random
    model without detections)."""
    torch.manual_seed(0)
    model = RetinaNet(RetinaNetConfig(**{**RETINANET_PRESETS["tiny"], **CLASSES, **overrides}))
    with torch.no_grad():
        model.head.classification_head.cls_logits.bias.zero_()
    return model


def images() -> list[torch.Tensor]:
    g = torch.Generator().manual_seed(1)
    return [torch.rand(3, h, w, generator=g) for h, w in SIZES]


def targets() -> list[dict]:
    return [{"boxes": torch.tensor([[10.0, 10.0, 50.0, 60.0], [60.0, 20.0, 120.0, 80.0]]),
             "labels": torch.tensor([0, 2])},
            {"boxes": torch.tensor([[5.0, 30.0, 70.0, 90.0]]), "labels": torch.tensor([1])}]


def detect(model, batch):
    with torch.no_grad():
        return model(batch)


def test_training_mode_gives_finite_losses_that_backpropagate():
    model = tiny().train()
    losses = model(images(), targets())
    assert set(losses) == {"classification", "bbox_regression"}
    assert all(v.dim() == 0 and torch.isfinite(v) for v in losses.values())
    sum(losses.values()).backward()
    grads = [p.grad for p in model.parameters() if p.requires_grad]
    assert all(g is not None and torch.isfinite(g).all() for g in grads)
    assert model.head.classification_head.cls_logits.weight.grad.abs().sum() > 0


def test_an_image_without_objects_trains():
    empty = {"boxes": torch.zeros(0, 4), "labels": torch.zeros(0, dtype=torch.int64)}
    losses = tiny().train()(images(), [targets()[0], empty])
    assert all(torch.isfinite(v) for v in losses.values())


def test_training_without_targets_says_what_to_do():
    with pytest.raises(ValueError, match="model.eval"):
        tiny().train()(images())


def test_eval_output_contract_on_non_square_images():
    model = tiny().eval()
    for (h, w), out in zip(SIZES, detect(model, images())):
        assert set(out) == {"boxes", "labels", "scores"}
        n = len(out["scores"])
        assert 0 < n <= model.config.detections_per_img
        assert out["boxes"].shape == (n, 4) and out["labels"].dtype == torch.int64
        assert out["labels"].min() >= 0 and out["labels"].max() < model.config.num_classes
        assert (out["scores"][:-1] >= out["scores"][1:]).all()  # best first
        boxes = out["boxes"]  # pixel xyxy of the input image, not of the resized one
        assert (boxes[:, 2:] >= boxes[:, :2]).all() and boxes.min() >= 0
        assert boxes[:, [0, 2]].max() <= w + 1e-3 and boxes[:, [1, 3]].max() <= h + 1e-3


def test_inspect_detections_at_the_models_own_thresholds_equal_the_model_output():
    model = tiny().eval()
    batch = images()
    expected = detect(model, batch)
    stages = model.inspect(batch, nms_iou=model.config.nms_thresh, score_threshold=model.config.score_thresh)
    for want, got in zip(expected, stages):
        for key in ("boxes", "labels", "scores"):
            assert torch.equal(got["detections"][key], want[key]), key


def test_inspect_shows_anchors_per_level_and_sigmoid_scores_in_input_pixels():
    model = tiny().eval()
    per_cell = model.anchor_generator.num_anchors_per_location()[0]
    for (h, w), stage in zip(SIZES, model.inspect(images(), nms_iou=0.5, score_threshold=0.05)):
        assert stage["resized_size"] != (h, w)  # the transform resized: every box below was mapped back
        sizes = stage["feature_map_sizes"]
        assert len(sizes) == 4 and all(a[0] == 2 * b[0] for a, b in zip(sizes, sizes[1:]))  # P3 .. P6'
        anchors = stage["anchors"]
        assert [len(a) for a in anchors] == [fh * fw * per_cell for fh, fw in sizes]
        mean_widths = [(a[:, 2] - a[:, 0]).mean() for a in anchors]
        assert all(x < y for x, y in zip(mean_widths, mean_widths[1:]))  # coarser levels, larger anchors
        probs = stage["class_probs"]
        assert probs.shape == (sum(len(a) for a in anchors), model.config.num_classes)
        assert ((probs >= 0) & (probs <= 1)).all()
        raw, final = stage["detections_before_nms"], stage["detections"]
        assert 0 < len(final["scores"]) < len(raw["scores"])
        assert (raw["scores"] > 0.05).all() and (raw["scores"][:-1] >= raw["scores"][1:]).all()
        assert raw["labels"].min() >= 0 and final["labels"].min() >= 0
        for boxes in (raw["boxes"], final["boxes"]):
            assert boxes.min() >= 0
            assert boxes[:, [0, 2]].max() <= w + 1e-3 and boxes[:, [1, 3]].max() <= h + 1e-3


def max_same_class_iou(detections: dict) -> float:
    iou = box_iou(detections["boxes"], detections["boxes"]).nan_to_num(0.0)  # 0/0 for two empty boxes
    iou[detections["labels"][:, None] != detections["labels"][None, :]] = 0
    return float(iou.fill_diagonal_(0).max())


def test_inspect_nms_threshold_is_a_parameter():
    model = tiny().eval()
    batch = images()
    loose = model.inspect(batch, nms_iou=0.9, score_threshold=0.05)
    strict = model.inspect(batch, nms_iou=0.1, score_threshold=0.05)
    for a, b in zip(loose, strict):
        assert torch.equal(a["detections_before_nms"]["scores"], b["detections_before_nms"]["scores"])
        assert max_same_class_iou(a["detections"]) > 0.1 >= max_same_class_iou(b["detections"])


def test_save_then_load_gives_identical_outputs(tmp_path):
    model = tiny().eval()
    cvdemo.models.save(model, tmp_path)
    config = json.loads((tmp_path / "config.json").read_text())
    assert config["model_type"] == MODEL_TYPE
    assert from_config_dict(config).config == model.config
    loaded = cvdemo.models.load(tmp_path)
    assert isinstance(loaded, RetinaNet) and not loaded.training
    assert loaded.config == model.config and loaded.config.id2label[2] == "triangle"
    batch = images()
    for a, b in zip(detect(model, batch), detect(loaded, batch)):
        for key in a:
            assert torch.equal(a[key], b[key])


def test_a_corrupted_checkpoint_gives_a_clear_error(tmp_path):
    cvdemo.models.save(tiny(), tmp_path)
    weights = tmp_path / "model.safetensors"
    weights.write_bytes(weights.read_bytes()[: weights.stat().st_size // 2])
    with pytest.raises(CheckpointError, match="corrupted or truncated"):
        cvdemo.models.load(tmp_path)


def test_anchor_sizes_must_match_the_fpn_levels():
    with pytest.raises(ValueError, match="one tuple per FPN level"):
        tiny(anchor_sizes=((16,), (32,)))


def test_r50_fpn_preset_is_torchvisions_architecture():
    from torchvision.models.detection import retinanet_resnet50_fpn

    ours = RetinaNet(RetinaNetConfig(**RETINANET_PRESETS["r50-fpn"], frozen_batchnorm=False))
    theirs = retinanet_resnet50_fpn(weights=None, weights_backbone=None)
    assert {k: v.shape for k, v in ours.state_dict().items()} == {k: v.shape for k, v in theirs.state_dict().items()}
    assert (ours.transform.min_size, ours.transform.max_size) == (theirs.transform.min_size, theirs.transform.max_size)
    assert ours.anchor_generator.sizes == theirs.anchor_generator.sizes
