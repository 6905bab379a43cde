"""DETR parity with transformers' DetrForObjectDetection: same weights, same outputs and attention maps."""

import pytest
import torch
import torchvision
from transformers import DetrConfig, DetrForObjectDetection

import cvdemo.models


def _random_backbone_with_calibrated_batchnorm(model, generator: torch.Generator) -> None:
    """Random conv weights, random BN affine parameters, and BN statistics measured on random images.

    transformers initialises frozen BN to the identity, so a random ResNet-50's features reach ~1e3-1e4 and
    every attention softmax saturates: fp32 rounding then decides near-ties and no two implementations agree
    to 1e-5. Statistics measured in a train-mode pass keep activations O(1), as with real weights.
    """
    resnet = torchvision.models.resnet50()
    for module in resnet.modules():
        if isinstance(module, torch.nn.BatchNorm2d):
            module.momentum = None  # cumulative average: the running stats become this batch's stats
            module.weight.data = torch.rand(module.weight.shape, generator=generator) + 0.5
            module.bias.data = torch.randn(module.bias.shape, generator=generator) * 0.1
    resnet.train()
    with torch.no_grad():
        resnet(torch.randn(4, 3, 192, 288, generator=generator))
    state = {k: v for k, v in resnet.state_dict().items() if not k.startswith("fc.")}
    missing, unexpected = model.model.backbone.model.load_state_dict(state, strict=False)
    assert not missing and all(k.endswith("num_batches_tracked") for k in unexpected)


@pytest.fixture(scope="module")
def hf_detr_dir(tmp_path_factory):
    torch.manual_seed(0)
    config = DetrConfig(use_pretrained_backbone=False, num_labels=91, attn_implementation="eager")
    model = DetrForObjectDetection(config).eval()
    with torch.no_grad():
        _random_backbone_with_calibrated_batchnorm(model, torch.Generator().manual_seed(1))
    directory = tmp_path_factory.mktemp("hf_detr")
    model.save_pretrained(directory)
    return model, directory


def _inputs():
    g = torch.Generator().manual_seed(2)
    pixel_values = torch.randn(2, 3, 192, 288, generator=g)  # non-square; feature map 6 x 9
    pixel_mask = torch.ones(2, 192, 288, dtype=torch.int64)
    pixel_mask[1, 128:, :] = 0  # second image padded at the bottom and right
    pixel_mask[1, :, 224:] = 0
    pixel_values[1] *= pixel_mask[1]
    return pixel_values, pixel_mask


def test_detr_matches_transformers_outputs_and_attentions(hf_detr_dir):
    reference, directory = hf_detr_dir
    ours = cvdemo.models.load(directory)
    assert ours.config.num_classes == 91 and ours.config.backbone == "resnet50"
    pixel_values, pixel_mask = _inputs()
    with torch.no_grad():
        ref = reference(pixel_values, pixel_mask=pixel_mask, output_attentions=True)
        out = ours(pixel_values, pixel_mask=pixel_mask, return_attention=True)
        fast = ours(pixel_values, pixel_mask=pixel_mask)

    assert out["pred_logits"].shape == (2, 100, 92)
    torch.testing.assert_close(out["pred_logits"], ref.logits, atol=1e-3, rtol=0)
    torch.testing.assert_close(out["pred_boxes"], ref.pred_boxes, atol=1e-4, rtol=0)
    # the SDPA path (no attention materialised) gives the same predictions
    torch.testing.assert_close(fast["pred_logits"], out["pred_logits"], atol=1e-4, rtol=0)
    assert "cross_attentions" not in fast

    assert out["feature_size"] == (6, 9)
    assert len(out["encoder_attentions"]) == 6 and len(out["cross_attentions"]) == 6
    for ours_attn, ref_attn in zip(out["encoder_attentions"], ref.encoder_attentions):
        assert ours_attn.shape == (2, 8, 54, 54)
        torch.testing.assert_close(ours_attn, ref_attn, atol=1e-5, rtol=0)
    for ours_attn, ref_attn in zip(out["cross_attentions"], ref.cross_attentions):
        assert ours_attn.shape == (2, 8, 100, 54)
        torch.testing.assert_close(ours_attn, ref_attn, atol=1e-5, rtol=0)
    # padded feature positions get no attention
    padded = ~out["feature_mask"][1].flatten()
    assert padded.any()
    assert out["cross_attentions"][0][1][..., padded].abs().max() == 0


def test_detr_transformers_v5_in_memory_names_load_too(hf_detr_dir):
    reference, _ = hf_detr_dir
    from cvdemo.models.convert_detr import convert_transformers_detr_state_dict, detr_config_from_transformers

    state = convert_transformers_detr_state_dict(reference.state_dict())  # v5 names: backbone.model, o_proj
    model = cvdemo.models.DETR(detr_config_from_transformers(reference.config.to_dict()))
    cvdemo.models.loading.load_state_dict_strict(model, state)


def test_detr_hub_v4_config_is_accepted():
    from cvdemo.models.convert_detr import detr_config_from_transformers

    # the shape of facebook/detr-resnet-50's config.json (transformers v4)
    v4 = {"model_type": "detr", "architectures": ["DetrForObjectDetection"], "backbone": "resnet50",
          "use_timm_backbone": True, "dilation": False, "backbone_config": None, "d_model": 256,
          "encoder_layers": 6, "decoder_layers": 6, "encoder_attention_heads": 8, "decoder_attention_heads": 8,
          "encoder_ffn_dim": 2048, "decoder_ffn_dim": 2048, "num_queries": 100,
          "position_embedding_type": "sine", "id2label": {str(i): f"c{i}" for i in range(91)}}
    config = detr_config_from_transformers(v4)
    assert (config.backbone, config.dilation, config.num_classes) == ("resnet50", False, 91)
    assert config.id2label[5] == "c5"
    config = detr_config_from_transformers({**v4, "backbone": "resnet101", "dilation": True})
    assert (config.backbone, config.dilation) == ("resnet101", True)


def test_optimized_detr_stays_close_to_transformers(hf_detr_dir):
    reference, directory = hf_detr_dir
    plain = cvdemo.models.load(directory)
    fast = cvdemo.models.load(directory).optimize_for_inference()
    assert dict(fast.state_dict()).keys() == dict(plain.state_dict()).keys()
    pixel_values, pixel_mask = _inputs()
    with torch.no_grad():
        ref = reference(pixel_values, pixel_mask=pixel_mask, output_attentions=True)
        out = fast(pixel_values, pixel_mask=pixel_mask, return_attention=True)
    torch.testing.assert_close(out["pred_logits"], ref.logits, atol=1e-3, rtol=0)
    torch.testing.assert_close(out["pred_boxes"], ref.pred_boxes, atol=1e-4, rtol=0)
    for ours_attn, ref_attn in zip(out["cross_attentions"], ref.cross_attentions):
        torch.testing.assert_close(ours_attn, ref_attn, atol=1e-3, rtol=0)
