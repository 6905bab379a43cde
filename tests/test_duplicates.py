"""Issue 14: duplicates as the app counts them (`cvdemo.metrics.duplicates`) and a DETR grown to more decoder
layers (`training.grow_decoder`) to learn to suppress them."""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import pytest
import torch

from cvdemo.metrics.duplicates import count_duplicates
from cvdemo.models.detr import DETR, DETR_PRESETS, DETRConfig
from training.grow_decoder import grow_decoder


def _image(boxes, labels, scores, gt_boxes, gt_labels):
    return SimpleNamespace(boxes_xyxy=np.asarray(boxes, float).reshape(-1, 4), labels=np.asarray(labels),
                           scores=np.asarray(scores, float), gt_boxes_xyxy=np.asarray(gt_boxes, float).reshape(-1, 4),
                           gt_labels=np.asarray(gt_labels))


def test_a_second_box_of_a_found_object_is_a_duplicate_and_other_misses_are_not():
    a, b = [0, 0, 10, 10], [20, 20, 30, 30]
    image = _image([a, [0, 0, 10, 11], [0, 0, 10, 10], b, [50, 50, 60, 60], [21, 20, 30, 30]],
                   [1, 1, 2, 1, 1, 1], [0.9, 0.8, 0.7, 0.6, 0.55, 0.3], [a, b], [1, 1])
    c = count_duplicates([image])
    # a found (0.9), its second box a duplicate (0.8), a box of another class (0.7) and one on nothing (0.55)
    # are other false boxes, b found (0.6); the 0.3 box of b is below the threshold
    assert (c.found, c.duplicates, c.other_false, c.num_objects) == (2, 1, 2, 2)
    assert c.duplicate_rate == 0.5
    low = count_duplicates([image], score_threshold=0.2)
    assert (low.found, low.duplicates) == (2, 2)
    assert count_duplicates([_image([], [], [], [a], [1])]).duplicate_rate == 0.0


def test_two_overlapping_objects_are_both_found_not_counted_twice():
    a, b = [0, 0, 10, 10], [0, 0, 10, 12]  # IoU 0.83: one box may match either
    image = _image([a, b], [1, 1], [0.9, 0.8], [a, b], [1, 1])
    c = count_duplicates([image])
    assert (c.found, c.duplicates, c.other_false) == (2, 0, 0)


def test_a_grown_decoder_keeps_every_weight_and_copies_the_last_layer():
    torch.manual_seed(0)
    source = DETR(DETRConfig(**{**DETR_PRESETS["detr-tiny"], "num_classes": 3})).eval()
    grown = grow_decoder(source, 4).eval()
    assert grown.config.decoder_layers == 4
    state, old = grown.state_dict(), source.state_dict()
    assert all(torch.equal(state[k], v) for k, v in old.items())
    copies = [k for k in state if ".decoder.layers.3." in k]
    assert copies and all(torch.equal(state[k], state[k.replace(".layers.3.", ".layers.1.")]) for k in copies)
    pixels = torch.rand(1, 3, 64, 64)
    with torch.no_grad():
        first = source(pixels)["aux_outputs"][0]["pred_boxes"]
        assert torch.allclose(grown(pixels)["aux_outputs"][0]["pred_boxes"], first, atol=1e-6)  # layer 1 unchanged
    with pytest.raises(ValueError, match="at least"):
        grow_decoder(source, 1)
