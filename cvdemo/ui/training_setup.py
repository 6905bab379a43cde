"""What the Train tab asks for -> a `TrainingSetup` (model, task, data, TrainConfig); saving and sharing the
result. No gradio here.

Data: the preset's generated shapes, or an uploaded COCO-format zip (``annotations.json`` and the images it
lists, at the zip's top level or in one folder, images beside it or in ``images/``), extracted safely by
`cvdemo.datasets.archive.extract_zip` into the session's own temporary folder. An uploaded set has no
validation split: evaluation and snapshots use its first `UPLOAD_EVAL_IMAGES` images (the UI says so).
"""

from __future__ import annotations

import math
import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from cvdemo.datasets.archive import ArchiveLimits, extract_zip
from cvdemo.datasets.structure import DatasetError
from cvdemo.training import ClassificationTask, CocoFolderDataset, DetectionTask
from cvdemo.training.presets import (
    DETR_TRAINING_PRESETS,
    VIT_TRAINING_PRESETS,
    TrainingPreset,
    build_detr,
    build_vit,
)
from cvdemo.ui.training_jobs import TrainingSetup

__all__ = ["KINDS", "TrainRequest", "build_setup", "coco_folder_from_zip", "hub_push", "upload_limits"]

# kind -> (label, presets, builder, task class, CocoFolderDataset task)
KINDS: dict[str, tuple[str, dict[str, TrainingPreset], Any, Any, str]] = {
    "detr": ("DETR detection", DETR_TRAINING_PRESETS, build_detr, DetectionTask, "detect"),
    "vit": ("ViT classification", VIT_TRAINING_PRESETS, build_vit, ClassificationTask, "classify"),
}
UPLOAD_EVAL_IMAGES = 32  # images of an uploaded set used for evaluation and snapshots
GENERATED_VAL_IMAGES = 32  # validation images of the generated shapes (fewer than the CLI's: a live demo)


def upload_limits(environ: dict[str, str] | None = None) -> ArchiveLimits:
    """Caps on an uploaded zip: CVDEMO_MAX_UPLOAD_FILES (default 5000), CVDEMO_MAX_UPLOAD_MB (default 200)."""
    env = os.environ if environ is None else environ
    return ArchiveLimits(max_files=int(env.get("CVDEMO_MAX_UPLOAD_FILES", 5000)),
                         max_total_bytes=int(float(env.get("CVDEMO_MAX_UPLOAD_MB", 200)) * 2**20))


@dataclass
class TrainRequest:
    """The tab's inputs. ``length`` is in ``unit`` ("steps" or "epochs"); ``dataset``: None for generated
    shapes, else a COCO folder (``annotations.json`` + images). ``snapshot_every``: 0 = none."""

    kind: str = "detr"
    preset: str = "tiny"
    length: float = 200
    unit: str = "steps"
    lr: float | None = None  # None: the preset's
    batch_size: int | None = None
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
    Raises `DatasetError` (`ArchiveError` for a refused zip) with a message for the user."""
    files = extract_zip(zip_path, dest, limits or upload_limits())
    found = sorted({p.parent for p in files if p.name == "annotations.json"}, key=lambda p: len(p.parts))
    if not found:
        raise DatasetError("the zip has no annotations.json: put the COCO annotations (annotations.json) and "
                           "the images it lists in the zip")
    return found[0]


def _coco_dataset(folder: Path, task: str) -> CocoFolderDataset:
    images = folder / "images" if (folder / "images").is_dir() else folder
    return CocoFolderDataset(images, folder / "annotations.json", task=task)


def build_setup(request: TrainRequest) -> TrainingSetup:
    """A fresh model of the preset's size and the data, ready for `JobManager.submit`.
    Raises ValueError / DatasetError with a message for the user."""
    if request.kind not in KINDS:
        raise ValueError(f"unknown task {request.kind!r}; choose one of {sorted(KINDS)}")
    label, presets, build, task_class, data_task = KINDS[request.kind]
    if request.preset not in presets:
        raise ValueError(f"unknown preset {request.preset!r}; choose one of {sorted(presets)}")
    preset = presets[request.preset]
    if request.dataset is None:
        train, val = preset.datasets(request.num_train_images, request.num_val_images, request.seed)
        data_note = f"generated shapes ({preset.shapes['image_size']} px, new images every step)"
    else:
        train = _coco_dataset(Path(request.dataset), data_task)
        val = _FirstItems(train, UPLOAD_EVAL_IMAGES)
        data_note = (f"your {len(train)} images, {len(train.categories)} classes (evaluated on its first "
                     f"{len(val)} images: no separate validation set)")
    id2label = {k: c.name for k, c in enumerate(train.categories)}
    batch = int(request.batch_size or preset.train["batch_size"])
    if batch < 1:
        raise ValueError("the batch size must be at least 1")
    if len(train) < batch:
        raise ValueError(f"the data set has {len(train)} images, fewer than one batch of {batch}: "
                         "choose a smaller batch")
    if request.unit == "epochs":
        steps = math.ceil(float(request.length) * (len(train) // batch))
    else:
        steps = int(request.length)
    if steps < 1:
        raise ValueError("train for at least one step")
    torch.manual_seed(request.seed)
    model = build(preset, id2label)
    overrides = dict(total_steps=steps, batch_size=batch, device=request.device, seed=request.seed,
                     snapshot_every=int(request.snapshot_every), checkpoint_every=0, checkpoint_dir=None)
    if request.lr:
        overrides["lr"] = float(request.lr)
    config = preset.train_config(**overrides)
    if config.warmup_steps >= steps:  # a short demo run still reaches the full learning rate
        config.warmup_steps = steps // 10
    description = f"{label}, preset '{preset.name}', {steps} steps of {batch} images on {request.device}"
    return TrainingSetup(model=model, task=task_class(model.config), train_data=train, val_data=val,
                         config=config, description=f"{description}; data: {data_note}")


_REPO_ID = re.compile(r"^[A-Za-z0-9][\w.-]{0,95}/[A-Za-z0-9][\w.-]{0,95}$")


def hub_push(folder: str | Path, repo_id: str, token: str | None, private: bool = True) -> str:
    """Upload a saved model folder (config.json + model.safetensors) to the user's own Hub repository with
    the user's own token. Returns the repository URL. Raises ValueError with a message for the user."""
    if not token or not token.strip():
        raise ValueError("A Hugging Face token is needed to push: paste a token with write access "
                         "(huggingface.co/settings/tokens). It is used for this upload only and never stored.")
    repo_id = (repo_id or "").strip()
    if not _REPO_ID.match(repo_id):
        raise ValueError(f"{repo_id!r} is not a Hub repository id: use <your-user-name>/<model-name>")
    folder = Path(folder)
    if not (folder / "model.safetensors").is_file():
        raise ValueError("Save the trained model first")
    from huggingface_hub import HfApi  # only when pushing

    api = HfApi(token=token.strip())
    try:
        url = api.create_repo(repo_id, repo_type="model", private=private, exist_ok=True)
        api.upload_folder(folder_path=str(folder), repo_id=repo_id, repo_type="model",
                          allow_patterns=["*.json", "*.safetensors", "*.md"],
                          commit_message="Upload a model trained in the cvdemo app")
    except Exception as e:  # noqa: BLE001 - HTTP, auth and network errors all become a message
        raise ValueError(f"Pushing to {repo_id} failed: {type(e).__name__}: {e}") from None
    return str(url)
