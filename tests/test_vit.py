"""cvdemo's ViT against timm and transformers (random weights, no downloads), its config and transforms."""

from __future__ import annotations

import json

import numpy as np
import pytest
import timm
import torch
import torchvision.transforms as T
import transformers
from PIL import Image
from safetensors.torch import load_file
from timm.models._hub import save_for_hf

from cvdemo.models import vit as vit_module
from cvdemo.models.convert_vit import (
    convert_timm_vit_state_dict,
    convert_transformers_vit_state_dict,
    is_timm_vit_config,
    is_transformers_vit_config,
    vit_config_from_timm,
    vit_config_from_transformers,
)
from cvdemo.models.vit import VIT_PRESETS, ViT, ViTConfig, sincos_pos_embed_2d
from cvdemo.models.vit_transforms import vit_transform

pytestmark = pytest.mark.usefixtures("one_torch_thread")

def _perturb(model: torch.nn.Module, seed: int) -> None:
    """Move every parameter off its init (LayerNorm 1/0, CLS ~0) so that parity tests see them all."""
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for p in model.parameters():
            p.add_(torch.randn(p.shape, generator=g) * 0.05)


def _timm_with_attention(model: torch.nn.Module) -> list[torch.Tensor]:
    """Make timm compute attention explicitly and record each block's probabilities (attn_drop's output)."""
    recorded: list[torch.Tensor] = []
    for block in model.blocks:
        block.attn.fused_attn = False
        block.attn.attn_drop.register_forward_hook(lambda _m, _i, out: recorded.append(out.detach()))
    return recorded


def _load_timm_dir(path) -> ViT:
    config = json.loads((path / "config.json").read_text())
    assert is_timm_vit_config(config) and not is_transformers_vit_config(config)
    vit_config = vit_config_from_timm(config)
    model = ViT(vit_config)
    state = convert_timm_vit_state_dict(load_file(path / "model.safetensors"), vit_config)
    model.load_state_dict(state, strict=True)
    return model.eval()


def _load_transformers_dir(path) -> ViT:
    config = json.loads((path / "config.json").read_text())
    assert is_transformers_vit_config(config) and not is_timm_vit_config(config)
    vit_config = vit_config_from_transformers(config)
    model = ViT(vit_config)
    state = convert_transformers_vit_state_dict(load_file(path / "model.safetensors"), vit_config)
    model.load_state_dict(state, strict=True)
    return model.eval()


@pytest.fixture(scope="module")
def deit_tiny(tmp_path_factory):
    """timm deit_tiny_patch16_224 with random weights, saved with save_for_hf, and ours loaded from it."""
    torch.manual_seed(0)
    ref = timm.create_model("deit_tiny_patch16_224", pretrained=False).eval()
    _perturb(ref, 1)
    path = tmp_path_factory.mktemp("deit_tiny")
    save_for_hf(ref, str(path), safe_serialization=True)
    return ref, _load_timm_dir(path)


def test_timm_deit_tiny_parity(deit_tiny):
    ref, ours = deit_tiny
    assert ours.config.depth == 12 and ours.config.num_heads == 3 and ours.config.embed_dim == 192
    x = torch.randn(2, 3, 224, 224, generator=torch.Generator().manual_seed(2))
    recorded = _timm_with_attention(ref)
    with torch.inference_mode():
        ref_logits = ref(x)
        out = ours(x, return_attention=True)
        fast = ours(x)
    assert out["logits"].shape == (2, 1000)
    torch.testing.assert_close(out["logits"], ref_logits, atol=1e-4, rtol=0)
    torch.testing.assert_close(fast["logits"], ref_logits, atol=1e-4, rtol=0)
    assert len(out["attentions"]) == len(recorded) == 12
    for ours_a, ref_a in zip(out["attentions"], recorded, strict=True):
        assert ours_a.shape == (2, 3, 197, 197)
        torch.testing.assert_close(ours_a, ref_a, atol=1e-5, rtol=0)
    assert out["grid_size"] == (14, 14)
    assert "attentions" not in fast


def test_timm_resampled_pos_embed_parity(deit_tiny):
    """A non-224, non-square input: pos_embed resampled as timm's dynamic_img_size does."""
    ref, ours = deit_tiny
    dyn = timm.create_model("deit_tiny_patch16_224", pretrained=False, dynamic_img_size=True).eval()
    dyn.load_state_dict(ref.state_dict())
    x = torch.randn(2, 3, 160, 256, generator=torch.Generator().manual_seed(3))
    with torch.inference_mode():
        out = ours(x, return_attention=True)
        torch.testing.assert_close(out["logits"], dyn(x), atol=1e-4, rtol=0)
    assert out["grid_size"] == (10, 16)
    assert out["attentions"][0].shape == (2, 3, 1 + 10 * 16, 1 + 10 * 16)


def test_timm_avg_pool_without_class_token(tmp_path):
    """global_pool="avg" (norm -> fc_norm, as timm) without a class token; model_args from save_for_hf."""
    torch.manual_seed(0)
    ref = timm.create_model("vit_tiny_patch16_224", pretrained=False, depth=2, img_size=64, num_classes=5,
                            global_pool="avg", class_token=False).eval()
    _perturb(ref, 4)
    save_for_hf(ref, str(tmp_path), safe_serialization=True)
    ours = _load_timm_dir(tmp_path)
    assert ours.config.global_pool == "avg" and not ours.config.class_token and ours.config.depth == 2
    assert "fc_norm.weight" in ours.state_dict() and "norm.weight" not in ours.state_dict()
    x = torch.randn(2, 3, 64, 64, generator=torch.Generator().manual_seed(5))
    with torch.inference_mode():
        out = ours(x, return_attention=True)
        torch.testing.assert_close(out["logits"], ref(x), atol=1e-4, rtol=0)
    assert out["attentions"][0].shape == (2, 3, 16, 16)


@pytest.fixture(scope="module")
def hf_vit(tmp_path_factory):
    """A small transformers ViTForImageClassification (eager attention), saved with save_pretrained."""
    torch.manual_seed(0)
    cfg = transformers.ViTConfig(hidden_size=64, num_hidden_layers=3, num_attention_heads=4,
                                 intermediate_size=96, image_size=48, patch_size=8, num_labels=7,
                                 attn_implementation="eager")
    ref = transformers.ViTForImageClassification(cfg).eval()
    _perturb(ref, 6)
    path = tmp_path_factory.mktemp("hf_vit")
    ref.save_pretrained(path)
    return ref, path


def test_transformers_vit_parity(hf_vit):
    ref, path = hf_vit
    ours = _load_transformers_dir(path)
    assert ours.config.layer_norm_eps == 1e-12 and ours.config.hidden_dim == 96
    assert ours.config.id2label == {int(k): v for k, v in ref.config.id2label.items()}
    x = torch.randn(2, 3, 48, 48, generator=torch.Generator().manual_seed(7))
    with torch.inference_mode():
        expected = ref(x, output_attentions=True)
        out = ours(x, return_attention=True)
    torch.testing.assert_close(out["logits"], expected.logits, atol=1e-4, rtol=0)
    assert len(out["attentions"]) == len(expected.attentions) == 3
    for ours_a, ref_a in zip(out["attentions"], expected.attentions, strict=True):
        assert ours_a.shape == (2, 4, 37, 37)
        torch.testing.assert_close(ours_a, ref_a, atol=1e-5, rtol=0)


def test_transformers_vit_resampled_pos_embed_parity(hf_vit):
    ref, path = hf_vit
    ours = _load_transformers_dir(path)
    x = torch.randn(2, 3, 64, 40, generator=torch.Generator().manual_seed(8))
    with torch.inference_mode():
        expected = ref(x, interpolate_pos_encoding=True).logits
        out = ours(x, return_attention=True)
    torch.testing.assert_close(out["logits"], expected, atol=1e-4, rtol=0)
    assert out["attentions"][-1].shape[-1] == 1 + 8 * 5


def test_transformers_saved_names_are_legacy_and_v5_names_convert_the_same(hf_vit):
    ref, path = hf_vit
    saved = load_file(path / "model.safetensors")
    assert any(".attention.attention.query." in k for k in saved)  # what save_pretrained writes in 5.23
    vit_config = vit_config_from_transformers(json.loads((path / "config.json").read_text()))
    from_file = convert_transformers_vit_state_dict(saved, vit_config)
    from_memory = convert_transformers_vit_state_dict(ref.state_dict(), vit_config)
    assert from_file.keys() == from_memory.keys()
    for key in from_file:
        torch.testing.assert_close(from_file[key], from_memory[key], atol=0, rtol=0)


def test_transformers_vit_model_without_head(tmp_path):
    """ViTModel (pooler dropped by name, no classifier): features match last_hidden_state."""
    torch.manual_seed(0)
    cfg = transformers.ViTConfig(hidden_size=32, num_hidden_layers=2, num_attention_heads=2,
                                 intermediate_size=64, image_size=32, patch_size=8)
    ref = transformers.ViTModel(cfg).eval()
    _perturb(ref, 9)
    ref.save_pretrained(tmp_path)
    assert any(k.startswith("pooler.") for k in load_file(tmp_path / "model.safetensors"))
    ours = _load_transformers_dir(tmp_path)
    assert ours.config.num_classes == 0
    x = torch.randn(2, 3, 32, 32, generator=torch.Generator().manual_seed(10))
    with torch.inference_mode():
        torch.testing.assert_close(ours(x)["features"], ref(x).last_hidden_state, atol=1e-4, rtol=0)


def test_transformers_config_rejects_other_activations():
    with pytest.raises(ValueError, match="gelu_new"):
        vit_config_from_transformers({"model_type": "vit", "hidden_act": "gelu_new"})


def test_conversion_errors_name_the_problem(deit_tiny):
    ref, ours = deit_tiny
    sd = dict(ref.state_dict())
    missing = dict(sd)
    del missing["blocks.3.mlp.fc1.bias"]
    with pytest.raises(ValueError, match=r"blocks\.3\.mlp\.fc1\.bias"):
        convert_timm_vit_state_dict(missing, ours.config)
    extra = dict(sd, **{"blocks.0.ls1.gamma": torch.ones(192)})
    with pytest.raises(ValueError, match=r"blocks\.0\.ls1\.gamma"):
        convert_timm_vit_state_dict(extra, ours.config)
    wrong = dict(sd, pos_embed=torch.zeros(1, 50, 192))
    with pytest.raises(ValueError, match="pos_embed"):
        convert_timm_vit_state_dict(wrong, ours.config)
    with pytest.raises(ValueError, match="distillation token"):
        convert_timm_vit_state_dict(dict(sd, dist_token=torch.zeros(1, 1, 192)), ours.config)
    with pytest.raises(ValueError, match="reg_tokens"):
        vit_config_from_timm({"architecture": "deit_tiny_distilled_patch16_224", "model_args": {"reg_tokens": 4}})
    with pytest.raises(ValueError, match="vit_base_patch16_224"):  # the message lists the supported names
        vit_config_from_timm({"architecture": "vit_gigantic_patch14_224", "num_classes": 1000})
    with pytest.raises(ValueError, match="qk_norm"):
        vit_config_from_timm({"architecture": "vit_tiny_patch16_224", "model_args": {"qk_norm": True}})
    with pytest.raises(ValueError, match="init_values"):
        ViTConfig(init_values=0.0)


def test_timm_labels_travel(tmp_path):
    names = ["n0", "n1", "n2"]
    config = {"architecture": "deit_tiny_patch16_224", "num_classes": 3, "num_features": 192,
              "label_names": names, "label_descriptions": {"n0": "tench", "n2": "goldfish"}}
    assert vit_config_from_timm(config).id2label == {0: "tench", 1: "n1", 2: "goldfish"}


def test_presets_match_timm():
    """Every preset builds the same architecture and default normalisation as timm (on the meta device)."""
    for name, preset in VIT_PRESETS.items():
        with torch.device("meta"):
            ref = timm.create_model(name, pretrained=False)
        cfg = ViTConfig(**preset)
        sizes = (ref.embed_dim, len(ref.blocks), ref.blocks[0].attn.num_heads)
        assert (cfg.embed_dim, cfg.depth, cfg.num_heads) == sizes, name
        assert cfg.patch_size == ref.patch_embed.patch_size[0], name
        assert cfg.image_hw == tuple(ref.patch_embed.img_size), name
        assert cfg.hidden_dim == ref.blocks[0].mlp.fc1.out_features, name
        assert cfg.image_mean == tuple(ref.pretrained_cfg["mean"]), name
        assert cfg.image_std == tuple(ref.pretrained_cfg["std"]), name
        with torch.device("meta"):
            ours = ViT(ViTConfig(**{**preset, "num_classes": ref.num_classes}))
        ref_shapes = {k: v.shape for k, v in ref.state_dict().items()}
        assert {k: v.shape for k, v in ours.state_dict().items()} == ref_shapes, name


def test_config_round_trip_and_strictness():
    cfg = ViTConfig(image_size=(64, 96), patch_size=8, embed_dim=48, depth=2, num_heads=3, mlp_dim=100,
                    global_pool="avg", class_token=False, pos_embed="sincos", id2label={0: "cat", 1: "dog"})
    d = json.loads(json.dumps(cfg.to_dict()))
    assert d["model_type"] == "cvdemo-vit" and d["id2label"] == {"0": "cat", "1": "dog"}
    assert ViTConfig.from_dict(d) == cfg
    with pytest.raises(ValueError, match="hidden_size"):
        ViTConfig.from_dict({**d, "hidden_size": 3})
    with pytest.raises(ValueError, match="model_type"):
        ViTConfig.from_dict({**d, "model_type": "vit"})
    with pytest.raises(ValueError, match="num_heads"):
        ViTConfig(embed_dim=50, num_heads=3)
    with pytest.raises(ValueError, match="class_token"):
        ViTConfig(class_token=False, global_pool="token")


def _mae_sincos(embed_dim: int, gh: int, gw: int) -> np.ndarray:
    """MAE's get_2d_sincos_pos_embed, generalised to a gh x gw grid (numpy, as in the MAE repository)."""
    def one_d(dim, pos):
        omega = np.arange(dim // 2, dtype=np.float64) / (dim / 2.0)
        omega = 1.0 / 10000**omega
        out = np.einsum("m,d->md", pos.reshape(-1), omega)
        return np.concatenate([np.sin(out), np.cos(out)], axis=1)

    grid = np.meshgrid(np.arange(gw, dtype=np.float64), np.arange(gh, dtype=np.float64))  # w goes first
    grid = np.stack(grid, axis=0).reshape(2, 1, gh, gw)
    return np.concatenate([one_d(embed_dim // 2, grid[0]), one_d(embed_dim // 2, grid[1])], axis=1)


def test_sincos_position_embedding_matches_mae():
    for gh, gw in [(14, 14), (3, 5)]:
        ours = sincos_pos_embed_2d((gh, gw), 64).numpy()
        np.testing.assert_allclose(ours, _mae_sincos(64, gh, gw), atol=1e-6)
    model = ViT(ViTConfig(image_size=32, patch_size=8, embed_dim=32, depth=1, num_heads=2, num_classes=3,
                          pos_embed="sincos")).eval()
    assert "pos_embed" not in model.state_dict()
    with torch.inference_mode():
        out = model(torch.randn(2, 3, 32, 48), return_attention=True)
    assert out["logits"].shape == (2, 3) and out["attentions"][0].shape == (2, 2, 1 + 4 * 6, 1 + 4 * 6)


def test_fast_path_uses_sdpa_and_attention_path_does_not(monkeypatch):
    cfg = ViTConfig(image_size=32, patch_size=8, embed_dim=32, depth=3, num_heads=2, num_classes=4)
    model = ViT(cfg).eval()
    calls = []
    real = vit_module.F.scaled_dot_product_attention
    counting = lambda *a, **k: calls.append(1) or real(*a, **k)  # noqa: E731
    monkeypatch.setattr(vit_module.F, "scaled_dot_product_attention", counting)
    x = torch.randn(2, 3, 32, 32)
    with torch.inference_mode():
        fast = model(x)
        assert len(calls) == 3
        slow = model(x, return_attention=True)
        assert len(calls) == 3
    torch.testing.assert_close(fast["logits"], slow["logits"], atol=1e-5, rtol=0)
    for a in slow["attentions"]:
        torch.testing.assert_close(a.sum(-1), torch.ones(2, 2, 17), atol=1e-5, rtol=0)


def test_bad_inputs_raise():
    model = ViT(ViTConfig(image_size=32, patch_size=8, embed_dim=32, depth=1, num_heads=2, num_classes=4))
    with pytest.raises(ValueError, match="multiple of patch_size"):
        model(torch.randn(1, 3, 30, 32))
    with pytest.raises(ValueError, match=r"\[B, 3, H, W\]"):
        model(torch.randn(1, 1, 32, 32))


def test_vit_transform_matches_torchvision():
    rng = np.random.default_rng(0)
    array = rng.integers(0, 256, size=(37, 53, 3), dtype=np.uint8)
    cfg = ViTConfig(image_size=32, patch_size=8, embed_dim=32, depth=1, num_heads=2)
    reference = T.Compose([T.Resize((32, 32), interpolation=T.InterpolationMode.BICUBIC), T.ToTensor(),
                           T.Normalize(cfg.image_mean, cfg.image_std)])
    expected = reference(Image.fromarray(array)).unsqueeze(0)
    torch.testing.assert_close(vit_transform(array, cfg), expected, atol=1e-6, rtol=0)
    torch.testing.assert_close(vit_transform(Image.fromarray(array), cfg), expected, atol=1e-6, rtol=0)
    assert vit_transform(array, cfg, size=(48, 64)).shape == (1, 3, 48, 64)
    grey = vit_transform(array[:, :, 0], cfg)
    assert grey.shape == (1, 3, 32, 32)
    with pytest.raises(ValueError, match="uint8"):
        vit_transform(array.astype(np.float32), cfg)
    with pytest.raises(ValueError, match="multiple"):
        vit_transform(array, cfg, size=30)


def test_load_through_cvdemo_models(deit_tiny, hf_vit, tmp_path_factory):
    """cvdemo.models.load detects both formats and calls these converters; save/load round-trips."""
    from cvdemo.models import load, save

    ref, _ = deit_tiny
    timm_dir = tmp_path_factory.mktemp("deit_tiny_load")
    save_for_hf(ref, str(timm_dir), safe_serialization=True)
    hf_ref, hf_dir = hf_vit
    x224 = torch.randn(2, 3, 224, 224, generator=torch.Generator().manual_seed(11))
    x48 = torch.randn(2, 3, 48, 48, generator=torch.Generator().manual_seed(12))
    for directory, reference, x in [(timm_dir, ref, x224), (hf_dir, lambda v: hf_ref(v).logits, x48)]:
        model = load(directory)
        assert isinstance(model, ViT) and not model.training
        own_dir = save(model, tmp_path_factory.mktemp("own"))
        again = load(own_dir)
        assert again.config == model.config
        with torch.inference_mode():
            expected = reference(x)
            torch.testing.assert_close(model(x)["logits"], expected, atol=1e-4, rtol=0)
            torch.testing.assert_close(again(x)["logits"], expected, atol=1e-4, rtol=0)


# ------------------------------------------------------------------ DeiT distillation token, register tokens

def _timm_dir(tmp_path, name: str, seed: int, **kwargs):
    """A small random timm model (perturbed off its init), saved with save_for_hf; (reference, ours)."""
    torch.manual_seed(seed)
    ref = timm.create_model(name, pretrained=False, **kwargs).eval()
    _perturb(ref, seed + 1)
    save_for_hf(ref, str(tmp_path), safe_serialization=True)
    return ref, _load_timm_dir(tmp_path)


def _check_parity(ref, ours, x: torch.Tensor, prefix: int, heads: int) -> None:
    """Logits to 1e-5 and every attention map [B, heads, T, T], T = prefix + patches, against timm's."""
    recorded = _timm_with_attention(ref)
    with torch.inference_mode():
        expected = ref(x)
        out = ours(x, return_attention=True)
        fast = ours(x)["logits"]
    torch.testing.assert_close(out["logits"], expected, atol=1e-5, rtol=0)
    torch.testing.assert_close(fast, expected, atol=1e-5, rtol=0)
    gh, gw = out["grid_size"]
    T = prefix + gh * gw
    assert ours.config.num_prefix_tokens == prefix and out["features"].shape[1] == T
    assert len(out["attentions"]) == len(recorded) == len(ref.blocks)
    for ours_a, ref_a in zip(out["attentions"], recorded, strict=True):
        assert ours_a.shape == (x.shape[0], heads, T, T)
        torch.testing.assert_close(ours_a, ref_a, atol=1e-5, rtol=0)


def test_timm_distilled_deit_parity(tmp_path):
    """deit_tiny_distilled_patch16_224 (dist_token, head_dist): logits = mean of both heads, as timm in eval."""
    ref, ours = _timm_dir(tmp_path, "deit_tiny_distilled_patch16_224", 20, img_size=64, num_classes=7)
    cfg = ours.config
    assert cfg.distilled and cfg.readout_rows == (0, 1) and cfg.depth == 12 and cfg.image_hw == (64, 64)
    assert {"dist_token", "head_dist.weight", "head_dist.bias"} <= set(ours.state_dict())
    assert ours.pos_embed.shape == (1, 2 + 16, 192)
    x = torch.randn(2, 3, 64, 64, generator=torch.Generator().manual_seed(21))
    _check_parity(ref, ours, x, prefix=2, heads=3)
    with torch.inference_mode():  # the average of the two heads, spelled out; pre_logits as timm's
        feats = ours(x)["features"]
        both = (ours.head(feats[:, 0]) + ours.head_dist(feats[:, 1])) / 2
        torch.testing.assert_close(ours(x)["logits"], both, atol=1e-6, rtol=0)
        torch.testing.assert_close(ours(x)["pre_logits"], ref.forward_head(ref.forward_features(x), True),
                                   atol=1e-5, rtol=0)
        ours.train()  # our contract: "logits" is the average in training mode too (timm: unless distilled_training)
        ref.train()
        torch.testing.assert_close(ours(x)["logits"], ref(x), atol=1e-5, rtol=0)


def test_timm_distilled_deit_non_square_input(tmp_path):
    """A 48x80 input: both prefix rows kept, the patch rows of pos_embed resampled as timm's dynamic_img_size."""
    ref, ours = _timm_dir(tmp_path, "deit_tiny_distilled_patch16_224", 22, img_size=64, num_classes=7,
                          depth=3, dynamic_img_size=True)
    x = torch.randn(2, 3, 48, 80, generator=torch.Generator().manual_seed(23))
    _check_parity(ref, ours, x, prefix=2, heads=3)


@pytest.mark.parametrize("kwargs, prefix", [
    (dict(reg_tokens=4, no_embed_class=True), 5),  # as timm's vit_*_reg4_dinov2: CLS + 4 registers
    (dict(reg_tokens=1, no_embed_class=True, class_token=False, global_pool="avg"), 1),  # as vit_*_reg1_gap
    (dict(reg_tokens=2), 3),  # registers with their own pos_embed rows (no_embed_class=False)
])
def test_timm_register_tokens_parity(tmp_path, kwargs, prefix):
    ref, ours = _timm_dir(tmp_path, "vit_tiny_patch16_224", 24, img_size=64, depth=3, num_classes=5,
                          dynamic_img_size=True, **kwargs)
    cfg = ours.config
    assert cfg.reg_tokens == kwargs["reg_tokens"] and cfg.no_embed_class == kwargs.get("no_embed_class", False)
    assert ours.reg_token.shape == ref.reg_token.shape and ours.pos_embed.shape == ref.pos_embed.shape
    x = torch.randn(2, 3, 64, 64, generator=torch.Generator().manual_seed(25))
    _check_parity(ref, ours, x, prefix=prefix, heads=3)
    x = torch.randn(2, 3, 32, 96, generator=torch.Generator().manual_seed(26))  # non-square, resampled
    _check_parity(ref, ours, x, prefix=prefix, heads=3)


def test_timm_layerscale_register_model_parity(tmp_path):
    """vit_small_patch14_reg4_dinov2's architecture (LayerScale, CLS + 4 registers, no head), small and perturbed
    off its init: logits (the pooled features) and every attention map as timm's, square and resampled."""
    ref, ours = _timm_dir(tmp_path, "vit_small_patch14_reg4_dinov2", 27, img_size=56, depth=2, num_classes=5,
                          dynamic_img_size=True)
    cfg = ours.config
    assert cfg.init_values == 1e-5 and cfg.reg_tokens == 4 and cfg.no_embed_class and cfg.patch_size == 14
    assert {"blocks.0.ls1.gamma", "blocks.1.ls2.gamma"} <= set(ours.state_dict())
    torch.testing.assert_close(ours.blocks[1].ls2.gamma, ref.blocks[1].ls2.gamma)
    assert not any(".ls" in k for k in ViT(ViTConfig(image_size=32, patch_size=8, embed_dim=32, depth=1,
                                                     num_heads=2)).state_dict()), "no LayerScale by default"
    x = torch.randn(2, 3, 56, 56, generator=torch.Generator().manual_seed(28))
    _check_parity(ref, ours, x, prefix=5, heads=6)
    x = torch.randn(2, 3, 42, 70, generator=torch.Generator().manual_seed(29))
    _check_parity(ref, ours, x, prefix=5, heads=6)


def test_distilled_and_register_config_validation_and_round_trip():
    with pytest.raises(ValueError, match="distilled"):
        ViTConfig(distilled=True, class_token=False, global_pool="avg")
    with pytest.raises(ValueError, match="reg_tokens"):
        ViTConfig(reg_tokens=-1)
    cfg = ViTConfig(image_size=32, patch_size=8, embed_dim=32, depth=1, num_heads=2, num_classes=3,
                    distilled=True, reg_tokens=2, no_embed_class=True)
    assert cfg.num_prefix_tokens == 4 and cfg.num_pos_embed_prefix_tokens == 0 and cfg.readout_rows == (0, 1)
    assert ViTConfig.from_dict(json.loads(json.dumps(cfg.to_dict()))) == cfg
    old = ViTConfig(image_size=32, patch_size=8, embed_dim=32, depth=1, num_heads=2).to_dict()
    for key in ("distilled", "reg_tokens", "no_embed_class"):  # a config saved before these fields loads
        del old[key]
    loaded = ViTConfig.from_dict(old)
    assert not loaded.distilled and loaded.reg_tokens == 0 and loaded.num_prefix_tokens == 1
    assert ViTConfig(class_token=False, global_pool="avg", reg_tokens=3).readout_rows == ()
    model = ViT(cfg).eval()  # distilled + registers (no timm model has both): prefix order CLS, dist, registers
    with torch.inference_mode():
        out = model(torch.randn(1, 3, 32, 40), return_attention=True)
    assert out["logits"].shape == (1, 3) and out["attentions"][0].shape == (1, 2, 4 + 4 * 5, 4 + 4 * 5)


def test_distilled_vit_saves_and_loads(tmp_path):
    """cvdemo.models.save / load round-trip of a distilled DeiT with register tokens (strict load)."""
    from cvdemo.models import load, save

    cfg = ViTConfig(image_size=32, patch_size=8, embed_dim=32, depth=2, num_heads=2, num_classes=3,
                    distilled=True, reg_tokens=2, no_embed_class=True, id2label={0: "a", 1: "b", 2: "c"})
    model = ViT(cfg).eval()
    _perturb(model, 27)
    again = load(save(model, tmp_path / "deit"))
    assert isinstance(again, ViT) and again.config == cfg
    x = torch.randn(2, 3, 32, 32, generator=torch.Generator().manual_seed(28))
    with torch.inference_mode():
        torch.testing.assert_close(again(x)["logits"], model(x)["logits"], atol=0, rtol=0)


@pytest.fixture(scope="module")
def hf_deit(tmp_path_factory):
    """A small transformers DeiTForImageClassificationWithTeacher (eager attention), saved with save_pretrained."""
    torch.manual_seed(0)
    cfg = transformers.DeiTConfig(hidden_size=32, num_hidden_layers=2, num_attention_heads=2,
                                  intermediate_size=48, image_size=32, patch_size=8, num_labels=5,
                                  attn_implementation="eager")
    ref = transformers.DeiTForImageClassificationWithTeacher(cfg).eval()
    _perturb(ref, 30)
    path = tmp_path_factory.mktemp("hf_deit")
    ref.save_pretrained(path)
    return ref, path


def test_transformers_deit_with_teacher_parity(hf_deit):
    """distillation_token / cls_classifier / distillation_classifier: logits = mean of the two heads."""
    from cvdemo.models import load

    ref, path = hf_deit
    ours = _load_transformers_dir(path)
    assert load(path).config == ours.config  # cvdemo.models.load detects model_type "deit"
    assert ours.config.distilled and ours.config.num_prefix_tokens == 2 and ours.config.num_classes == 5
    x = torch.randn(2, 3, 32, 32, generator=torch.Generator().manual_seed(31))
    with torch.inference_mode():
        expected = ref(x, output_attentions=True)
        out = ours(x, return_attention=True)
        torch.testing.assert_close(out["logits"], expected.logits, atol=1e-5, rtol=0)
        torch.testing.assert_close(ours.head_dist(out["features"][:, 1]), expected.distillation_logits,
                                   atol=1e-5, rtol=0)
        for ours_a, ref_a in zip(out["attentions"], expected.attentions, strict=True):
            assert ours_a.shape == (2, 2, 2 + 16, 2 + 16)
            torch.testing.assert_close(ours_a, ref_a, atol=1e-5, rtol=0)
        wide = torch.randn(2, 3, 24, 56, generator=torch.Generator().manual_seed(32))  # non-square, resampled
        torch.testing.assert_close(ours(wide)["logits"], ref(wide, interpolate_pos_encoding=True).logits,
                                   atol=1e-5, rtol=0)


def test_transformers_deit_without_teacher_is_refused():
    config = {"model_type": "deit", "architectures": ["DeiTForImageClassification"]}
    with pytest.raises(ValueError, match="DeiTForImageClassificationWithTeacher"):
        vit_config_from_transformers(config)


# --- model options of issue 16: act_layer, norm_layer, pos_embed "learn-2d" / "none" -------------------------------

_TINY = dict(patch_size=8, embed_dim=32, depth=2, num_heads=2, num_classes=3)
OPTIONS = {
    "relu": dict(act_layer="relu"),
    "batchnorm": dict(norm_layer="batchnorm"),
    "batchnorm-gap": dict(norm_layer="batchnorm", global_pool="avg", class_token=False),
    "learn-2d": dict(pos_embed="learn-2d"),
    "learn-2d-registers": dict(pos_embed="learn-2d", reg_tokens=2, no_embed_class=True),
    "none": dict(pos_embed="none"),
    "all": dict(act_layer="relu", norm_layer="batchnorm", pos_embed="learn-2d", distilled=True),
}


def _option_model(option: str, image_size=(32, 48), seed: int = 0) -> ViT:
    torch.manual_seed(seed)
    return ViT(ViTConfig(image_size=image_size, **_TINY, **OPTIONS[option]))


def test_option_defaults_are_timm_and_refuse_bad_values():
    cfg = ViTConfig()
    assert (cfg.act_layer, cfg.norm_layer, cfg.pos_embed) == ("gelu", "layernorm", "learn")
    default = ViT(ViTConfig(image_size=32, **_TINY))
    assert isinstance(default.blocks[0].mlp.act, torch.nn.GELU) and default.blocks[0].mlp.act.approximate == "none"
    assert type(default.blocks[0].norm1) is torch.nn.LayerNorm and type(default.norm) is torch.nn.LayerNorm
    assert not any("running" in k or k.startswith("pos_embed_") for k in default.state_dict())
    for kwargs, match in [(dict(act_layer="swish"), r"act_layer must be one of \('gelu', 'relu'\)"),
                          (dict(norm_layer="rmsnorm"), r"norm_layer must be one of \('layernorm', 'batchnorm'\)"),
                          (dict(pos_embed="learned-2d"), r"pos_embed must be one of .*'learn-2d'.*'none'"),
                          (dict(pos_embed="learn-2d", embed_dim=33, num_heads=3), "even embed_dim")]:
        with pytest.raises(ValueError, match=match):
            ViTConfig(**kwargs)


@pytest.mark.parametrize("option", sorted(OPTIONS))
def test_option_shapes_on_square_and_non_square_inputs(option):
    model = _option_model(option).eval()
    cfg = model.config
    p = cfg.num_prefix_tokens
    with torch.inference_mode():
        for h, w in [(32, 48), (32, 32), (48, 24)]:  # the trained grid 4x6, then resampled grids
            out = model(torch.randn(2, 3, h, w), return_attention=True)
            T = p + (h // 8) * (w // 8)
            assert out["logits"].shape == (2, 3) and out["features"].shape == (2, T, 32)
            assert out["grid_size"] == (h // 8, w // 8) and len(out["attentions"]) == 2
            assert out["attentions"][0].shape == (2, 2, T, T) and torch.isfinite(out["logits"]).all()
    model.train()
    out = model(torch.randn(2, 3, 40, 32))  # training mode (BatchNorm: batch statistics), another grid
    out["logits"].sum().backward()
    assert all(q.grad is not None for q in model.parameters())
    state = model.state_dict()
    assert ("pos_embed" in state) == (cfg.pos_embed == "learn")
    if cfg.pos_embed == "learn-2d":
        assert state["pos_embed_row"].shape == (4, 16) and state["pos_embed_col"].shape == (6, 16)
    if cfg.norm_layer == "batchnorm":
        norms = [k for k in state if k.endswith("running_var")]
        assert len(norms) == 2 * cfg.depth + 1  # norm1, norm2 of every block, and norm (or fc_norm with GAP)
        assert isinstance(model.blocks[1].norm2, vit_module.TokenBatchNorm)
    if cfg.act_layer == "relu":
        assert all(isinstance(b.mlp.act, torch.nn.ReLU) for b in model.blocks)


def test_relu_and_batchnorm_keep_the_parameter_names_and_counts():
    base = ViT(ViTConfig(image_size=32, **_TINY))
    relu = ViT(ViTConfig(image_size=32, act_layer="relu", **_TINY))
    bn = ViT(ViTConfig(image_size=32, norm_layer="batchnorm", **_TINY))
    shapes = {n: q.shape for n, q in base.named_parameters()}
    assert {n: q.shape for n, q in relu.named_parameters()} == shapes
    assert {n: q.shape for n, q in bn.named_parameters()} == shapes  # same weight/bias; statistics are buffers
    x = torch.randn(5, 7, 32)
    mlp = relu.blocks[0].mlp
    torch.testing.assert_close(mlp(x), mlp.fc2(torch.clamp(mlp.fc1(x), min=0)))


def test_token_batchnorm_uses_per_channel_statistics_over_batch_and_tokens():
    norm = vit_module.TokenBatchNorm(4, eps=1e-6)
    with torch.no_grad():
        norm.weight.copy_(torch.tensor([1.0, 2.0, 0.5, 1.0]))
        norm.bias.copy_(torch.tensor([0.0, 1.0, 0.0, -1.0]))
    x = torch.randn(3, 5, 4, generator=torch.Generator().manual_seed(0)) * torch.tensor([1.0, 3.0, 0.2, 5.0]) + 2
    rows = x.reshape(15, 4)  # by hand: every token of every image is a sample of each channel
    mean, var = rows.mean(0), rows.var(0, unbiased=False)
    expected = (x - mean) / torch.sqrt(var + 1e-6) * norm.weight + norm.bias
    torch.testing.assert_close(norm(x), expected, atol=1e-5, rtol=0)
    # running statistics: momentum 0.1 from (0, 1), with the unbiased variance (as nn.BatchNorm1d)
    torch.testing.assert_close(norm.running_mean, 0.1 * mean)
    torch.testing.assert_close(norm.running_var, 0.9 + 0.1 * rows.var(0, unbiased=True))
    norm.eval()
    expected = (x - norm.running_mean) / torch.sqrt(norm.running_var + 1e-6) * norm.weight + norm.bias
    torch.testing.assert_close(norm(x), expected, atol=1e-5, rtol=0)
    assert norm(x[0, 0]).shape == (4,)  # eval: any leading shape, even a single vector


def test_learn_2d_table_is_row_then_column_and_resamples_each_axis_linearly():
    model = ViT(ViTConfig(image_size=(32, 48), pos_embed="learn-2d", **_TINY))  # grid 4x6, D/2 = 16
    with torch.no_grad():
        model.pos_embed_row.copy_(torch.arange(4.0)[:, None].expand(4, 16))  # row r: all r
        model.pos_embed_col.copy_(10 + torch.arange(6.0)[:, None].expand(6, 16))  # column c: all 10 + c
    table = model.patch_position_table().reshape(4, 6, 32)
    assert table.shape == (4, 6, 32)
    for r, c in [(0, 0), (2, 5), (3, 1)]:
        assert torch.equal(table[r, c, :16], torch.full((16,), float(r)))
        assert torch.equal(table[r, c, 16:], torch.full((16,), 10.0 + c))
    # rows 0..3 at 8 rows (align_corners=False: output i samples at (i + 0.5) / 2 - 0.5, clamped at the edges)
    bigger = model.patch_position_table((8, 3)).reshape(8, 3, 32)
    rows = torch.tensor([0, 0.25, 0.75, 1.25, 1.75, 2.25, 2.75, 3])
    torch.testing.assert_close(bigger[:, 0, 0], rows)
    torch.testing.assert_close(bigger[0, :, 16], torch.tensor([10.5, 12.5, 14.5]))  # columns 0..5 -> 3 columns
    # the prefix (CLS) token gets no position embedding, as with sincos
    assert torch.equal(model._position_embedding((4, 6), torch.zeros(1))[0, 0], torch.zeros(32))


def test_no_position_embedding_makes_the_model_blind_to_patch_order():
    none, learned = _option_model("none", image_size=32).eval(), _option_model("relu", image_size=32).eval()
    assert not any(n.startswith("pos_embed") for n, _ in none.named_parameters())
    assert none.patch_position_table() is None
    x = torch.randn(1, 3, 32, 32)
    swapped = x.clone()  # swap the top-left and bottom-right 8x8 patches
    swapped[..., :8, :8], swapped[..., 24:, 24:] = x[..., 24:, 24:], x[..., :8, :8]
    with torch.inference_mode():
        torch.testing.assert_close(none(swapped)["logits"], none(x)["logits"], atol=1e-5, rtol=0)
        assert not torch.allclose(learned(swapped)["logits"], learned(x)["logits"], atol=1e-5)


@pytest.mark.parametrize("option", ["all", "batchnorm-gap", "none", "learn-2d-registers"])
def test_option_models_save_and_load_with_their_buffers(tmp_path, option):
    """cvdemo.models.save / load (strict) keeps the options, the tables and BatchNorm's running statistics."""
    from cvdemo.models import load, save

    model = _option_model(option)
    _perturb(model, 31)
    model.train()
    with torch.no_grad():
        for _ in range(2):  # move the running statistics off (0, 1)
            model(torch.randn(4, 3, 32, 48))
    model.eval()
    again = load(save(model, tmp_path / option))
    assert isinstance(again, ViT) and again.config == model.config
    mine, theirs = model.state_dict(), again.state_dict()
    assert mine.keys() == theirs.keys() and all(torch.equal(mine[k], theirs[k]) for k in mine)
    x = torch.randn(2, 3, 32, 48, generator=torch.Generator().manual_seed(32))
    with torch.inference_mode():
        torch.testing.assert_close(again(x)["logits"], model(x)["logits"], atol=0, rtol=0)


def test_option_config_round_trip_and_old_configs_load():
    cfg = ViTConfig(image_size=(32, 48), act_layer="relu", norm_layer="batchnorm", pos_embed="learn-2d", **_TINY)
    d = json.loads(json.dumps(cfg.to_dict()))
    assert (d["act_layer"], d["norm_layer"], d["pos_embed"]) == ("relu", "batchnorm", "learn-2d")
    assert ViTConfig.from_dict(d) == cfg
    old = ViTConfig(image_size=32, **_TINY).to_dict()
    del old["act_layer"], old["norm_layer"]  # a config.json saved before these fields
    loaded = ViTConfig.from_dict(old)
    assert (loaded.act_layer, loaded.norm_layer) == ("gelu", "layernorm")


def test_new_position_tables_get_no_weight_decay_and_attention_views_handle_every_kind():
    from cvdemo.training.classification import ClassificationTask
    from cvdemo.vit_run import position_embedding_similarity

    model = _option_model("all")
    groups = {g["name"]: {id(q) for q in g["params"]}
              for g in ClassificationTask(model.config).param_groups(model, 1e-3, None, 0.05)}
    assert {id(model.pos_embed_row), id(model.pos_embed_col), id(model.blocks[0].norm1.weight)} <= groups["no_decay"]
    assert id(model.blocks[0].mlp.fc1.weight) in groups["decay"]

    sim = position_embedding_similarity(model, (2, 2))  # learned tables: read at the trained grid 4x6
    assert sim.shape == (4, 6, 4, 6)
    np.testing.assert_allclose(np.diagonal(sim.reshape(24, 24)), 1.0, atol=1e-5)
    assert position_embedding_similarity(_option_model("none"), (4, 6)) is None
    sincos = ViT(ViTConfig(image_size=(32, 48), pos_embed="sincos", **_TINY))
    assert position_embedding_similarity(sincos, (2, 3)).shape == (2, 3, 2, 3)
