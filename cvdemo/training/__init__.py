"""Training DETR and ViT: an engine that yields events, used by the CLIs (`training/`) and the app.

- `engine`: `TrainConfig`, `Trainer` (``run()`` yields the events of `events`);
- `detection` / `classification`: the task halves (`DetectionTask`, `ClassificationTask`);
- `data`: COCO folders as data sets, seeded batch order, flips (images decoded by `cvdemo.images`);
- `schedule`, `checkpointing`, `divergence`, `distributed`: the loop's parts;
- `presets`: the ``tiny`` and ``small`` recipes for the synthetic shapes; `kinds`: the table of what is trained
  (DETR, ViT) that the CLIs and the app share;
- `progress`, `event_log`, `cli`: what the command lines print and write;
- live runs (the app's Train tab): `requests` (a request -> a `TrainingSetup`), `jobs` (one run per device in a
  background thread, a queue, caps), `workspace` (the runs' files, per session), `trained_models` (save, push).
"""

from cvdemo.training.checkpointing import TrainingState, load_training_checkpoint, save_training_checkpoint
from cvdemo.training.classification import ClassificationTask
from cvdemo.training.data import CocoFolderDataset, epoch_batches, ground_truth_of
from cvdemo.training.detection import DetectionTask
from cvdemo.training.divergence import NonFiniteLossError
from cvdemo.training.engine import TrainConfig, Trainer
from cvdemo.training.events import (
    CheckpointEvent,
    ClassPrediction,
    EpochEvent,
    EvalEvent,
    ImagePrediction,
    RunFinished,
    RunStarted,
    SnapshotEvent,
    StepEvent,
    TrainingEvent,
)
from cvdemo.training.schedule import lr_factor

__all__ = [
    "CheckpointEvent", "ClassPrediction", "ClassificationTask", "CocoFolderDataset", "DetectionTask",
    "EpochEvent", "EvalEvent", "ImagePrediction", "NonFiniteLossError", "RunFinished", "RunStarted",
    "SnapshotEvent", "StepEvent",
    "TrainConfig", "Trainer", "TrainingEvent", "TrainingState", "epoch_batches", "ground_truth_of",
    "load_training_checkpoint", "lr_factor", "save_training_checkpoint",
]
