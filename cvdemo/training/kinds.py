"""The kinds of model this project trains (DETR detection, ViT classification): the one table the training
command lines (`cvdemo.training.cli`) and the app's Train tab (`cvdemo.training.requests`) both read.

    kind = KINDS["detr"]
    preset = kind.presets["tiny"]
    model = kind.build_model(preset, id2label)       # a fresh model of the preset's size
    task = kind.build_task(preset, model)            # its loss, evaluation and snapshots (the preset's recipe)
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from torch import nn

from cvdemo.messages import Message
from cvdemo.training.detection import DetectionTask
from cvdemo.training.family_detection import FamilyDetectionTask
from cvdemo.training.presets import (
    DETR_TRAINING_PRESETS,
    FASTER_RCNN_TRAINING_PRESETS,
    SSD_TRAINING_PRESETS,
    VIT_TRAINING_PRESETS,
    YOLO_TRAINING_PRESETS,
    TrainingPreset,
    build_detr,
    build_faster_rcnn,
    build_ssd,
    build_vit,
    build_vit_task,
    build_yolo,
)

__all__ = ["KINDS", "TrainingKind"]


@dataclass(frozen=True)
class TrainingKind:
    """One kind of model to train.

    name: "detr" | "vit" (the CLI module ``training.train_<name>``, the value the app's API takes);
    model_task: "detect" (DETR) | "family" (another detector family) | "classify": the task of the trained model
    in the app's model registry (`data_task`: of `CocoFolderDataset`);
    title: the CLI's description; presets: name -> `TrainingPreset`;
    build_model(preset, id2label) -> a freshly initialised model of the preset's size;
    build_task(preset, model) -> the `DetectionTask` / `ClassificationTask` of the preset's recipe;
    label: the kind's name for the UI to word (a message key of the "train" catalog).
    """

    name: str
    model_task: str
    title: str
    presets: dict[str, TrainingPreset]
    build_model: Callable[[TrainingPreset, dict[int, str]], nn.Module]
    build_task: Callable[[TrainingPreset, nn.Module], Any]
    label: Message

    @property
    def data_task(self) -> str:
        """"detect" or "classify": what the data set's annotations must hold."""
        return "classify" if self.model_task == "classify" else "detect"

    @property
    def prog(self) -> str:
        """The command line that trains this kind."""
        return f"python -m training.train_{self.name}"


def _detection_task(preset: TrainingPreset, model: nn.Module) -> DetectionTask:
    return DetectionTask(model.config)


def _family_task(preset: TrainingPreset, model: nn.Module) -> FamilyDetectionTask:
    return FamilyDetectionTask(model.config)


KINDS: dict[str, TrainingKind] = {
    "detr": TrainingKind("detr", "detect", "Train a DETR detector", DETR_TRAINING_PRESETS, build_detr,
                         _detection_task, Message("train.kind_detr")),
    "vit": TrainingKind("vit", "classify", "Train a ViT classifier", VIT_TRAINING_PRESETS, build_vit,
                        build_vit_task, Message("train.kind_vit")),
    "yolo": TrainingKind("yolo", "family", "Train a YOLO (v1) grid detector", YOLO_TRAINING_PRESETS, build_yolo,
                         _family_task, Message("train.kind_yolo")),
    "fasterrcnn": TrainingKind("fasterrcnn", "family", "Train a Faster R-CNN detector (torchvision's)",
                               FASTER_RCNN_TRAINING_PRESETS, build_faster_rcnn, _family_task,
                               Message("train.kind_fasterrcnn")),
    "ssd": TrainingKind("ssd", "family", "Train an SSD detector (torchvision's)", SSD_TRAINING_PRESETS, build_ssd,
                        _family_task, Message("train.kind_ssd")),
}
