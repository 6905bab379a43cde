"""Issue 14, item 3: the shared training engine trains the detector families beside DETR (YOLO so far) through
`FamilyDetectionTask`: their own loss terms become the step events' terms, evaluation is COCO AP of their
eval-mode detections, snapshots show their detections; the CLI and the Train tab's setup work for them."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

import cvdemo.models
from cvdemo.models.yolo import YOLO
from cvdemo.training import EvalEvent, SnapshotEvent, StepEvent, Trainer
from cvdemo.training.cli import run
from cvdemo.training.family_detection import FamilyDetectionTask
from cvdemo.training.kinds import KINDS
from cvdemo.training.presets import YOLO_TRAINING_PRESETS, build_yolo
from cvdemo.training.requests import TrainRequest, build_setup
from cvdemo.ui.training_view import RunView

pytestmark = pytest.mark.usefixtures("one_torch_thread")


@pytest.fixture(autouse=True)
def small_yolo(monkeypatch):
    tiny = YOLO_TRAINING_PRESETS["tiny"]
    monkeypatch.setitem(YOLO_TRAINING_PRESETS, "test", dataclasses.replace(
        tiny, name="test", model={**tiny.model, "input_size": 64, "grid_size": 4},
        shapes={**tiny.shapes, "image_size": 64}, num_val_images=4))


def test_a_yolo_trains_through_the_engine_with_its_own_loss_terms():
    setup = build_setup(TrainRequest(kind="yolo", preset="test", length=3, batch_size=4, snapshot_every=3,
                                     num_val_images=4))
    assert isinstance(setup.task, FamilyDetectionTask) and isinstance(setup.model, YOLO)
    setup.config.eval_every = 3
    events = list(Trainer(setup.model, setup.task, setup.train_data, setup.val_data, setup.config).run())
    steps = [e for e in events if isinstance(e, StepEvent)]
    assert [e.step for e in steps] == [1, 2, 3]
    assert set(steps[-1].losses) == {"loss_coord", "loss_obj", "loss_noobj", "loss_class"}
    assert steps[-1].loss == pytest.approx(sum(steps[-1].losses.values()), rel=1e-5)
    assert set(steps[-1].lrs) == {"head", "backbone"}
    assert any(isinstance(e, EvalEvent) and "AP" in e.metrics and "APs" in e.metrics for e in events)
    snapshot = [e for e in events if isinstance(e, SnapshotEvent)][-1]
    assert all((p.matched_gt == -1).all() and np.all(np.diff(p.scores) <= 0) for p in snapshot.predictions)
    view = RunView()
    view.consume(events)
    assert view.snapshot_image() is not None and "scoring at least 0.3" in view.snapshot_caption()
    figure = view.figure_dict()
    assert {"loss_coord", "loss_obj", "loss_noobj", "loss_class"} <= {t["name"] for t in figure["data"]}
    assert figure["layout"]["annotations"][1]["text"] == "Loss terms (the model's own)"


def test_the_yolo_backbone_starts_from_detr_shapes_as_the_tiny_detrs():
    import torch

    donor = cvdemo.models.load("checkpoints/detr-shapes")
    model = build_yolo(YOLO_TRAINING_PRESETS["tiny"])
    for key, value in donor.backbone.state_dict().items():
        assert torch.equal(model.backbone.state_dict()[key], value)
    fresh = build_yolo(YOLO_TRAINING_PRESETS["tiny"], backbone_init=None)
    key = "body.conv1.weight"
    assert not torch.equal(fresh.backbone.state_dict()[key], donor.backbone.state_dict()[key])


def test_the_yolo_cli_trains_and_writes_a_loadable_model(tmp_path):
    out = tmp_path / "yolo"
    status = run("yolo", ["--preset", "test", "--steps", "2", "--batch-size", "2", "--num-train-images", "8",
                          "--num-val-images", "2", "--eval-every", "0", "--backbone-init", "none", "--no-progress",
                          "--out", str(out)])
    assert status == 0
    model = cvdemo.models.load(out)
    assert isinstance(model, YOLO) and model.config.num_classes == 6 and (out / "metrics.json").is_file()
    assert "yolo" in KINDS and KINDS["yolo"].prog == "python -m training.train_yolo"
