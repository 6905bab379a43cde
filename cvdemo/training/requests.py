"""A request for a live training run (the app's Train tab) -> a `TrainingSetup`: model, task, data, TrainConfig.

    folder = coco_folder_from_zip(upload, work_folder / "data")      # an uploaded COCO zip, extracted safely
    setup = build_setup(TrainRequest(kind="detr", preset="tiny", length=300, dataset=folder))
    job = manager.submit(session, setup)                              # `cvdemo.training.jobs`

Data: the preset's generated shapes, or an uploaded COCO-format zip (``annotations.json`` and the images it
lists, at the zip's top level or in one folder, images beside it or in ``images/``), extracted by
`cvdemo.datasets.archive.extract_zip` under the caps of `upload_limits`. An uploaded set has no validation
split: evaluation and snapshots use its first `UPLOAD_EVAL_IMAGES` images (the description says so).
A request that cannot run raises a `UserError` (`SetupError`, `DatasetError`) with a key of the "train" catalog.
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass
from pathlib import Path

import torch

from cvdemo.datasets.archive import ArchiveLimits, extract_zip
from cvdemo.datasets.structure import DatasetError
from cvdemo.messages import Message, UserError
from cvdemo.training.data import CocoFolderDataset
from cvdemo.training.jobs import TrainingSetup
from cvdemo.training.kinds import KINDS

__all__ = ["GENERATED_VAL_IMAGES", "UPLOAD_EVAL_IMAGES", "SetupError", "TrainRequest", "build_setup",
           "coco_folder_from_zip", "upload_limits"]

UPLOAD_EVAL_IMAGES = 32  # images of an uploaded set used for evaluation and snapshots
GENERATED_VAL_IMAGES = 32  # validation images of the generated shapes (fewer than the CLI's: a live demo)


class SetupError(UserError, ValueError):
    """Settings a run cannot start with (unknown kind or preset, too few images for a batch, no step)."""


def upload_limits(environ: dict[str, str] | None = None) -> ArchiveLimits:
    """Caps on an uploaded zip: CVDEMO_MAX_UPLOAD_FILES (default 5000), CVDEMO_MAX_UPLOAD_MB (default 200)."""
    env = os.environ if environ is None else environ
    return ArchiveLimits(max_files=int(env.get("CVDEMO_MAX_UPLOAD_FILES", 5000)),
                         max_total_bytes=int(float(env.get("CVDEMO_MAX_UPLOAD_MB", 200)) * 2**20))


@dataclass
class TrainRequest:
    """What a live run is asked for. ``length`` is in ``unit`` ("steps" or "epochs"); ``dataset``: None for
    generated shapes, else a COCO folder (``annotations.json`` + images). ``snapshot_every``: 0 = none."""

    kind: str = "detr"
    preset: str = "tiny"
    length: float = 200
    unit: str = "steps"
    lr: float | None = None  # None: the preset's
    batch_size: int | None = None  # None: the preset's
    snapshot_every: int = 25
    device: str = "cpu"
    dataset: Path | None = None
    seed: int = 0
    num_train_images: int | None = None  # generated shapes only; None: the preset's
    num_val_images: int = GENERATED_VAL_IMAGES


class _FirstItems:
    """The first ``count`` items of a data set (with its categories): an uploaded set's evaluation images."""

    def __init__(self, dataset, count: int) -> None:
        self.dataset, self.count = dataset, min(count, len(dataset))
        self.categories = dataset.categories

    def __len__(self) -> int:
        return self.count

    def __getitem__(self, index: int):
        if not 0 <= index < self.count:
            raise IndexError(index)
        return self.dataset[index]


def coco_folder_from_zip(zip_path: str | Path, dest: str | Path, limits: ArchiveLimits | None = None) -> Path:
    """Extract an uploaded zip into ``dest`` (empty or absent) and return the folder holding annotations.json.
    Raises `DatasetError` (`ArchiveError` for a refused zip) saying what is wrong."""
    files = extract_zip(zip_path, dest, limits or upload_limits())
    found = sorted({p.parent for p in files if p.name == "annotations.json"}, key=lambda p: len(p.parts))
    if not found:
        raise DatasetError("the zip has no annotations.json: put the COCO annotations (annotations.json) and the "
                           "images it lists in the zip", key="train.no_annotations")
    return found[0]


def _steps(request: TrainRequest, num_images: int, batch: int) -> int:
    if batch < 1:
        raise SetupError("the batch size must be at least 1", key="train.batch_at_least_one")
    if num_images < batch:
        raise SetupError(f"the data set has {num_images} images, fewer than one batch of {batch}: choose a "
                         "smaller batch", key="train.too_few_images", images=num_images, batch=batch)
    if request.unit == "epochs":
        steps = math.ceil(float(request.length) * (num_images // batch))
    else:
        steps = int(request.length)
    if steps < 1:
        raise SetupError("train for at least one step", key="train.one_step")
    return steps


def build_setup(request: TrainRequest) -> TrainingSetup:
    """A fresh model of the preset's size and the data, ready for `JobManager.submit`. Raises `SetupError` /
    `DatasetError` saying what is wrong."""
    kind = KINDS.get(request.kind)
    if kind is None:
        raise SetupError(f"unknown task {request.kind!r}; choose one of {sorted(KINDS)}", key="train.unknown_task",
                         kind=request.kind, choices=sorted(KINDS))
    preset = kind.presets.get(request.preset)
    if preset is None:
        raise SetupError(f"unknown preset {request.preset!r}; choose one of {sorted(kind.presets)}",
                         key="train.unknown_preset", preset=request.preset, choices=sorted(kind.presets))
    if request.dataset is None:
        train, val = preset.datasets(request.num_train_images, request.num_val_images, request.seed)
        data = Message("train.data_generated", {"px": preset.shapes["image_size"]})
    else:
        train = CocoFolderDataset.from_folder(request.dataset, kind.data_task)
        val = _FirstItems(train, UPLOAD_EVAL_IMAGES)
        data = Message("train.data_upload", {"images": len(train), "classes": len(train.categories),
                                             "val": len(val)})
    batch = int(request.batch_size or preset.train["batch_size"])
    steps = _steps(request, len(train), batch)
    torch.manual_seed(request.seed)
    model = kind.build_model(preset, {k: c.name for k, c in enumerate(train.categories)})
    overrides = dict(total_steps=steps, batch_size=batch, device=request.device, seed=request.seed,
                     snapshot_every=int(request.snapshot_every), checkpoint_every=0, checkpoint_dir=None)
    if request.lr:
        overrides["lr"] = float(request.lr)
    config = preset.train_config(**overrides)
    if config.warmup_steps >= steps:  # a short demo run still reaches the full learning rate
        config.warmup_steps = steps // 10
    description = Message("train.description", {"kind": kind.label, "preset": preset.name, "steps": steps,
                                                 "batch": batch, "device": request.device, "data": data})
    return TrainingSetup(model=model, task=kind.build_task(preset, model), train_data=train, val_data=val,
                         config=config, description=description, model_task=kind.model_task)
