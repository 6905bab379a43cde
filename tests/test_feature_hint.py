"""Feature hints for the ViT (`cvdemo.training.feature_hint`): the loss, its plumbing in the classification
task, the presets and the CLI. Tiny models on 32 px images."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch
import torch.nn.functional as F
from torch import nn

import cvdemo.models
from cvdemo.datasets.shapes import CATEGORIES, ShapesConfig, ShapesDataset
from cvdemo.models.detr import DETR, DETR_PRESETS, DETRConfig
from cvdemo.models.vit import ViT, ViTConfig
from cvdemo.training import ClassificationTask, StepEvent, TrainConfig, Trainer
from cvdemo.training.cli import run as cli_run
from cvdemo.training.feature_hint import FeatureHint
from cvdemo.training.presets import VIT_TRAINING_PRESETS, build_vit, build_vit_task

REPO = Path(__file__).resolve().parents[1]
ID2LABEL = {k: c.name for k, c in enumerate(CATEGORIES)}
MEAN, STD = (0.485, 0.456, 0.406), (0.229, 0.224, 0.225)


class PoolTeacher(nn.Module):
    """Average pooling over 8x8 cells: [B, 3, H, W] -> [B, 3, H/8, W/8] (stride 8, 3 channels)."""

    stride, num_channels = 8, 3

    def forward(self, x):
        return F.avg_pool2d(x, 8)


def vit(seed: int = 0) -> ViT:
    torch.manual_seed(seed)
    return ViT(ViTConfig(image_size=32, patch_size=8, embed_dim=32, depth=2, num_heads=2, num_classes=6,
                         id2label=ID2LABEL, image_mean=(0.5,) * 3, image_std=(0.5,) * 3))


def detr_teacher() -> DETR:
    torch.manual_seed(0)
    return DETR(DETRConfig(**DETR_PRESETS["detr-tiny"], num_classes=6, id2label=ID2LABEL))


def test_teacher_sees_the_student_pixels_in_its_own_normalisation():
    model = vit()
    hint = FeatureHint(PoolTeacher(), MEAN, STD, model.config.image_mean, model.config.image_std, 32, 8)
    pixels01 = torch.rand(4, 3, 32, 32)
    student = (pixels01 - 0.5) / 0.5
    expected = F.avg_pool2d((pixels01 - torch.tensor(MEAN).view(1, 3, 1, 1)) / torch.tensor(STD).view(1, 3, 1, 1),
                            8).flatten(2).transpose(1, 2)  # (4, 16, 3)
    expected = (expected - expected.mean((0, 1))) / (expected.std((0, 1)) + 1e-3)
    torch.testing.assert_close(hint.teacher_tokens(student), expected, atol=1e-5, rtol=1e-5)


def test_grids_must_line_up():
    with pytest.raises(ValueError, match=r"stride \(8\) must equal the ViT's patch size \(4\)"):
        FeatureHint(PoolTeacher(), MEAN, STD, (0.5,) * 3, (0.5,) * 3, 32, patch_size=4)
    model = vit()
    hint = FeatureHint(PoolTeacher(), MEAN, STD, (0.5,) * 3, (0.5,) * 3, 32, 8, block=5)
    with pytest.raises(ValueError, match="hint block 5 does not exist: the ViT has 2 blocks"):
        hint.loss(model, torch.zeros(1, 3, 32, 32))


def _trainer(model: ViT, task: ClassificationTask, steps: int) -> Trainer:
    data = ShapesDataset(16, 3, ShapesConfig(image_size=32, task="classify", min_size=0.4, max_size=0.9))
    return Trainer(model, task, data, config=TrainConfig(total_steps=steps, batch_size=4, lr=3e-3, hflip=0.0,
                                                         weight_decay=0.0, grad_clip=1.0))


def test_hint_loss_adds_to_the_ce_trains_its_head_and_leaves_the_teacher_alone():
    model, teacher = vit(), detr_teacher()
    before = {k: v.clone() for k, v in teacher.backbone.state_dict().items()}
    hint = FeatureHint(teacher.backbone, MEAN, STD, (0.5,) * 3, (0.5,) * 3, 32, 8, block=0, weight=2.0)
    task = ClassificationTask(model.config, hint=hint)
    head_before = hint.head.weight.detach().clone()
    trainer = _trainer(model, task, 8)
    steps = [e for e in trainer.run() if isinstance(e, StepEvent)]
    for e in steps:
        assert e.loss == pytest.approx(e.losses["loss_ce"] + 2.0 * e.losses["loss_hint"], rel=1e-5)
    assert steps[-1].losses["loss_hint"] < steps[0].losses["loss_hint"]  # the tokens learn the teacher's map
    assert {g["name"] for g in trainer.optimizer.param_groups} == {"decay", "no_decay", "hint_head"}
    assert not torch.equal(hint.head.weight, head_before)
    assert all(torch.equal(v, before[k]) for k, v in teacher.backbone.state_dict().items())  # frozen, BN too
    assert all(p.grad is None for p in teacher.parameters())


def test_a_hinted_model_saves_as_a_plain_vit(tmp_path):
    model = vit()
    task = ClassificationTask(model.config, hint=FeatureHint(PoolTeacher(), MEAN, STD, (0.5,) * 3, (0.5,) * 3,
                                                             32, 8))
    list(_trainer(model, task, 2).run())
    cvdemo.models.save(model, tmp_path / "m")
    loaded = cvdemo.models.load(tmp_path / "m")  # strict: no hint weights in the file
    assert set(loaded.state_dict()) == set(vit().state_dict())
    x = torch.randn(2, 3, 32, 32)
    torch.testing.assert_close(loaded.eval()(x)["logits"], model.eval()(x)["logits"])


def test_small_preset_is_hinted_by_the_shipped_detr_and_can_go_without(tmp_path, capsys):
    preset = VIT_TRAINING_PRESETS["small"]
    model = build_vit(preset)
    task = build_vit_task(preset, model)
    assert task.hint is not None and task.hint.block == 1
    shipped = cvdemo.models.load(REPO / "checkpoints" / "detr-shapes-2dec")
    assert all(torch.equal(v, shipped.backbone.state_dict()[k]) for k, v in task.hint.teacher.state_dict().items())
    assert build_vit_task(preset, model, hint_from=None).hint is None
    tiny = VIT_TRAINING_PRESETS["tiny"]
    assert build_vit_task(tiny, build_vit(tiny)).hint.block == 1  # the live demo: 2 blocks, the last one hinted

    common = ["--preset", "small", "--num-train-images", "8", "--num-val-images", "2", "--batch-size", "4",
              "--steps", "1", "--eval-every", "0", "--no-progress"]
    assert cli_run("vit", common + ["--out", str(tmp_path / "a")]) == 0
    assert json.loads((tmp_path / "a" / "run.json").read_text())["hint_from"] == "checkpoints/detr-shapes-2dec"
    log = [json.loads(line) for line in (tmp_path / "a" / "log.jsonl").read_text().splitlines()]
    assert "loss_hint" in [r for r in log if r["event"] == "step"][0]["losses"]
    from training.model_card import main as card_main

    assert card_main([str(tmp_path / "a"), "--out", str(tmp_path / "card"), "--preset", "small", "--command", "x",
                      "--eval-images", "4"]) == 0
    card = (tmp_path / "card" / "README.md").read_text()
    assert "tokens after block 1 predict the frozen `checkpoints/detr-shapes-2dec` backbone's feature map" in card
    assert cli_run("vit", common + ["--out", str(tmp_path / "b"), "--hint-from", "none"]) == 0
    assert json.loads((tmp_path / "b" / "run.json").read_text())["hint_from"] is None
    with pytest.raises(SystemExit) as stopped:
        cli_run("vit", common + ["--out", str(tmp_path / "c"), "--hint-from", "checkpoints/vit-shapes"])
    assert stopped.value.code == 2
    assert "hint teacher checkpoints/vit-shapes: that is a ViT, not a DETR" in capsys.readouterr().err


def test_the_train_tab_trains_the_small_vit_with_its_hint_and_plots_it():
    from cvdemo.training import Trainer as _Trainer
    from cvdemo.training.requests import TrainRequest, build_setup
    from cvdemo.ui.training_view import RunView

    setup = build_setup(TrainRequest(kind="vit", preset="small", length=2, batch_size=4, snapshot_every=0,
                                     num_train_images=8, num_val_images=2))
    assert setup.task.hint is not None  # the same recipe as the CLI
    events = list(_Trainer(setup.model, setup.task, setup.train_data, setup.val_data, setup.config).run())
    view = RunView()
    view.consume(events)
    assert "batch loss_hint" in {t.get("name") for t in view.figure_dict()["data"]}
