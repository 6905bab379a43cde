"""Issue 16's CNN and hybrid classifiers (a ResNet and a hybrid ViT of a ViT's size) and the claims runner's
architecture choice: shapes, parameter matching, save -> load, training through ClassificationTask, the hybrid's
attention maps and explanations, the runner building each architecture, the fairness rule of the feature hint."""

from __future__ import annotations

import dataclasses

import pytest
import torch

import cvdemo.models
from cvdemo.experiments.architecture_claims import ARCHITECTURE_CLAIMS
from cvdemo.experiments.runner import build_classifier, prepare_run, train_one
from cvdemo.experiments.spec import ClaimSpec, Overrides
from cvdemo.explain import vit_relevance
from cvdemo.models.hybrid_vit import HybridViT, HybridViTConfig, matched_hybrid_config
from cvdemo.models.registry import model_task
from cvdemo.models.resnet_classifier import (
    ResNetClassifier,
    ResNetClassifierConfig,
    matched_resnet_config,
    resnet_parameter_count,
)
from cvdemo.models.vit import ViT, ViTConfig
from cvdemo.training.classification import ClassificationTask
from cvdemo.training.presets import VIT_TRAINING_PRESETS, build_vit_task, shapes_id2label

pytestmark = pytest.mark.usefixtures("one_torch_thread")

LABELS = {0: "circle", 1: "square", 2: "triangle"}
SMALL_RESNET = dict(image_size=32, num_classes=3, widths=(4, 8, 8), depths=(1, 1, 1), id2label=LABELS)
SMALL_HYBRID = dict(image_size=32, num_classes=3, stem_widths=(4, 8, 8), id2label=LABELS,
                    transformer=dict(embed_dim=16, depth=2, num_heads=2, class_token=True, global_pool="token"))


def _weights(model: torch.nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())


def _vit_config(preset: str) -> ViTConfig:
    return ViTConfig(**VIT_TRAINING_PRESETS[preset].model, num_classes=6, id2label=shapes_id2label())


# --- the models -----------------------------------------------------------------------------------------------------


def test_resnet_shapes_and_any_input_size():
    model = ResNetClassifier(ResNetClassifierConfig(**SMALL_RESNET)).eval()
    assert model.config.stride == 8 and _weights(model) == resnet_parameter_count(model.config)
    out = model(pixel_values=torch.randn(2, 3, 32, 32))
    assert out["logits"].shape == (2, 3) and out["pre_logits"].shape == (2, 8)
    assert out["feature_map"].shape == (2, 8, 4, 4)
    assert model(torch.randn(1, 3, 37, 21))["logits"].shape == (1, 3)  # global pooling: any size
    headless = ResNetClassifier(ResNetClassifierConfig(**{**SMALL_RESNET, "num_classes": 0}))
    assert headless(torch.randn(1, 3, 32, 32))["logits"].shape == (1, 8)
    with pytest.raises(ValueError, match="one entry per stage"):
        ResNetClassifierConfig(widths=(4, 8), depths=(1,))
    with pytest.raises(ValueError, match=r"\[B, 3, H, W\]"):
        model(torch.randn(3, 32, 32))


def test_hybrid_shapes_and_attention_maps():
    model = HybridViT(HybridViTConfig(**SMALL_HYBRID)).eval()
    cfg = model.config
    assert cfg.patch_size == 8 and cfg.grid_size == (4, 4) and cfg.num_prefix_tokens == 1 and cfg.readout_rows == (0,)
    assert model.vit.patch_embed.proj.kernel_size == (1, 1)  # the paper's 1x1 patches of the feature map
    out = model(torch.randn(2, 3, 32, 48), return_attention=True)
    T = 1 + 4 * 6
    assert out["logits"].shape == (2, 3) and out["pre_logits"].shape == (2, 16)
    assert out["features"].shape == (2, T, 16) and out["grid_size"] == (4, 6)
    assert out["feature_map"].shape == (2, 8, 4, 6)
    assert len(out["attentions"]) == 2 and all(a.shape == (2, 2, T, T) for a in out["attentions"])
    torch.testing.assert_close(out["attentions"][0].sum(-1), torch.ones(2, 2, T))
    assert "attentions" not in model(torch.randn(1, 3, 32, 32))
    with pytest.raises(ValueError, match="multiple of the stem's stride 8"):
        model(torch.randn(1, 3, 30, 32))
    assert vit_relevance(model, torch.randn(2, 3, 32, 32)).shape == (2, 4, 4)  # the ViT explanations read it as is


def test_hybrid_config_checks_and_round_trip():
    cfg = HybridViTConfig(**SMALL_HYBRID)
    assert HybridViTConfig.from_dict(cfg.to_dict()) == cfg
    with pytest.raises(ValueError, match="may not set"):
        HybridViTConfig(**{**SMALL_HYBRID, "transformer": {"embed_dim": 16, "depth": 1, "num_heads": 2,
                                                            "patch_size": 4}})
    with pytest.raises(ValueError, match="not divisible"):
        HybridViTConfig(**{**SMALL_HYBRID, "transformer": {"embed_dim": 15, "depth": 1, "num_heads": 2}})
    with pytest.raises(ValueError, match="keys"):
        HybridViTConfig(**{**SMALL_HYBRID, "transformer": {"embed_dim": 16, "depth": 1, "num_heads": 2,
                                                            "no_such_option": 1}})


@pytest.mark.parametrize("preset", ["tiny", "small"])
def test_parameter_counts_match_the_vit_preset_within_10_percent(preset):
    vit_config = _vit_config(preset)
    target = _weights(ViT(vit_config))
    state = torch.get_rng_state()
    resnet, hybrid = ResNetClassifier(matched_resnet_config(vit_config)), HybridViT(matched_hybrid_config(vit_config))
    for model in (resnet, hybrid):
        assert abs(_weights(model) - target) / target < 0.10, (type(model).__name__, _weights(model), target)
    assert hybrid.config.token_config().depth == vit_config.depth  # the same transformer
    assert hybrid.config.embed_dim == vit_config.embed_dim and hybrid.config.patch_size == vit_config.patch_size
    torch.set_rng_state(state)
    matched_resnet_config(vit_config), matched_hybrid_config(vit_config)
    assert torch.equal(torch.get_rng_state(), state)  # matching draws no random numbers: seeds stay comparable


@pytest.mark.parametrize("model", [ResNetClassifier(ResNetClassifierConfig(**SMALL_RESNET)),
                                   HybridViT(HybridViTConfig(**SMALL_HYBRID))], ids=["resnet", "hybrid"])
def test_save_then_load_gives_identical_outputs(tmp_path, model):
    model.train()
    model(torch.randn(4, 3, 32, 32))  # move the BatchNorm running statistics away from their start
    model.eval()
    cvdemo.models.save(model, tmp_path)
    loaded = cvdemo.models.load(tmp_path)
    assert type(loaded) is type(model) and loaded.config == model.config and not loaded.training
    assert model_task(loaded) == "classify"
    x = torch.randn(2, 3, 32, 32)
    with torch.no_grad():
        torch.testing.assert_close(loaded(x)["logits"], model(x)["logits"], atol=0, rtol=0)


@pytest.mark.parametrize("architecture", ["resnet", "hybrid"])
def test_classification_task_trains_them(architecture):
    torch.manual_seed(0)
    config = ResNetClassifierConfig(**SMALL_RESNET) if architecture == "resnet" else HybridViTConfig(**SMALL_HYBRID)
    model = (ResNetClassifier if architecture == "resnet" else HybridViT)(config).train()
    task = ClassificationTask(model.config)
    images = (torch.rand(8, 3, 32, 32) * 255).to(torch.uint8)
    batch = task.collate([(img, {"label": k % 3}) for k, img in enumerate(images)])
    optimizer = torch.optim.AdamW(task.param_groups(model, lr=3e-3, backbone_lr=None, weight_decay=0.0))
    losses = []
    for step in range(15):
        loss, logged = task.loss(model, batch, step)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        losses.append(loss.item())
    assert losses[-1] < losses[0] * 0.7 and set(logged) == {"loss_ce", "accuracy"}


# --- the runner's architecture choice -------------------------------------------------------------------------------

# a 32 px ViT with one block of width 32 on 8 generated images, 2 updates, evaluated once on 4 images
TINY_ARCH = ClaimSpec(
    name="tiny-architectures", section="3.1", claim_en="a CNN beats a ViT", claim_zh="CNN 更好", task="classify",
    preset="tiny", varied="architecture",
    variants={"ViT": Overrides(model={"architecture": "vit"}), "ResNet": Overrides(model={"architecture": "resnet"}),
              "hybrid": Overrides(model={"architecture": "hybrid"})},
    metric="accuracy", direction="higher", relation="better", steps=2, eval_every=2, seeds=(0, 1),
    num_train_images=8, num_val_images=4, hint=False,
    base=Overrides(model=dict(image_size=32, patch_size=8, embed_dim=32, depth=1, num_heads=2),
                   shapes=dict(image_size=32), train=dict(batch_size=4, eval_batch_size=4, warmup_steps=0)))


def test_the_runner_builds_each_architecture_with_matched_weights_and_trains_it():
    runs = {v: prepare_run(TINY_ARCH, v, 0) for v in TINY_ARCH.variants}
    assert {v: type(r.model).__name__ for v, r in runs.items()} == {"ViT": "ViT", "ResNet": "ResNetClassifier",
                                                                   "hybrid": "HybridViT"}
    target = _weights(runs["ViT"].model)
    for variant, run in runs.items():
        assert abs(_weights(run.model) - target) / target < 0.10, variant
        assert run.task.hint is None and run.config == runs["ViT"].config  # same TrainConfig, no hint
        assert run.model.config.image_hw == (32, 32) and run.model.config.num_classes == 6
        assert [run.train[i][1]["label"] for i in range(8)] == [runs["ViT"].train[i][1]["label"] for i in range(8)]
    for variant in ("ResNet", "hybrid"):
        record = train_one(TINY_ARCH, variant, 0)
        assert record.status == "finished" and [s for s, _ in record.curve] == [2]
        assert record.settings["overrides"]["model"]["architecture"] == variant.lower()
        assert record.num_parameters == _weights(runs[variant].model)


def test_the_feature_hint_goes_to_every_variant_or_to_none():
    hinted = dataclasses.replace(TINY_ARCH, hint=True)
    assert "resnet" not in TINY_ARCH.hint_problem() and "ResNet" in hinted.hint_problem()
    with pytest.raises(ValueError, match="set hint=False"):
        prepare_run(hinted, "ViT", 0)
    token_models = dataclasses.replace(
        hinted, variants={k: v for k, v in TINY_ARCH.variants.items() if k != "ResNet"},
        base=TINY_ARCH.base.merged(Overrides(model=dict(image_size=64, depth=2), shapes=dict(image_size=64))))
    assert token_models.hint_problem() == ""  # a ViT and a hybrid can both take it: both get it
    for variant in token_models.variants:
        run = prepare_run(token_models, variant, 0)
        assert run.task.hint is not None and run.task.hint.block == 1
        loss, logged = run.task.loss(run.model, run.task.collate([run.train[i] for i in range(2)]), 0)
        assert torch.isfinite(loss) and "loss_hint" in logged


def test_bad_architectures_are_refused():
    good = dict(name="x", section="3.1", claim_en="e", claim_zh="z", task="classify", preset="tiny", varied="v",
                metric="accuracy", direction="higher", relation="better", steps=1, eval_every=1, hint=False)
    with pytest.raises(ValueError, match="architecture must be one of"):
        ClaimSpec(**good, variants={"a": Overrides(model={"architecture": "mlp"}), "b": Overrides()})
    with pytest.raises(ValueError, match="only a classify claim"):
        ClaimSpec(**{**good, "task": "detect", "metric": "AP"},
                  variants={"a": Overrides(model={"architecture": "resnet"}), "b": Overrides()})
    fields = dict(VIT_TRAINING_PRESETS["tiny"].model)
    with pytest.raises(ValueError, match="no ViTConfig fields"):
        build_classifier("vit", {**fields, "stem_depth": 2}, LABELS)
    with pytest.raises(ValueError, match="not options of the resnet"):
        build_classifier("resnet", {**fields, "stem_depth": 2}, LABELS)
    assert build_classifier("resnet", {**fields, "depths": (1, 1, 1, 1)}, LABELS).config.depths == (1, 1, 1, 1)
    assert build_classifier("hybrid", {**fields, "stem_depth": 2}, LABELS).config.stem_depth == 2


def test_the_architecture_claims_build_every_variant_at_matched_size():
    assert set(ARCHITECTURE_CLAIMS) == {"cnn-vs-vit-small-data", "hybrid-vs-vit"}
    for spec in ARCHITECTURE_CLAIMS.values():
        assert spec.runnable and not spec.hint and spec.hint_problem() == "" and len(spec.seeds) >= 3
        assert spec.claim_en and spec.claim_zh and spec.why_may_differ_en and spec.why_may_differ_zh
        models = {v: build_classifier(spec.architecture_of(v), dict(VIT_TRAINING_PRESETS[spec.preset].model),
                                      shapes_id2label()) for v in spec.variants}
        counts = {v: _weights(m) for v, m in models.items()}
        assert all(abs(n - counts["ViT"]) / counts["ViT"] < 0.01 for n in counts.values()), counts
        assert spec.pairs[0][1] == "ViT"


def test_build_vit_task_hints_a_hybrid_like_a_vit():
    preset = VIT_TRAINING_PRESETS["tiny"]
    hybrid = build_classifier("hybrid", dict(preset.model), shapes_id2label())
    task = build_vit_task(preset, hybrid)
    assert task.hint is not None and task.hint.head.in_features == hybrid.config.embed_dim
