"""`cvdemo.detr_explanation`: a stored DETR run's detection explained by its decoder cross-attention or by the
relevance through the whole model, and the faithfulness of either map. A tiny random DETR (detr-tiny preset) on a
non-square image (a 12x16 feature map); the shipped checkpoints are never needed."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
import torch

from cvdemo import detr_explanation as dx
from cvdemo.attention import upsample_heatmap
from cvdemo.detection_run import cross_attention_heatmap, run_detr
from cvdemo.explain import detr_detection_score, detr_relevance
from cvdemo.models import DETR, DETRConfig
from cvdemo.models.detr import DETR_PRESETS
from cvdemo.models.image_processing import prepare_detr_inputs

pytestmark = pytest.mark.usefixtures("one_torch_thread")

STEPS = 4  # 5 points a curve: the curves' arithmetic is tested in tests/test_faithfulness.py


@pytest.fixture(scope="module")
def model_and_run():
    torch.manual_seed(0)
    model = DETR(DETRConfig(**DETR_PRESETS["detr-tiny"])).eval()
    image = np.random.default_rng(0).integers(0, 256, (96, 128, 3), dtype=np.uint8)
    return model, run_detr(model, image, "detr-tiny")


def test_both_methods_give_a_map_over_the_feature_map_and_one_at_the_display_size(model_and_run):
    model, run = model_and_run
    assert run.feature_size == (12, 16)
    for method in dx.METHODS:
        e = dx.explain_detection(model, run, 1, method, measure=False)
        assert e.feature_map.shape == (12, 16) and e.feature_map.dtype == np.float32
        assert e.heatmap.shape == run.display_size and 0.0 <= e.heatmap.min() and e.heatmap.max() <= 1.0
        assert e.curves is None and e.beats_random is None and e.model_runs == 0
        assert (e.row, e.query, e.target_class) == (1, int(run.query_index[1]), int(run.labels[1]))


def test_cross_attention_is_the_runs_own_map_of_that_layer_and_head(model_and_run):
    model, run = model_and_run
    e = dx.explain_detection(None, run, 2, "cross_attention", layer=0, head=3, measure=False)
    query = int(run.query_index[2])
    expected = run.cross_attentions[0, 3, query].astype(np.float32).reshape(12, 16)
    np.testing.assert_allclose(e.feature_map, expected, rtol=0, atol=0)
    np.testing.assert_allclose(e.heatmap, cross_attention_heatmap(run, 2, 0, 3), atol=1e-6)
    mean = dx.explain_detection(None, run, 2, "cross_attention", measure=False)  # last layer, mean of heads
    assert (mean.layer, mean.head) == (run.num_decoder_layers - 1, None)
    np.testing.assert_allclose(mean.heatmap, cross_attention_heatmap(run, 2, run.num_decoder_layers - 1, None),
                               atol=1e-6)


@pytest.mark.parametrize("target, coordinate", [("class", None), ("box", "w"), ("box", "cy")])
def test_relevance_equals_detr_relevance_of_that_query(model_and_run, target, coordinate):
    model, run = model_and_run
    row = 3
    e = dx.explain_detection(model, run, row, "relevance", target=target, box_coordinate=coordinate, measure=False)
    pixels = prepare_detr_inputs(run.image, model.config)["pixel_values"]
    expected = detr_relevance(model, pixels, int(run.query_index[row]), target=target,
                              target_class=int(run.labels[row]), box_coordinate=coordinate)["image"][0]
    np.testing.assert_allclose(e.feature_map, expected.numpy(), rtol=1e-5, atol=1e-7)
    np.testing.assert_allclose(e.heatmap, upsample_heatmap(expected, run.display_size), atol=1e-5)
    assert (e.target, e.box_coordinate) == (target, coordinate)
    assert not model.training and all(p.grad is None for p in model.parameters())


def test_the_detections_box_is_the_models_own_normalised_box(model_and_run):
    model, run = model_and_run
    with torch.no_grad():
        boxes = model(prepare_detr_inputs(run.image, model.config)["pixel_values"])["pred_boxes"][0]
    for row in range(4):
        np.testing.assert_allclose(dx.detection_box_cxcywh(run, row), boxes[int(run.query_index[row])].numpy(),
                                   atol=1e-5)


def test_measured_curves_score_the_detection_and_say_whether_the_map_beats_a_random_one(model_and_run):
    model, run = model_and_run
    e = dx.explain_detection(model, run, 0, "relevance", steps=STEPS)
    assert set(e.curves) == set(dx.CURVE_NAMES) and e.model_runs == dx.faithfulness_model_runs(STEPS) == 40
    for name, curve in e.curves.items():
        assert curve.fractions.shape == curve.scores.shape == (STEPS + 1,), name
        assert curve.fractions[0] == 0.0 and curve.fractions[-1] == 1.0
        assert ((curve.scores >= 0) & (curve.scores <= 1)).all()
    # the unperturbed image scores the detection itself (its own query qualifies, IoU 1)
    pixels = prepare_detr_inputs(run.image, model.config)["pixel_values"]
    score = detr_detection_score(model, dx.detection_box_cxcywh(run, 0), int(run.labels[0]))
    with torch.no_grad():
        unperturbed = float(score(pixels)[0])
    assert unperturbed >= run.probs[run.query_index[0], run.labels[0]] - 1e-5
    np.testing.assert_allclose(e.curves["deletion"].scores[0], unperturbed, atol=1e-5)
    np.testing.assert_allclose(e.curves["insertion"].scores[-1], unperturbed, atol=1e-5)
    assert e.beats_random == (e.curves["deletion"].auc < e.curves["random_deletion"].auc)
    # the random map's curves do not depend on the method: kept for the detection, only the map's are measured
    cross = dx.explain_detection(model, run, 0, "cross_attention", steps=STEPS)
    assert cross.curves["random_deletion"] is e.curves["random_deletion"] and cross.model_runs == 2 * (STEPS + 1)
    assert cross.curves["deletion"].auc != e.curves["deletion"].auc
    other_run = dataclasses.replace(run)  # the same arrays in another run: measured again, to the same numbers
    again = dx.explain_detection(model, other_run, 0, "relevance", steps=STEPS)
    assert again.model_runs == 40 and again.curves["random_insertion"].auc == e.curves["random_insertion"].auc


def test_the_curves_are_measured_at_once_only_when_cheap(model_and_run):
    _, run = model_and_run
    runs = dx.faithfulness_model_runs()
    assert runs == 17 * 8  # deletion, insertion, and both for three random orders
    cheap = dataclasses.replace(run, model_ms=20.0)
    costly = dataclasses.replace(run, model_ms=4000.0)  # DETR-R50 on a CPU
    assert dx.measures_at_once(cheap) and not dx.measures_at_once(costly)
    assert dx.faithfulness_seconds(costly) == pytest.approx(runs * 4.0)


def test_wrong_arguments_say_what_is_wrong(model_and_run):
    model, run = model_and_run
    with pytest.raises(ValueError, match="method must be one of"):
        dx.explain_detection(model, run, 0, "rollout")
    with pytest.raises(ValueError, match="detection 99 out of range"):
        dx.explain_detection(model, run, 99, "relevance")
    with pytest.raises(ValueError, match="box_coordinate"):
        dx.explain_detection(model, run, 0, "relevance", target="box")
    with pytest.raises(ValueError, match="decoder layer 5 out of range"):
        dx.explain_detection(model, run, 0, "cross_attention", layer=5, measure=False)
    with pytest.raises(ValueError, match="needs the model"):
        dx.explain_detection(None, run, 0, "relevance", measure=False)


def test_a_frozen_model_as_the_registry_loads_it_gives_the_same_relevance(model_and_run):
    """The first decoder self-attention reads no pixel: with frozen parameters it would fall out of the graph."""
    model, run = model_and_run
    trainable = dx.explain_detection(model, run, 0, "relevance", measure=False).feature_map
    for p in model.parameters():
        p.requires_grad_(False)
    try:
        frozen = dx.explain_detection(model, run, 0, "relevance", measure=False).feature_map
        assert not any(p.requires_grad for p in model.parameters())  # the flags are restored
    finally:
        for p in model.parameters():
            p.requires_grad_(True)
    np.testing.assert_allclose(frozen, trainable, rtol=1e-6, atol=0)
