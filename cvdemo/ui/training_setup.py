"""What the Train tab asks for -> a `TrainingSetup` (model, task, data, TrainConfig); saving and sharing the
result. No gradio here.

Data: the preset's generated shapes, or an uploaded COCO-format zip (``annotations.json`` and the images it
lists, at the zip's top level or in one folder, images beside it or in ``images/``), extracted safely by
`cvdemo.datasets.archive.extract_zip` into the session's own temporary folder. An uploaded set has no
validation split: evaluation and snapshots use its first `UPLOAD_EVAL_IMAGES` images (the UI says so).
Messages for the user are in the ``locale`` the functions are given ("en" or "zh-CN"); errors raised by the
`cvdemo.datasets` library stay in English.
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
    build_vit_task,
)
from cvdemo.ui.i18n import DEFAULT_LOCALE, LOCALES
from cvdemo.ui.texts.train import T
from cvdemo.ui.training_jobs import TrainingSetup

__all__ = ["KINDS", "TrainRequest", "build_setup", "coco_folder_from_zip", "hub_push", "kind_label",
           "upload_limits"]

# kind -> (label's key in the "train" catalog, presets, builder, task class, CocoFolderDataset task)
KINDS: dict[str, tuple[str, dict[str, TrainingPreset], Any, Any, str]] = {
    "detr": ("kind_detr", DETR_TRAINING_PRESETS, build_detr, DetectionTask, "detect"),
    "vit": ("kind_vit", VIT_TRAINING_PRESETS, build_vit, ClassificationTask, "classify"),
}


def kind_label(kind: str, locale: str = DEFAULT_LOCALE) -> str:
    """"DETR detection" / "ViT classification" in ``locale``."""
    return T.text(KINDS[kind][0], locale)
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


def coco_folder_from_zip(zip_path: str | Path, dest: str | Path, limits: ArchiveLimits | None = None, *,
                         locale: str = DEFAULT_LOCALE) -> Path:
    """Extract an uploaded zip into ``dest`` (empty or absent) and return the folder holding annotations.json.
    Raises `DatasetError` (`ArchiveError` for a refused zip) with a message for the user."""
    files = extract_zip(zip_path, dest, limits or upload_limits())
    found = sorted({p.parent for p in files if p.name == "annotations.json"}, key=lambda p: len(p.parts))
    if not found:
        raise DatasetError(T.text("no_annotations", locale))
    return found[0]


def _coco_dataset(folder: Path, task: str) -> CocoFolderDataset:
    images = folder / "images" if (folder / "images").is_dir() else folder
    return CocoFolderDataset(images, folder / "annotations.json", task=task)


def build_setup(request: TrainRequest, *, locale: str = DEFAULT_LOCALE) -> TrainingSetup:
    """A fresh model of the preset's size and the data, ready for `JobManager.submit`; its description, notes
    and later messages in ``locale``. Raises ValueError / DatasetError with a message for the user."""
    if request.kind not in KINDS:
        raise ValueError(T.text("unknown_task", locale, kind=request.kind, choices=sorted(KINDS)))
    _, presets, build, task_class, data_task = KINDS[request.kind]
    if request.preset not in presets:
        raise ValueError(T.text("unknown_preset", locale, preset=request.preset, choices=sorted(presets)))
    preset = presets[request.preset]
    if request.dataset is None:
        train, val = preset.datasets(request.num_train_images, request.num_val_images, request.seed)
        data_fields = dict(px=preset.shapes["image_size"])
        data_key = "data_generated"
    else:
        train = _coco_dataset(Path(request.dataset), data_task)
        val = _FirstItems(train, UPLOAD_EVAL_IMAGES)
        data_fields = dict(images=len(train), classes=len(train.categories), val=len(val))
        data_key = "data_upload"
    id2label = {k: c.name for k, c in enumerate(train.categories)}
    batch = int(request.batch_size or preset.train["batch_size"])
    if batch < 1:
        raise ValueError(T.text("batch_at_least_one", locale))
    if len(train) < batch:
        raise ValueError(T.text("too_few_images", locale, images=len(train), batch=batch))
    if request.unit == "epochs":
        steps = math.ceil(float(request.length) * (len(train) // batch))
    else:
        steps = int(request.length)
    if steps < 1:
        raise ValueError(T.text("one_step", locale))
    torch.manual_seed(request.seed)
    model = build(preset, id2label)
    overrides = dict(total_steps=steps, batch_size=batch, device=request.device, seed=request.seed,
                     snapshot_every=int(request.snapshot_every), checkpoint_every=0, checkpoint_dir=None)
    if request.lr:
        overrides["lr"] = float(request.lr)
    config = preset.train_config(**overrides)
    if config.warmup_steps >= steps:  # a short demo run still reaches the full learning rate
        config.warmup_steps = steps // 10
    descriptions = {loc: T.text("description", loc, kind=kind_label(request.kind, loc), preset=preset.name,
                                steps=steps, batch=batch, device=request.device,
                                data=T.text(data_key, loc, **data_fields))
                    for loc in LOCALES}
    task = build_vit_task(preset, model) if request.kind == "vit" else task_class(model.config)
    return TrainingSetup(model=model, task=task, train_data=train, val_data=val,
                         config=config, description=descriptions.get(locale, descriptions[DEFAULT_LOCALE]),
                         locale=locale, descriptions=descriptions)


_REPO_ID = re.compile(r"^[A-Za-z0-9][\w.-]{0,95}/[A-Za-z0-9][\w.-]{0,95}$")


def hub_push(folder: str | Path, repo_id: str, token: str | None, private: bool = True, *,
             locale: str = DEFAULT_LOCALE) -> str:
    """Upload a saved model folder (config.json + model.safetensors) to the user's own Hub repository with
    the user's own token. Returns the repository URL. Raises ValueError with a message for the user (in
    ``locale``)."""
    if not token or not token.strip():
        raise ValueError(T.text("token_needed", locale))
    repo_id = (repo_id or "").strip()
    if not _REPO_ID.match(repo_id):
        raise ValueError(T.text("bad_repo_id", locale, repo=repo_id))
    folder = Path(folder)
    if not (folder / "model.safetensors").is_file():
        raise ValueError(T.text("save_first", locale))
    from huggingface_hub import HfApi  # only when pushing

    api = HfApi(token=token.strip())
    try:
        url = api.create_repo(repo_id, repo_type="model", private=private, exist_ok=True)
        api.upload_folder(folder_path=str(folder), repo_id=repo_id, repo_type="model",
                          allow_patterns=["*.json", "*.safetensors", "*.md"],
                          commit_message="Upload a model trained in the cvdemo app")
    except Exception as e:  # noqa: BLE001 - HTTP, auth and network errors all become a message
        raise ValueError(T.text("push_failed", locale, repo=repo_id, error=f"{type(e).__name__}: {e}")) from None
    return str(url)
