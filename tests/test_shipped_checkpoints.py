"""The shipped checkpoints (checkpoints/detr-shapes, vit-shapes and the detector families') load, fit the 10 MB
limit, and reach the metrics their model cards state on freshly generated shapes of a seed never used in training
(the cards evaluate on more images of the same seed, 777; these tests take the first of them).

Each floor is checked against a freshly initialised model of the same configuration too, so it cannot be
passed by chance.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch

import cvdemo.models
from cvdemo.datasets.shapes import SHARED_SHAPES, ShapesDataset
from cvdemo.models.detr import DETR
from cvdemo.models.vit import ViT
from cvdemo.training import ClassificationTask, DetectionTask
from cvdemo.training.family_detection import FamilyDetectionTask
from cvdemo.training.presets import DETR_TRAINING_PRESETS, VIT_TRAINING_PRESETS

SHIPPED = Path(__file__).resolve().parents[1] / "checkpoints"
EVAL_SEED = 777  # the cards' evaluation seed; training used 0 and validation 1
VIT_MIN_ACCURACY = 0.98  # the project's goal (the card: 0.999 on 2000 images); chance is 1/6
DETR_MIN_AP = 0.70  # the project's goal (the card: 0.727 on 500 images); an untrained DETR scores ~0.00
FAMILY_MIN_AP = 0.60  # issue 14's floor for the other families' shipped checkpoints
FAMILIES = ("fasterrcnn-shapes", "ssd-shapes", "yolo-shapes")
FAMILY_SEED = 778  # fresh for the families too: their training data seeds 10, 20, 40 (validation + 1), cards 777


pytestmark = pytest.mark.usefixtures("one_torch_thread")


def card_metrics(name: str) -> dict:
    return json.loads((SHIPPED / name / "metrics.json").read_text())


@pytest.mark.parametrize("name", ["detr-shapes", "detr-shapes-2dec", "vit-shapes", *FAMILIES, "rcnn-shapes"])
def test_checkpoint_folder_is_complete_and_small(name):
    folder = SHIPPED / name
    assert {"config.json", "model.safetensors", "README.md"} <= {p.name for p in folder.iterdir()}
    assert (folder / "model.safetensors").stat().st_size <= 10 * 2**20
    card = (folder / "README.md").read_text()
    made_by = "python -m training.make_rcnn" if name == "rcnn-shapes" else "python -m training.train_"
    assert made_by in card and "seed" in card and "Limitations" in card


def test_shipped_vit_classifies_fresh_shapes():
    model = cvdemo.models.load(SHIPPED / "vit-shapes")
    assert isinstance(model, ViT)
    val = ShapesDataset(1000, EVAL_SEED, VIT_TRAINING_PRESETS["small"].shapes_config())
    task = ClassificationTask(model.config)
    metrics, _ = task.evaluate(model, val, torch.device("cpu"), batch_size=250)
    assert metrics["accuracy"] >= VIT_MIN_ACCURACY, metrics
    assert metrics["accuracy"] == pytest.approx(card_metrics("vit-shapes")["accuracy"], abs=0.05)
    torch.manual_seed(0)
    untrained, _ = task.evaluate(ViT(model.config), val, torch.device("cpu"), batch_size=250)
    assert untrained["accuracy"] < VIT_MIN_ACCURACY, untrained


def test_shipped_detr_detects_fresh_shapes():
    model = cvdemo.models.load(SHIPPED / "detr-shapes")
    assert isinstance(model, DETR)
    val = ShapesDataset(100, EVAL_SEED, DETR_TRAINING_PRESETS["small"].shapes_config())
    task = DetectionTask(model.config)
    metrics, _ = task.evaluate(model, val, torch.device("cpu"), batch_size=50)
    assert metrics["AP"] >= DETR_MIN_AP, metrics
    assert metrics["AP"] == pytest.approx(card_metrics("detr-shapes")["AP"], abs=0.05)
    torch.manual_seed(0)
    untrained, _ = task.evaluate(DETR(model.config), val, torch.device("cpu"), batch_size=50)
    assert untrained["AP"] < DETR_MIN_AP, untrained


@pytest.mark.parametrize("name", FAMILIES)
def test_shipped_families_detect_fresh_shapes_as_their_cards_say(name):
    model = cvdemo.models.load(SHIPPED / name)
    val = ShapesDataset(200, FAMILY_SEED, SHARED_SHAPES)
    task = FamilyDetectionTask(model.config)
    metrics, _ = task.evaluate(model, val, torch.device("cpu"), batch_size=25)
    card = card_metrics(name)
    assert metrics["AP"] >= FAMILY_MIN_AP and metrics["AP"] >= card["AP"] - 0.03, (metrics, card["AP"])
    torch.manual_seed(0)
    untrained, _ = task.evaluate(type(model)(model.config).eval(), val, torch.device("cpu"), batch_size=25)
    assert untrained["AP"] < FAMILY_MIN_AP, untrained


MAX_DUPLICATE_RATE = 0.10  # issue 14: DETR's one-to-one matching should make NMS unnecessary


def duplicate_rate(name: str, images: int = 200) -> float:
    from cvdemo.metrics.duplicates import count_duplicates

    model = cvdemo.models.load(SHIPPED / name)
    val = ShapesDataset(images, FAMILY_SEED, SHARED_SHAPES)  # seed 778: no DETR run used it either (0-7, 777)
    samples = [val[i] for i in range(len(val))]
    predictions = DetectionTask(model.config).snapshot(model, samples, torch.device("cpu"))
    return count_duplicates(predictions, score_threshold=0.5, iou_threshold=0.5).duplicate_rate


def test_shipped_detr_makes_few_duplicates_unlike_its_two_layer_ancestor():
    rate = duplicate_rate("detr-shapes")
    assert rate <= MAX_DUPLICATE_RATE, rate
    assert duplicate_rate("detr-shapes-2dec") > 2 * MAX_DUPLICATE_RATE  # the test can fail: 2 layers do not suppress
