"""What a training run reports: typed events, yielded by `Trainer.run()`.

Every event is a frozen dataclass with a ``kind`` and ``to_dict()`` (JSON-able, one line of a
JSON-lines log). Consumers (the CLI's progress bar and log, the app's Train tab) read the fields;
they never reach into the trainer.

Order within one run::

    RunStarted, then per optimizer step: StepEvent, and when due EvalEvent, SnapshotEvent,
    CheckpointEvent; EpochEvent at each epoch's end; RunFinished last (also after a stop request).

Units: losses are unweighted per term (DETR: ``loss_ce``, ``loss_bbox``, ``loss_giou``, the logged-only
``class_error`` and ``cardinality_error``, and the same with ``_0``, ``_1``... for the auxiliary decoder
layers; classification: ``loss_ce``, ``accuracy``), ``loss`` is the weighted total that was back-propagated;
times in seconds; memory in MiB (peak CUDA memory on a GPU, peak resident memory of the process on the CPU);
FLOPs counted on the run's first update (`cvdemo.training.flops`).
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any, ClassVar

import numpy as np

from cvdemo.boxes import box_iou_xyxy

__all__ = [
    "CheckpointEvent", "ClassPrediction", "EpochEvent", "EvalEvent", "ImagePrediction", "RunFinished",
    "RunStarted", "SnapshotEvent", "StepEvent", "TrainingEvent",
]


def _plain(value: Any) -> Any:
    """numpy arrays and scalars -> lists and Python numbers, recursively."""
    if isinstance(value, np.ndarray):
        return value.tolist()
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    return value


@dataclass(frozen=True)
class TrainingEvent:
    """Base class: ``kind`` names the event in logs (``{"event": kind, ...}``)."""

    kind: ClassVar[str] = "event"

    def to_dict(self) -> dict[str, Any]:
        """JSON-able dict with ``"event": kind`` first (numpy arrays become lists)."""
        out: dict[str, Any] = {"event": self.kind}
        for f in dataclasses.fields(self):
            if f.metadata.get("log", True):
                out[f.name] = _plain(getattr(self, f.name))
        return out


@dataclass(frozen=True)
class RunStarted(TrainingEvent):
    """The run is set up and about to take its first step (``start_step`` > 0 after a resume)."""

    kind: ClassVar[str] = "start"
    task: str  # "detection" | "classification"
    start_step: int
    total_steps: int
    steps_per_epoch: int
    batch_size: int  # global: per-process batch x processes
    world_size: int
    device: str
    num_parameters: int
    num_trainable_parameters: int
    config: dict[str, Any]  # the TrainConfig, as a dict


@dataclass(frozen=True)
class StepEvent(TrainingEvent):
    """One optimizer step done. ``step`` counts steps done, 1-based (step 1 is the first update)."""

    kind: ClassVar[str] = "step"
    step: int
    total_steps: int
    epoch: int  # 0-based epoch the step's batch came from
    loss: float  # weighted total that was back-propagated (mean over processes)
    losses: dict[str, float]  # every unweighted term, incl. aux layers (mean over processes)
    lr: float  # learning rate of the first parameter group (the transformer/head)
    lrs: dict[str, float]  # learning rate per named parameter group ("backbone", "head", ...)
    grad_norm: float  # total gradient norm before clipping
    images_per_s: float  # global throughput, smoothed over recent steps
    step_time_s: float  # wall time of this step (data, forward, backward, update)
    memory_mib: float
    elapsed_s: float  # since the run (or resume) started
    eta_s: float  # for the remaining steps at the smoothed step time
    tflops_per_s: float | None = None  # per device: counted FLOPs of a step / smoothed step time, in 1e12
    mfu: float | None = None  # tflops_per_s / the device's peak (`cvdemo.training.flops`); None: peak unknown


@dataclass(frozen=True)
class EvalEvent(TrainingEvent):
    """Evaluation on the validation set. Detection: COCO ``AP``, ``AP50``, ... (the 12 stats of
    `cvdemo.metrics.evaluate_coco`, all queries kept as in DETR's evaluation) and ``loss``; classification:
    ``accuracy`` (top-1, in [0, 1]) and ``loss``. ``per_class`` maps class name to AP or accuracy."""

    kind: ClassVar[str] = "eval"
    step: int
    epoch: int
    metrics: dict[str, float]
    per_class: dict[str, float]
    num_images: int
    duration_s: float


@dataclass(frozen=True)
class ImagePrediction:
    """A detector's output on one fixed validation image, as plain data (numpy). Q queries, n objects.

    image: ``uint8[H, W, 3]`` RGB (not written to logs). Boxes are pixel ``xyxy`` of this image.
    scores/labels/boxes_xyxy/query_index: every query (those NMS keeps, when the task applies NMS), best first
    (as `post_process_object_detection`).
    matched_gt: ``int64[Q]`` per query *index*: the ground-truth object the task's matcher assigned to it
    at this step (-1: none), so a viewer sees the matching settle.
    """

    image_id: int
    image: np.ndarray = field(repr=False, metadata={"log": False})
    gt_boxes_xyxy: np.ndarray = field(default_factory=lambda: np.zeros((0, 4), np.float32))
    gt_labels: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int64))
    boxes_xyxy: np.ndarray = field(default_factory=lambda: np.zeros((0, 4), np.float32))
    labels: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int64))
    scores: np.ndarray = field(default_factory=lambda: np.zeros(0, np.float32))
    query_index: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int64))
    matched_gt: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int64))

    def to_dict(self) -> dict[str, Any]:
        return {f.name: _plain(getattr(self, f.name)) for f in dataclasses.fields(self) if f.name != "image"}

    def top_box_right(self, iou_threshold: float = 0.5) -> bool:
        """True when the best-scoring detection names the class of a ground-truth object it overlaps with
        IoU >= ``iou_threshold`` (what a viewer of the image checks first)."""
        if len(self.scores) == 0 or len(self.gt_labels) == 0:
            return False
        best = int(np.argmax(self.scores))
        same = np.asarray(self.gt_labels) == int(self.labels[best])
        if not same.any():
            return False
        box = np.asarray(self.boxes_xyxy[best], np.float64)[None]
        ious = box_iou_xyxy(box, np.asarray(self.gt_boxes_xyxy, np.float64)[same])
        return bool(ious.max() >= iou_threshold)


@dataclass(frozen=True)
class ClassPrediction:
    """A classifier's output on one fixed validation image: ``probs float32[C]`` and the true ``label``."""

    image_id: int
    image: np.ndarray = field(repr=False, metadata={"log": False})
    label: int = -1
    probs: np.ndarray = field(default_factory=lambda: np.zeros(0, np.float32))

    def to_dict(self) -> dict[str, Any]:
        return {"image_id": self.image_id, "label": self.label, "probs": _plain(self.probs)}

    def top_class_right(self) -> bool:
        """True when the most probable class is the true one."""
        return len(self.probs) > 0 and int(np.argmax(self.probs)) == self.label


@dataclass(frozen=True)
class SnapshotEvent(TrainingEvent):
    """Predictions on the same few validation images, for watching the model learn."""

    kind: ClassVar[str] = "snapshot"
    step: int
    epoch: int
    id2label: dict[int, str]
    predictions: tuple[ImagePrediction | ClassPrediction, ...]

    def to_dict(self) -> dict[str, Any]:
        return {"event": self.kind, "step": self.step, "epoch": self.epoch,
                "id2label": {str(k): v for k, v in self.id2label.items()},
                "predictions": [p.to_dict() for p in self.predictions]}


@dataclass(frozen=True)
class CheckpointEvent(TrainingEvent):
    """A resumable checkpoint was written to ``path`` (model + optimizer + trainer state)."""

    kind: ClassVar[str] = "checkpoint"
    step: int
    path: str


@dataclass(frozen=True)
class EpochEvent(TrainingEvent):
    """An epoch of the training set was used up (``epoch`` is the one that ended, 0-based)."""

    kind: ClassVar[str] = "epoch"
    epoch: int
    step: int
    mean_loss: float  # mean weighted total over this epoch's steps in this run


@dataclass(frozen=True)
class RunFinished(TrainingEvent):
    """The run ended: ``reason`` is "completed" (all steps done) or "stopped" (a stop request)."""

    kind: ClassVar[str] = "finished"
    step: int
    reason: str
    elapsed_s: float
    final_metrics: dict[str, float]  # of the last evaluation, if any
