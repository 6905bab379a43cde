"""The training engine (cvdemo.training) and the training CLIs (training/).

Small models on a few generated 64 px images, so the whole file runs in well under a minute on 2 CPU cores.
"""

from __future__ import annotations

import json
import math
import os
import subprocess
import sys
import threading
from pathlib import Path

import numpy as np
import pytest
import torch
from torch import nn

import cvdemo.models
from cvdemo.boxes import box_cxcywh_to_xyxy
from cvdemo.datasets.coco import load_coco_ground_truth
from cvdemo.datasets.shapes import CATEGORIES, ShapesConfig, ShapesDataset, write_shapes_dataset
from cvdemo.models.detr import DETR, DETR_PRESETS, DETRConfig
from cvdemo.models.image_processing import prepare_detr_inputs
from cvdemo.models.loading import CheckpointError
from cvdemo.models.vit import ViT, ViTConfig
from cvdemo.training import (
    ClassificationTask,
    CocoFolderDataset,
    DetectionTask,
    EvalEvent,
    NonFiniteLossError,
    RunFinished,
    RunStarted,
    SnapshotEvent,
    StepEvent,
    TrainConfig,
    Trainer,
    epoch_batches,
    ground_truth_of,
    lr_factor,
)
from cvdemo.training.cli import run as cli_run
from cvdemo.training.data import random_horizontal_flip

REPO = Path(__file__).resolve().parents[1]
ID2LABEL = {k: c.name for k, c in enumerate(CATEGORIES)}
DETECT_64 = ShapesConfig(image_size=64, min_objects=1, max_objects=2, min_size=0.3, max_size=0.6)
DETECT_32 = ShapesConfig(image_size=32, min_objects=1, max_objects=2, min_size=0.3, max_size=0.6)
CLASSIFY_32 = ShapesConfig(image_size=32, task="classify", min_size=0.4, max_size=0.9)


pytestmark = pytest.mark.usefixtures("one_torch_thread")


def tiny_detr(seed: int = 0, dropout: float = 0.1, size: int = 64) -> DETR:
    """DETR-tiny (ResNet-18) for ``size`` px images; 32 px (a 1x1 feature map) where only mechanics matter."""
    torch.manual_seed(seed)
    config = DETRConfig(**{**DETR_PRESETS["detr-tiny"], "shortest_edge": size, "longest_edge": size,
                           "dropout": dropout, "num_queries": 8}, num_classes=6, id2label=ID2LABEL)
    return DETR(config)


def tiny_vit(seed: int = 0) -> ViT:
    torch.manual_seed(seed)
    return ViT(ViTConfig(image_size=32, patch_size=8, embed_dim=64, depth=2, num_heads=2, num_classes=6,
                         id2label=ID2LABEL, image_mean=(0.5,) * 3, image_std=(0.5,) * 3))


def steps_of(events) -> list[StepEvent]:
    return [e for e in events if isinstance(e, StepEvent)]


def detr_trainer(model: DETR, data=None, **config) -> Trainer:
    config = {"total_steps": 4, "batch_size": 4, "lr": 2e-4, "backbone_lr": None, "hflip": 0.5, **config}
    return Trainer(model, DetectionTask(model.config), data or ShapesDataset(16, 3, DETECT_32),
                   config=TrainConfig(**config))


def vit_trainer(model: ViT, data=None, val=None, **config) -> Trainer:
    config = {"total_steps": 4, "batch_size": 8, "lr": 1e-3, "weight_decay": 0.05, "grad_clip": 1.0, **config}
    return Trainer(model, ClassificationTask(model.config), data or ShapesDataset(32, 3, CLASSIFY_32), val,
                   config=TrainConfig(**config))


# --- schedule and batch order -------------------------------------------------------------------------


def test_lr_factor_warmup_cosine_and_step():
    total, warm = 110, 10
    for step in range(warm):
        assert lr_factor(step, total, "cosine", warm) == pytest.approx((step + 1) / (warm + 1))
    for step in (10, 35, 60, 109, 200):
        progress = min((step - warm) / (total - warm), 1.0)
        expected = 0.1 + 0.9 * 0.5 * (1 + math.cos(math.pi * progress))
        assert lr_factor(step, total, "cosine", warm, min_ratio=0.1) == pytest.approx(expected)
    assert [lr_factor(s, 100, "step", 0, drop_step=50) for s in (0, 49, 50, 99)] == [1, 1, 0.1, 0.1]
    assert lr_factor(70, 100, "constant") == 1.0
    with pytest.raises(ValueError, match="unknown schedule"):
        lr_factor(0, 10, "linear")


def test_epoch_batches_is_a_seeded_permutation_shared_between_processes():
    single = epoch_batches(23, 4, seed=5, epoch=2)
    assert len(single) == 5 and all(len(b) == 4 for b in single)  # the incomplete last batch is dropped
    indices = [i for b in single for i, _ in b]
    assert len(set(indices)) == 20 and set(indices) <= set(range(23))
    assert single == epoch_batches(23, 4, seed=5, epoch=2)
    assert single != epoch_batches(23, 4, seed=5, epoch=3) and single != epoch_batches(23, 4, seed=6, epoch=2)
    # two processes with batch 2 together see exactly the single process's batches of 4
    rank0 = epoch_batches(23, 2, seed=5, epoch=2, world_size=2, rank=0)
    rank1 = epoch_batches(23, 2, seed=5, epoch=2, world_size=2, rank=1)
    for full, a, b in zip(single, rank0, rank1):
        assert sorted(full) == sorted(a + b)
    with pytest.raises(ValueError, match="fewer than one batch"):
        epoch_batches(3, 4, seed=0, epoch=0)


def test_horizontal_flip_moves_boxes_with_the_pixels():
    image = torch.zeros(3, 20, 30, dtype=torch.uint8)
    image[:, 4:9, 3:11] = 255  # pixels x 3..10, y 4..8 -> box (3, 4, 11, 9)
    target = {"boxes_xyxy": torch.tensor([[3.0, 4.0, 11.0, 9.0]]), "labels": torch.tensor([0])}
    flip = random_horizontal_flip(1.0)
    flipped, t = flip(image, target, torch.Generator().manual_seed(0))
    ys, xs = np.nonzero(flipped[0].numpy())
    assert t["boxes_xyxy"].tolist() == [[xs.min(), ys.min(), xs.max() + 1.0, ys.max() + 1.0]]
    again, t2 = flip(flipped, t, torch.Generator().manual_seed(0))
    assert torch.equal(again, image) and torch.equal(t2["boxes_xyxy"], target["boxes_xyxy"])
    same, t3 = random_horizontal_flip(0.0)(image, target, torch.Generator().manual_seed(0))
    assert same is image and t3 is target


# --- data: COCO folders and ground truth ---------------------------------------------------------------


def test_coco_folder_reads_what_the_shapes_writer_wrote(tmp_path):
    write_shapes_dataset(tmp_path, 5, seed=11, config=DETECT_64)
    folder = CocoFolderDataset(tmp_path / "images", tmp_path / "annotations.json")
    generated = ShapesDataset(5, 11, DETECT_64)
    assert len(folder) == 5 and [c.name for c in folder.categories] == [c.name for c in CATEGORIES]
    for i in range(5):
        (img_a, t_a), (img_b, t_b) = folder[i], generated[i]
        assert torch.equal(img_a, img_b)
        assert torch.equal(t_a["labels"], t_b["labels"]) and torch.equal(t_a["boxes_xyxy"], t_b["boxes_xyxy"])
        assert t_a["image_id"] == t_b["image_id"] and torch.equal(t_a["size"], t_b["size"])
    # the ground truth built from the generated items is the one the writer put in the json
    written = load_coco_ground_truth(tmp_path / "annotations.json")
    built = ground_truth_of(generated)
    np.testing.assert_array_equal(built.image_ids, written.image_ids)
    np.testing.assert_array_equal(built.category_ids, written.category_ids)
    np.testing.assert_allclose(built.boxes_xywh, written.boxes_xywh)
    np.testing.assert_allclose(built.areas, written.areas, atol=0.01)


def test_detection_collate_matches_preprocessing_and_normalises_boxes():
    model = tiny_detr()
    samples = [ShapesDataset(2, 1, DETECT_64)[i] for i in range(2)]
    batch = DetectionTask(model.config).collate(samples)
    expected = prepare_detr_inputs([img.permute(1, 2, 0).numpy() for img, _ in samples], model.config)
    assert torch.equal(batch.inputs["pixel_values"], expected["pixel_values"])
    for (_, target), t in zip(samples, batch.targets):
        boxes = box_cxcywh_to_xyxy(t["boxes"]) * 64  # back to pixels of the 64 px image
        torch.testing.assert_close(boxes, target["boxes_xyxy"], atol=1e-4, rtol=0)
        assert torch.equal(t["labels"], target["labels"])


# --- learning: overfitting a fixed batch ---------------------------------------------------------------


class FixedBatch:
    """Four fixed images: every batch of 4 is the same batch."""

    def __init__(self, dataset):
        self.items = [dataset[i] for i in range(4)]
        self.categories = dataset.categories

    def __len__(self):
        return 4

    def __getitem__(self, i):
        return self.items[i]


def test_detr_overfits_four_images():
    model = tiny_detr(dropout=0.0)
    events = list(detr_trainer(model, FixedBatch(ShapesDataset(4, 21, DETECT_64)), total_steps=15, hflip=0.0,
                               lr=3e-4, warmup_steps=0, schedule="constant").run())
    losses = [e.loss for e in steps_of(events)]
    assert len(losses) == 15
    assert np.mean(losses[-3:]) < 0.6 * np.mean(losses[:3]), losses
    last = steps_of(events)[-1]
    # every logged term is there, aux layers included
    assert {"loss_ce", "loss_bbox", "loss_giou", "loss_ce_0", "loss_bbox_0", "loss_giou_0",
            "class_error", "cardinality_error"} <= set(last.losses)
    assert set(last.lrs) == {"transformer", "backbone"} and last.images_per_s > 0 and last.memory_mib > 0


def test_vit_overfits_four_images():
    model = tiny_vit()
    events = list(vit_trainer(model, FixedBatch(ShapesDataset(4, 21, CLASSIFY_32)), total_steps=25,
                              batch_size=4, hflip=0.0, warmup_steps=0, schedule="constant").run())
    losses = [e.loss for e in steps_of(events)]
    assert losses[0] > 1.5 and np.mean(losses[-3:]) < 0.3, losses
    assert steps_of(events)[-1].losses["accuracy"] == 1.0


# --- determinism, stop, divergence ---------------------------------------------------------------------


def test_same_seed_same_losses_and_another_seed_differs():
    def detr_losses(seed):
        return [e.losses for e in steps_of(detr_trainer(tiny_detr(size=32), total_steps=3, seed=seed).run())]

    first = detr_losses(0)
    assert first == detr_losses(0)  # bit-identical, every term (dropout, flips and batch order seeded)
    assert first != detr_losses(1)

    def vit_losses(seed):
        return [e.loss for e in steps_of(vit_trainer(tiny_vit(), total_steps=3, seed=seed).run())]

    assert vit_losses(0) == vit_losses(0) != vit_losses(1)


def test_stop_request_is_honoured_within_one_step():
    trainer = vit_trainer(tiny_vit(), total_steps=50)
    seen = []
    for event in trainer.run():
        seen.append(event)
        if isinstance(event, StepEvent) and event.step == 2:
            trainer.request_stop()
    assert [e.step for e in steps_of(seen)] == [1, 2]
    assert isinstance(seen[-1], RunFinished) and seen[-1].reason == "stopped" and seen[-1].step == 2

    # an external threading.Event, set from another thread while the loop runs
    stop = threading.Event()
    trainer = Trainer(tiny_vit(), ClassificationTask(tiny_vit().config), ShapesDataset(32, 3, CLASSIFY_32),
                      config=TrainConfig(total_steps=10_000, batch_size=8, lr=1e-3), stop=stop)
    steps_after_request = []
    for event in trainer.run():
        if isinstance(event, StepEvent):
            if stop.is_set():
                steps_after_request.append(event.step)
            elif event.step == 3:
                threading.Thread(target=stop.set).start()
                threading.Event().wait(0.05)  # the other thread has set it by now
        last = event
    assert len(steps_after_request) <= 1 and last.reason == "stopped" and last.step < 10


def test_stop_request_interrupts_an_evaluation():
    calls = {"n": 0}

    def stop_during_eval():  # the check before step 1 and two evaluation batches pass, then: stop
        calls["n"] += 1
        return calls["n"] > 3

    model = tiny_vit()
    trainer = Trainer(model, ClassificationTask(model.config), ShapesDataset(32, 3, CLASSIFY_32),
                      ShapesDataset(64, 4, CLASSIFY_32), stop=stop_during_eval,
                      config=TrainConfig(total_steps=5, batch_size=8, eval_every=1, eval_batch_size=8))
    events = list(trainer.run())
    assert not any(isinstance(e, EvalEvent) for e in events)
    assert events[-1].reason == "stopped" and events[-1].step == 1


def nan_after(module: nn.Module, calls: int):
    count = {"n": 0}

    def hook(mod, args, output):
        count["n"] += 1
        return output * float("nan") if count["n"] > calls else output

    return module.register_forward_hook(hook)


@pytest.mark.parametrize("kind", ["detr", "vit"])
def test_nan_output_raises_a_clear_error_and_keeps_the_weights(kind):
    if kind == "detr":
        model = tiny_detr(size=32)
        trainer = detr_trainer(model, total_steps=5)
        nan_after(model.class_embed, calls=2)
    else:
        model = tiny_vit()
        trainer = vit_trainer(model, total_steps=5)
        nan_after(model.head, calls=2)
    run = trainer.run()
    weights = None
    with pytest.raises(NonFiniteLossError, match=r"Step 3: the model's outputs .* contain NaN or inf"):
        for event in run:
            if isinstance(event, StepEvent):
                weights = {k: v.clone() for k, v in model.state_dict().items()}
    for k, v in model.state_dict().items():  # the failed step changed nothing
        assert torch.equal(v, weights[k]), k


def test_nan_gradient_raises_before_the_update():
    model = tiny_vit()
    trainer = vit_trainer(model, total_steps=3)
    model.head.weight.register_hook(lambda grad: grad * float("inf"))
    before = model.head.weight.detach().clone()
    with pytest.raises(NonFiniteLossError, match="gradient norm is nan|gradient norm is inf") as info:
        list(trainer.run())
    assert info.value.step == 1 and "learning rate" in str(info.value)
    assert torch.equal(model.head.weight.detach(), before)


# --- checkpoints: save/load and resume -----------------------------------------------------------------


@pytest.mark.parametrize("kind", ["detr", "vit"])
def test_saved_model_loads_with_identical_outputs(tmp_path, kind):
    model = tiny_detr(size=32) if kind == "detr" else tiny_vit()
    trainer = detr_trainer(model, total_steps=2) if kind == "detr" else vit_trainer(model, total_steps=2)
    list(trainer.run())  # trained weights and BatchNorm running statistics
    cvdemo.models.save(model, tmp_path)
    loaded = cvdemo.models.load(tmp_path)
    model.eval()
    x = torch.randn(2, 3, 32, 32)
    with torch.no_grad():
        a, b = model(x), loaded(x)
    for key in ("pred_logits", "pred_boxes") if kind == "detr" else ("logits",):
        assert torch.equal(a[key], b[key])


@pytest.mark.parametrize("kind", ["detr", "vit"])
def test_resume_continues_exactly_like_an_uninterrupted_run(tmp_path, kind):
    def make(**config):
        if kind == "detr":
            return detr_trainer(tiny_detr(size=32), ShapesDataset(12, 3, DETECT_32), total_steps=7, **config)
        return vit_trainer(tiny_vit(), ShapesDataset(24, 3, CLASSIFY_32), total_steps=7, **config)

    full = [e.losses for e in steps_of(make(warmup_steps=2).run())]  # 7 steps cross an epoch boundary
    first = make(warmup_steps=2, checkpoint_dir=str(tmp_path / "ckpt"))
    for event in first.run():
        if isinstance(event, StepEvent) and event.step == 4:
            first.request_stop()  # the final checkpoint is written at step 4
    resumed = make(warmup_steps=2)
    resumed.resume_from = tmp_path / "ckpt"
    events = list(resumed.run())
    assert isinstance(events[0], RunStarted) and events[0].start_step == 4
    assert [e.step for e in steps_of(events)] == [5, 6, 7]
    assert [e.losses for e in steps_of(events)] == full[4:]


def test_checkpoint_is_plain_data_and_refuses_another_model(tmp_path):
    trainer = vit_trainer(tiny_vit(), total_steps=2, checkpoint_dir=str(tmp_path / "ckpt"))
    list(trainer.run())
    ckpt = tmp_path / "ckpt"
    assert sorted(p.name for p in ckpt.iterdir()) == ["config.json", "model.safetensors",
                                                      "trainer_state.json", "trainer_state.safetensors"]
    assert json.loads((ckpt / "trainer_state.json").read_text())["step"] == 2
    assert isinstance(cvdemo.models.load(ckpt), ViT)
    other = ViT(ViTConfig(image_size=32, patch_size=8, embed_dim=32, depth=2, num_heads=2, num_classes=6,
                          id2label=ID2LABEL))
    bad = Trainer(other, ClassificationTask(other.config), ShapesDataset(32, 3, CLASSIFY_32),
                  config=TrainConfig(total_steps=3, batch_size=8), resume_from=ckpt)
    with pytest.raises(CheckpointError, match="embed_dim: checkpoint 64 vs model 32"):
        list(bad.run())


# --- evaluation and snapshots --------------------------------------------------------------------------


class OracleDETR(nn.Module):
    """Predicts the ground truth of each evaluated image (in dataset order), optionally shifted."""

    def __init__(self, dataset, num_queries=8, shift=0.0, duplicates=False):
        super().__init__()
        self.duplicates = duplicates
        self.dummy = nn.Parameter(torch.zeros(()))
        self.targets = [dataset[i][1] for i in range(len(dataset))]
        self.num_queries, self.shift, self.calls = num_queries, shift, 0

    def forward(self, pixel_values, pixel_mask=None):
        logits = torch.full((len(pixel_values), self.num_queries, 7), -10.0)
        logits[..., 6] = 10.0  # no object
        boxes = torch.full((len(pixel_values), self.num_queries, 4), 0.5)
        for b in range(len(pixel_values)):
            target = self.targets[self.calls]
            self.calls += 1
            h, w = target["size"].tolist()
            xyxy = target["boxes_xyxy"] / torch.tensor([w, h, w, h]) + self.shift
            n = len(xyxy)
            logits[b, :n, 6] = -10.0
            logits[b, torch.arange(n), target["labels"]] = 10.0
            boxes[b, :n] = torch.stack([(xyxy[:, 0] + xyxy[:, 2]) / 2, (xyxy[:, 1] + xyxy[:, 3]) / 2,
                                        xyxy[:, 2] - xyxy[:, 0], xyxy[:, 3] - xyxy[:, 1]], dim=1)
            if self.duplicates:  # object i scored about 1 - i/10, its copy just below it and above object i + 1
                assert 2 * n <= self.num_queries and n < 10
                confidence = 1 - torch.arange(n) / 10
                logits[b, :n, 6] = 0.0
                logits[b, torch.arange(n), target["labels"]] = torch.log(confidence / (1 - confidence).clamp_min(1e-3))
                logits[b, n:2 * n] = logits[b, :n]
                logits[b, n + torch.arange(n), target["labels"]] -= 0.2
                boxes[b, n:2 * n] = boxes[b, :n]
        return {"pred_logits": logits, "pred_boxes": boxes, "aux_outputs": []}


def test_detection_evaluation_scores_a_perfect_detector_one():
    val = ShapesDataset(12, 9, DETECT_64)
    task = DetectionTask(tiny_detr().config)
    metrics, per_class = task.evaluate(OracleDETR(val), val, torch.device("cpu"), batch_size=5)
    assert metrics["AP"] == pytest.approx(1.0) and metrics["AR100"] == pytest.approx(1.0)
    assert set(per_class) <= set(ID2LABEL.values())
    shifted, _ = task.evaluate(OracleDETR(val, shift=0.05), val, torch.device("cpu"), batch_size=5)
    assert shifted["AP"] < 0.9 and shifted["AP50"] > shifted["AP75"]


def test_class_wise_nms_before_evaluation_removes_duplicates_that_cost_ap():
    val = ShapesDataset(12, 9, DETECT_64)
    assert max(len(val[i][1]["labels"]) for i in range(len(val))) > 1
    config = tiny_detr().config
    plain, _ = DetectionTask(config).evaluate(OracleDETR(val, num_queries=16, duplicates=True), val,
                                               torch.device("cpu"), batch_size=5)
    nms, _ = DetectionTask(config, nms_iou=0.5).evaluate(OracleDETR(val, num_queries=16, duplicates=True), val,
                                                          torch.device("cpu"), batch_size=5)
    assert plain["AP"] < 0.95, "a duplicate ranked above another object's detection is a false positive"
    assert nms["AP"] == pytest.approx(1.0)
    for bad in ({"assignment": "many"}, {"nms_iou": 0.0}):
        with pytest.raises(ValueError, match=next(iter(bad))):
            DetectionTask(config, **bad)


def test_detr_trains_with_the_one_to_many_assignment():
    model = tiny_detr()
    task = DetectionTask(model.config, assignment="one-to-many", assignment_iou=0.3)
    trainer = Trainer(model, task, ShapesDataset(16, 3, DETECT_32),
                      config=TrainConfig(total_steps=3, batch_size=4, lr=2e-4, backbone_lr=None))
    steps = steps_of(trainer.run())
    assert len(steps) == 3 and all(math.isfinite(s.loss) for s in steps)
    batch = task.collate([ShapesDataset(16, 3, DETECT_32)[i] for i in range(4)])
    with torch.no_grad():
        outputs = model(**batch.inputs)
    many = task.matcher(outputs, batch.targets)
    one = task.matcher.hungarian(outputs, batch.targets)
    assert sum(len(q) for q, _ in many) >= sum(len(q) for q, _ in one)


def test_classification_evaluation_counts_hits():
    val = ShapesDataset(20, 9, CLASSIFY_32)
    labels = torch.tensor([val[i][1]["label"] for i in range(20)])

    class Oracle(nn.Module):
        def __init__(self, offset):
            super().__init__()
            self.offset, self.seen = offset, 0

        def forward(self, pixel_values):
            y = (labels[self.seen:self.seen + len(pixel_values)] + self.offset) % 6
            self.seen += len(pixel_values)
            return {"logits": nn.functional.one_hot(y, 6).float() * 5}

    task = ClassificationTask(tiny_vit().config)
    metrics, _ = task.evaluate(Oracle(0), val, torch.device("cpu"), batch_size=8)
    assert metrics["accuracy"] == 1.0
    metrics, _ = task.evaluate(Oracle(1), val, torch.device("cpu"), batch_size=8)
    assert metrics["accuracy"] == 0.0


def test_events_carry_evaluations_and_snapshots_as_plain_data():
    model = tiny_detr()
    val = ShapesDataset(4, 5, DETECT_64)
    trainer = Trainer(model, DetectionTask(model.config), ShapesDataset(8, 3, DETECT_64), val,
                      TrainConfig(total_steps=2, batch_size=4, backbone_lr=None, eval_every=2,
                                  snapshot_every=1, num_snapshot_images=2))
    events = list(trainer.run())
    snapshots = [e for e in events if isinstance(e, SnapshotEvent)]
    assert [s.step for s in snapshots] == [0, 1, 2]
    pred = snapshots[-1].predictions[0]
    assert pred.image.shape == (64, 64, 3) and pred.boxes_xyxy.shape == (8, 4) and len(pred.scores) == 8
    assert sorted(pred.matched_gt[pred.matched_gt >= 0].tolist()) == list(range(len(pred.gt_labels)))
    evals = [e for e in events if isinstance(e, EvalEvent)]
    assert len(evals) == 1 and evals[0].step == 2 and {"AP", "AP50", "loss"} <= set(evals[0].metrics)
    for event in events:  # every event is one JSON line
        json.loads(json.dumps(event.to_dict()))
    assert '"image":' not in json.dumps(snapshots[0].to_dict())


# --- the command lines ---------------------------------------------------------------------------------


def test_cli_help_works_for_both_trainers(capsys):
    for kind in ("detr", "vit"):
        with pytest.raises(SystemExit) as exit_info:
            cli_run(kind, ["--help"])
        assert exit_info.value.code == 0
        assert "--preset" in capsys.readouterr().out


def test_cli_trains_logs_every_step_and_resumes(tmp_path):
    out = tmp_path / "run"
    common = ["--preset", "tiny", "--out", str(out), "--num-train-images", "64", "--num-val-images", "16",
              "--batch-size", "8", "--eval-every", "0", "--no-progress"]
    assert cli_run("vit", common + ["--steps", "3"]) == 0
    assert isinstance(cvdemo.models.load(out), ViT)
    records = [json.loads(line) for line in (out / "log.jsonl").read_text().splitlines()]
    steps = [r for r in records if r["event"] == "step"]
    assert [r["step"] for r in steps] == [1, 2, 3]
    assert all({"loss", "losses", "lr", "lrs", "grad_norm", "images_per_s", "memory_mib", "eta_s"} <= set(r)
               for r in steps)
    assert json.loads((out / "metrics.json").read_text())["step"] == 3

    assert cli_run("vit", common + ["--steps", "5", "--resume"]) == 0
    records = [json.loads(line) for line in (out / "log.jsonl").read_text().splitlines()]
    assert [r["step"] for r in records if r["event"] == "step"] == [1, 2, 3, 4, 5]
    assert [r["start_step"] for r in records if r["event"] == "start"] == [0, 3]



def test_cli_eos_coef_sets_detrs_no_object_weight(tmp_path, monkeypatch):
    import cvdemo.training.cli as cli

    made = []
    real = cli.DetectionTask

    def spy(config, **kwargs):
        made.append(kwargs)
        return real(config, **kwargs)

    monkeypatch.setattr(cli, "DetectionTask", spy)
    out = tmp_path / "run"
    assert cli_run("detr", ["--preset", "tiny", "--out", str(out), "--num-train-images", "8", "--num-val-images",
                            "4", "--batch-size", "2", "--steps", "1", "--eval-every", "0", "--no-progress",
                            "--backbone-init", "none", "--eos-coef", "0.3"]) == 0
    assert made == [{"eos_coef": 0.3}]
    assert json.loads((out / "run.json").read_text())["eos_coef"] == 0.3

def test_model_card_states_the_runs_data_seed_and_refuses_it_for_evaluation(tmp_path, monkeypatch):
    from training.model_card import main as card_main

    monkeypatch.delenv("CVDEMO_PEAK_TFLOPS", raising=False)

    out = tmp_path / "run"
    assert cli_run("vit", ["--preset", "tiny", "--out", str(out), "--num-train-images", "64", "--num-val-images",
                           "16", "--batch-size", "8", "--steps", "2", "--eval-every", "0", "--no-progress",
                           "--data-seed", "5"]) == 0
    record = json.loads((out / "run.json").read_text())
    assert record["preset"] == "tiny" and record["data"] == {
        "source": "shapes", "data_seed": 5, "val_seed": 6, "num_train_images": 64, "num_val_images": 16}
    with pytest.raises(SystemExit, match="--eval-seed 6 was used by the run"):
        card_main([str(out), "--out", str(tmp_path / "card"), "--preset", "tiny", "--command", "x",
                   "--eval-seed", "6", "--eval-images", "4"])
    assert card_main([str(out), "--out", str(tmp_path / "card"), "--preset", "tiny", "--command", "python -m x",
                      "--eval-images", "4"]) == 0
    card = (tmp_path / "card" / "README.md").read_text()
    assert "Training images: seed 5 " in card and "validation during training: seed 6" in card
    assert "GFLOP per image (forward + backward, counted)" in card and "no MFU" in card
    assert "peak resident memory of the process" in card
    assert json.loads((tmp_path / "card" / "metrics.json").read_text())["eval_images"] == 4


def test_cli_reports_bad_input_with_status_2(tmp_path, capsys):
    with pytest.raises(SystemExit) as exit_info:
        cli_run("detr", ["--out", str(tmp_path / "x"), "--resume"])
    assert exit_info.value.code == 2 and "run once without --resume" in capsys.readouterr().err
    with pytest.raises(SystemExit) as exit_info:
        cli_run("detr", ["--train", str(tmp_path / "missing")])
    assert exit_info.value.code == 2 and "missing" in capsys.readouterr().err


def test_cli_detr_on_a_coco_folder(tmp_path):
    write_shapes_dataset(tmp_path / "train", 8, seed=1, config=DETECT_64)
    write_shapes_dataset(tmp_path / "val", 2, seed=2, config=DETECT_64)
    out = tmp_path / "run"
    status = cli_run("detr", ["--train", str(tmp_path / "train"), "--val", str(tmp_path / "val"),
                              "--out", str(out), "--steps", "2", "--batch-size", "4", "--no-progress",
                              "--threads", "1"])
    assert status == 0
    metrics = json.loads((out / "metrics.json").read_text())
    assert {"AP", "AP50", "per_class"} <= set(metrics) and 0 <= metrics["AP"] <= 1
    assert isinstance(cvdemo.models.load(out), DETR)


def test_torchrun_two_processes_match_one_process_with_the_double_batch(tmp_path):
    """DistributedDataParallel over gloo: 2 processes x batch 4 = 1 process x batch 8, step for step."""
    common = ["--preset", "tiny", "--num-train-images", "64", "--num-val-images", "8", "--steps", "3",
              "--eval-every", "0", "--no-progress", "--threads", "1"]
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONPATH": str(REPO)}
    result = subprocess.run(
        [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", "2",
         "-m", "training.train_vit", *common, "--batch-size", "4", "--out", str(tmp_path / "ddp")],
        cwd=REPO, env=env, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr[-3000:]
    assert cli_run("vit", common + ["--batch-size", "8", "--out", str(tmp_path / "one")]) == 0

    def step_losses(folder):
        lines = (folder / "log.jsonl").read_text().splitlines()
        return [json.loads(line)["loss"] for line in lines if json.loads(line)["event"] == "step"]

    ddp, one = step_losses(tmp_path / "ddp"), step_losses(tmp_path / "one")
    assert len(ddp) == 3 and np.allclose(ddp, one, rtol=1e-5, atol=1e-6), (ddp, one)
    a, b = cvdemo.models.load(tmp_path / "ddp"), cvdemo.models.load(tmp_path / "one")
    for (name, p), q in zip(a.state_dict().items(), b.state_dict().values()):
        torch.testing.assert_close(p, q, rtol=1e-4, atol=1e-5, msg=name)


def test_gpu_run_script_trains_and_writes_both_cards_on_a_cpu(tmp_path):
    """training/gpu_run.sh (the prepared one-call GPU retraining) runs end to end with tiny numbers."""
    env = {**os.environ, "DEVICE": "cpu", "VIT_STEPS": "2", "VIT_BATCH": "4", "DETR_STEPS": "1",
           "DETR_BATCH": "2", "EVAL_IMAGES": "8", "WORKERS": "0", "MINUTES": "4", "PYTHON": sys.executable}
    env.pop("CVDEMO_PEAK_TFLOPS", None)
    done = subprocess.run(["bash", "training/gpu_run.sh", str(tmp_path)], cwd=REPO, env=env,
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    for name in ("vit-shapes", "detr-shapes"):
        folder = tmp_path / "checkpoints" / name
        assert isinstance(cvdemo.models.load(folder), ViT if name == "vit-shapes" else DETR)
        card = (folder / "README.md").read_text()
        assert "--out runs/" in card and str(tmp_path) not in card  # the card's command is the portable one
        assert "GFLOP per image" in card
    assert "Top-1 accuracy" in done.stdout and "COCO evaluation" in done.stdout


# --- the tiny DETR's backbone starts from the shipped detr-shapes -------------------------------------------

def test_tiny_detr_starts_its_backbone_from_the_shipped_checkpoint_and_nothing_else():
    from cvdemo.training.presets import DETR_TRAINING_PRESETS, build_detr

    shipped = cvdemo.models.load(REPO / "checkpoints" / "detr-shapes-2dec")
    torch.manual_seed(1)  # not the shipped run's seed (its first decoder layer's v_proj never changes: tgt = 0)
    model = build_detr(DETR_TRAINING_PRESETS["tiny"])
    ours, theirs = model.state_dict(), shipped.state_dict()
    backbone = [k for k in ours if k.startswith("backbone.")]
    assert backbone and all(torch.equal(ours[k], theirs[k]) for k in backbone)
    rest = [k for k in ours if not k.startswith("backbone.") and ours[k].is_floating_point()]
    assert not any(torch.equal(ours[k], theirs[k]) for k in rest if ours[k].abs().sum() > 0)  # fresh
    torch.manual_seed(0)
    scratch = build_detr(DETR_TRAINING_PRESETS["tiny"], backbone_init=None)
    assert not torch.equal(scratch.state_dict()[backbone[0]], theirs[backbone[0]])
    assert DETR_TRAINING_PRESETS["small"].backbone_init is None  # the shipped checkpoint itself: from scratch


def test_backbone_init_refuses_a_vit_and_another_backbone(tmp_path):
    from cvdemo.training.presets import init_detr_backbone

    with pytest.raises(CheckpointError, match="ViT, not a DETR"):
        init_detr_backbone(tiny_detr(), REPO / "checkpoints" / "vit-shapes")
    other = DETR(DETRConfig(**{**DETR_PRESETS["detr-tiny"], "backbone": "resnet34"}, num_classes=6,
                            id2label=ID2LABEL))
    cvdemo.models.save(other, tmp_path / "r34")
    with pytest.raises(CheckpointError, match=r"\(resnet34, 2 stages\) does not fit this model's \(resnet18"):
        init_detr_backbone(tiny_detr(), tmp_path / "r34")


def test_cli_backbone_init_default_and_none_are_recorded(tmp_path):
    common = ["--preset", "tiny", "--num-train-images", "8", "--num-val-images", "2", "--batch-size", "2",
              "--steps", "1", "--eval-every", "0", "--no-progress"]
    assert cli_run("detr", common + ["--out", str(tmp_path / "a")]) == 0
    assert json.loads((tmp_path / "a" / "run.json").read_text())["backbone_init"] == "checkpoints/detr-shapes-2dec"
    assert cli_run("detr", common + ["--out", str(tmp_path / "b"), "--backbone-init", "none"]) == 0
    assert json.loads((tmp_path / "b" / "run.json").read_text())["backbone_init"] is None
