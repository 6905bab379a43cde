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
from cvdemo.training.requests import TrainRequest, build_setup
from cvdemo.ui.training_view import RunView

pytestmark = pytest.mark.usefixtures("one_torch_thread")


SMALLER = {"yolo": {"input_size": 64, "grid_size": 4}, "fasterrcnn": {"min_size": 64, "max_size": 96},
           "ssd": {"size": (64, 64)}}
TERMS = {"yolo": {"loss_coord", "loss_obj", "loss_noobj", "loss_class"},
         "fasterrcnn": {"loss_classifier", "loss_box_reg", "loss_objectness", "loss_rpn_box_reg"},
         "ssd": {"bbox_regression", "classification"}}


@pytest.fixture(autouse=True)
def small_presets(monkeypatch):
    for kind, change in SMALLER.items():
        tiny = KINDS[kind].presets["tiny"]
        monkeypatch.setitem(KINDS[kind].presets, "test", dataclasses.replace(
            tiny, name="test", model={**tiny.model, **change}, shapes={**tiny.shapes, "image_size": 64},
            num_val_images=4))


@pytest.mark.parametrize("kind", ["yolo", "fasterrcnn", "ssd"])
def test_a_family_trains_through_the_engine_with_its_own_loss_terms(kind):
    setup = build_setup(TrainRequest(kind=kind, preset="test", length=3, batch_size=4, snapshot_every=3,
                                     num_val_images=4))
    assert isinstance(setup.task, FamilyDetectionTask)
    setup.config.eval_every = 3
    events = list(Trainer(setup.model, setup.task, setup.train_data, setup.val_data, setup.config).run())
    steps = [e for e in events if isinstance(e, StepEvent)]
    assert [e.step for e in steps] == [1, 2, 3]
    assert set(steps[-1].losses) == TERMS[kind]
    assert steps[-1].loss == pytest.approx(sum(steps[-1].losses.values()), rel=1e-5)
    assert set(steps[-1].lrs) == {"head", "backbone"}
    assert any(isinstance(e, EvalEvent) and "AP" in e.metrics and "APs" in e.metrics for e in events)
    snapshot = [e for e in events if isinstance(e, SnapshotEvent)][-1]
    assert all((p.matched_gt == -1).all() and np.all(np.diff(p.scores) <= 0) for p in snapshot.predictions)
    view = RunView()
    view.consume(events)
    assert view.snapshot_image() is not None and "scoring at least 0.3" in view.snapshot_caption()
    figure = view.figure_dict()
    assert TERMS[kind] <= {t["name"] for t in figure["data"]}
    assert figure["layout"]["annotations"][1]["text"] == "Loss terms (the model's own)"


@pytest.mark.parametrize("kind", ["yolo", "fasterrcnn", "ssd"])
def test_every_familys_backbone_starts_from_detr_shapes_as_the_tiny_detrs(kind):
    import torch

    donor = cvdemo.models.load("checkpoints/detr-shapes-2dec")
    model = KINDS[kind].build_model(KINDS[kind].presets["tiny"], None)
    for key, value in donor.backbone.state_dict().items():
        assert torch.equal(model.backbone.state_dict()[key], value), key
    fresh = KINDS[kind].build_model(KINDS[kind].presets["tiny"], None, backbone_init=None)
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
    assert KINDS["yolo"].prog == "python -m training.train_yolo"


def test_predict_writes_coco_results_for_a_family(tmp_path):
    from cvdemo.datasets.coco import load_coco_ground_truth
    from cvdemo.datasets.shapes import ShapesConfig, write_shapes_dataset
    from cvdemo.predict import predict_coco

    folder = tmp_path / "shapes"
    write_shapes_dataset(folder, 2, seed=5, config=ShapesConfig(image_size=64))
    model = KINDS["yolo"].build_model(KINDS["yolo"].presets["test"], None, backbone_init=None).eval()
    records = predict_coco(model, folder / "images", load_coco_ground_truth(folder / "annotations.json"))
    assert records and {r["image_id"] for r in records} <= {1, 2}
    assert all(r["category_id"] in range(1, 7) and len(r["bbox"]) == 4 for r in records)
