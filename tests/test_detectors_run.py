"""cvdemo.detectors_run: every detector's stages on one image, re-filtered exactly as the model filters."""

import numpy as np
import pytest
import torch

from cvdemo.detectors_run import final_detections, nms_would_remove, run_detector, run_detectors
from cvdemo.models import DETR, DETRConfig
from cvdemo.training.presets import (
    FASTER_RCNN_TRAINING_PRESETS,
    SSD_TRAINING_PRESETS,
    YOLO_TRAINING_PRESETS,
    build_faster_rcnn,
    build_ssd,
    build_yolo,
)

pytestmark = pytest.mark.usefixtures("one_torch_thread")

ID2LABEL = {0: "circle", 1: "square", 2: "triangle"}
BUILDERS = {"fasterrcnn": (build_faster_rcnn, FASTER_RCNN_TRAINING_PRESETS),
            "ssd": (build_ssd, SSD_TRAINING_PRESETS), "yolo": (build_yolo, YOLO_TRAINING_PRESETS)}


def _family(name: str):
    torch.manual_seed(0)
    build, presets = BUILDERS[name]
    return build(presets["tiny"], ID2LABEL, backbone_init=None).eval()


def _detr() -> DETR:
    torch.manual_seed(0)
    return DETR(DETRConfig(backbone="resnet18", frozen_batchnorm=True, d_model=32, num_heads=4, encoder_layers=1,
                           decoder_layers=2, dim_feedforward=64, num_queries=12, num_classes=3,
                           id2label=ID2LABEL, shortest_edge=96, longest_edge=160)).eval()


@pytest.fixture(scope="module")
def image() -> np.ndarray:
    rng = np.random.default_rng(0)
    picture = np.full((96, 160, 3), 40, np.uint8)  # non-square: SSD's fixed square resize changes IoU
    picture[20:60, 30:70] = (230, 60, 60)
    picture[40:90, 100:150] = (60, 200, 80)
    return np.clip(picture + rng.integers(0, 30, picture.shape), 0, 255).astype(np.uint8)


@pytest.mark.parametrize("family", ["fasterrcnn", "ssd", "yolo"])
def test_refiltering_equals_the_models_own_nms_at_every_iou(family, image):
    model = _family(family)
    output = run_detector("m", model, image)
    assert output.family == family and output.uses_nms and output.image_size == (96, 160)
    assert len(output.raw) > 0 and output.candidates.total > 0 and output.model_ms > 0
    pixels = torch.from_numpy(image).permute(2, 0, 1).float() / 255
    for iou in (0.3, 0.5, 0.7):
        expected = model.inspect([pixels], nms_iou=iou, score_threshold=0.05)[0]["detections"]
        got = final_detections(output, iou, 0.05)
        assert len(got) == len(expected["scores"]), (family, iou)
        order = np.argsort(-expected["scores"].numpy(), kind="stable")
        np.testing.assert_allclose(got.scores, expected["scores"].numpy()[order], rtol=1e-6)
        np.testing.assert_array_equal(got.labels, expected["labels"].numpy()[order])
        np.testing.assert_allclose(got.boxes_xyxy, expected["boxes"].numpy()[order], atol=1e-3)
    loose, strict = final_detections(output, 0.7, 0.05), final_detections(output, 0.3, 0.05)
    assert len(strict) <= len(loose) <= len(output.raw)
    kept_by_nms = len(output.raw) - nms_would_remove(output, 0.3, 0.05)
    assert kept_by_nms == len(strict) if len(strict) < output.max_detections else kept_by_nms >= len(strict)
    high = final_detections(output, 0.5, 0.1)
    assert (high.scores > 0.1).all() and len(high) <= len(final_detections(output, 0.5, 0.05))


def test_candidates_of_each_family_are_what_it_looks_at(image):
    models = {"detr": _detr(), **{f: _family(f) for f in ("fasterrcnn", "ssd", "yolo")}}
    outputs = {o.family: o for o in run_detectors(models, image)}
    assert outputs["detr"].candidates.kind == "queries" and outputs["detr"].candidates.total == 12
    frcnn = outputs["fasterrcnn"].candidates
    assert frcnn.kind == "proposals" and frcnn.total <= frcnn.details["before_nms"]
    ssd = outputs["ssd"].candidates
    assert ssd.kind == "default_boxes" and len(ssd.details["maps"]) == 5
    assert ssd.total == sum(h * w * n for h, w, n in ssd.details["maps"])
    assert set(np.unique(ssd.group)) == set(range(5))
    yolo = outputs["yolo"].candidates
    s, b = yolo.details["grid_size"], yolo.details["boxes_per_cell"]
    assert yolo.kind == "grid" and yolo.total == s * s * b and yolo.group.max() == s * s - 1
    for o in outputs.values():
        c = o.candidates
        assert c.boxes_xyxy.shape == (c.total, 4) and c.scores.shape == (c.total,)
        assert ((c.scores >= 0) & (c.scores <= 1)).all()
        assert o.num_parameters > 0 and set(o.id2label) == set(ID2LABEL)


def test_detr_has_no_nms_whatever_the_iou(image):
    output = run_detector("detr", _detr(), image)
    assert not output.uses_nms and len(output.raw) == 12  # every query's best class
    at = {iou: final_detections(output, iou, 0.0) for iou in (0.1, 0.5, 0.9)}
    assert all(len(d) == 12 for d in at.values())
    np.testing.assert_array_equal(at[0.1].boxes_xyxy, at[0.9].boxes_xyxy)
    assert 0 <= nms_would_remove(output, 0.1, 0.0) <= 11
    assert nms_would_remove(output, 0.1, 0.0) >= nms_would_remove(output, 0.9, 0.0)


def test_a_classifier_is_refused_by_name():
    from cvdemo.models import ViT, ViTConfig

    vit = ViT(ViTConfig(image_size=32, patch_size=8, embed_dim=32, depth=1, num_heads=2, num_classes=3))
    with pytest.raises(ValueError, match="not a detector"):
        run_detector("vit", vit.eval(), np.zeros((32, 32, 3), np.uint8))
