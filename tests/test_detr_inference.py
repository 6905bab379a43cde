"""DETR pre- and post-processing against transformers' DetrImageProcessor."""

import numpy as np
import pytest
import torch
from transformers import DetrImageProcessor

from cvdemo.models import DETR, DETRConfig, post_process_object_detection
from cvdemo.models.image_processing import detr_resize_shape, prepare_detr_inputs


@pytest.mark.parametrize("size", [(480, 640), (640, 480), (300, 1200), (1000, 1000), (37, 53)])
def test_resize_and_padding_match_transformers(size):
    rng = np.random.default_rng(0)
    images = [rng.integers(0, 256, (*size, 3), dtype=np.uint8), rng.integers(0, 256, (200, 260, 3), dtype=np.uint8)]
    processor = DetrImageProcessor()
    ref = processor(images=images, return_tensors="pt")
    ours = prepare_detr_inputs(images, DETRConfig())
    assert ours["pixel_values"].shape == ref["pixel_values"].shape
    assert torch.equal(ours["pixel_mask"], ref["pixel_mask"].long())
    assert tuple(ours["resized_sizes"][0].tolist()) == detr_resize_shape(*size, 800, 1333)
    # same normalisation; resampling filters differ slightly (antialiased bilinear vs PIL's)
    diff = (ours["pixel_values"] - ref["pixel_values"]).abs()
    assert diff.mean() < 0.15


def test_post_processing_matches_transformers_and_keeps_every_query():
    torch.manual_seed(0)
    outputs = {"pred_logits": torch.randn(2, 10, 4) * 3, "pred_boxes": torch.rand(2, 10, 4)}
    sizes = [(480, 640), (300, 200)]
    ours = post_process_object_detection(outputs, sizes)

    class _Out:
        logits, pred_boxes = outputs["pred_logits"], outputs["pred_boxes"]

    ref = DetrImageProcessor().post_process_object_detection(_Out(), threshold=-1.0, target_sizes=sizes)
    for o, r in zip(ours, ref):
        assert len(o["scores"]) == 10  # no threshold: every query is a detection
        order = torch.as_tensor(o["query_index"]).argsort()
        torch.testing.assert_close(o["scores"][order], r["scores"])
        torch.testing.assert_close(o["labels"][order], r["labels"])
        torch.testing.assert_close(o["boxes"][order], r["boxes"], atol=1e-4, rtol=0)
        assert torch.all(o["scores"][:-1] >= o["scores"][1:])
    kept = post_process_object_detection(outputs, sizes, threshold=0.5)
    assert all((k["scores"] > 0.5).all() for k in kept)


def test_tiny_detr_end_to_end_on_an_image_with_aux_outputs():
    config = DETRConfig(backbone="resnet18", frozen_batchnorm=False, d_model=32, num_heads=4, encoder_layers=2,
                        decoder_layers=3, dim_feedforward=64, num_queries=7, num_classes=6,
                        shortest_edge=128, longest_edge=160)
    model = DETR(config).eval()
    image = np.random.default_rng(0).integers(0, 256, (100, 150, 3), dtype=np.uint8)
    inputs = prepare_detr_inputs(image, config)
    assert inputs["pixel_values"].shape == (1, 3, 107, 160)  # long side capped at 160
    with torch.inference_mode():
        out = model(inputs["pixel_values"], inputs["pixel_mask"], return_attention=True)
    assert len(out["aux_outputs"]) == 2 and out["aux_outputs"][0]["pred_logits"].shape == (1, 7, 7)
    h, w = out["feature_size"]
    assert out["cross_attentions"][-1].shape == (1, 4, 7, h * w)
    assert out["decoder_attentions"][0].shape == (1, 4, 7, 7)
    for attn in out["encoder_attentions"] + out["cross_attentions"]:
        torch.testing.assert_close(attn.sum(-1), torch.ones(attn.shape[:-1]))
    det = post_process_object_detection(out, inputs["original_sizes"])[0]
    assert det["boxes"].shape == (7, 4)
    assert (det["boxes"][:, [0, 2]] >= 0).all() and (det["boxes"][:, [0, 2]] <= 150 + 1e-3).all()


def test_config_round_trip_rejects_unknown_fields():
    config = DETRConfig(num_classes=3, id2label={0: "a", 1: "b", 2: "c"})
    assert DETRConfig.from_dict(config.to_dict()) == config
    with pytest.raises(ValueError, match="Unknown DETRConfig fields"):
        DETRConfig.from_dict({**config.to_dict(), "hidden_dim": 3})
    with pytest.raises(ValueError, match="choose one of"):
        DETR(DETRConfig(backbone="vgg16"))
