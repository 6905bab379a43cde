"""Training data: a COCO folder as a data set, the ground truth of any data set, seeded batches and flips.

Every data set the trainer reads follows the item contract of `cvdemo.datasets.shapes.ShapesDataset`::

    dataset[i] -> (image uint8[3, H, W] RGB tensor, target)
    target["boxes_xyxy"] float32[n, 4] pixel corners; target["labels"] int64[n] class *index* 0..K-1;
    target["areas"] float32[n]; target["image_id"] int; target["size"] int64[2] (H, W);
    target["label"] int (classification data sets only)
    dataset.categories: sequence of `Category`; class index k is categories[k] (with its own COCO id)

`CocoFolderDataset` reads any COCO instances json + image folder in that form (category ids sorted and
numbered 0..K-1; crowd regions are left out of the training targets, as DETR does, but kept in
`ground_truth` for evaluation).

Determinism: `epoch_batches` orders an epoch by a permutation seeded with ``(seed, epoch)`` and hands each
sample its own augmentation seed, so a run is reproducible whatever the number of loader workers, and a
resumed run sees exactly the batches the uninterrupted run would have seen.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import torch

from cvdemo.datasets.coco import load_coco_ground_truth
from cvdemo.datasets.structure import DatasetError, GroundTruth, ImageInfo
from cvdemo.images import load_image_file

__all__ = ["CocoFolderDataset", "SeededSamples", "epoch_batches", "ground_truth_of", "random_horizontal_flip",
           "steps_per_epoch"]

log = logging.getLogger(__name__)

Sample = tuple[torch.Tensor, dict[str, Any]]
Transform = Callable[[torch.Tensor, dict, torch.Generator], Sample]


class CocoFolderDataset:
    """A COCO-format folder: ``annotations`` (instances json) and the images it lists under ``images``.

    Args:
        images: folder holding each image's ``file_name``.
        annotations: COCO instances json (validated by `cvdemo.datasets.coco.load_coco_ground_truth`).
        task: "detect", or "classify" (each image must then hold exactly one non-crowd object, its class).
    """

    def __init__(self, images: str | Path, annotations: str | Path, task: str = "detect") -> None:
        if task not in ("detect", "classify"):
            raise ValueError(f"task must be 'detect' or 'classify', got {task!r}")
        self.images_dir = Path(images)
        if not self.images_dir.is_dir():
            raise DatasetError(f"{self.images_dir}: no such image folder")
        self.ground_truth: GroundTruth = load_coco_ground_truth(annotations)
        gt = self.ground_truth
        self.task = task
        self.categories = sorted(gt.categories, key=lambda c: c.id)
        index_of = {c.id: k for k, c in enumerate(self.categories)}
        self.images: list[ImageInfo] = list(gt.images)
        rows = np.flatnonzero(~gt.iscrowd)
        by_image: dict[int, list[int]] = {im.id: [] for im in self.images}
        for r in rows.tolist():
            by_image[int(gt.image_ids[r])].append(r)
        self._rows = [np.array(by_image[im.id], np.int64) for im in self.images]
        self._labels = np.array([index_of[int(c)] for c in gt.category_ids], np.int64)
        if task == "classify":
            bad = [im.file_name for im, r in zip(self.images, self._rows) if len(r) != 1]
            if bad:
                raise DatasetError(f"{annotations}: a classification set needs exactly one object per image; "
                                   f"{len(bad)} images differ (first: {bad[0]})")
        missing = [im.file_name for im in self.images if not (self.images_dir / im.file_name).is_file()]
        if missing:
            raise DatasetError(f"{self.images_dir}: {len(missing)} images listed in {annotations} are "
                               f"missing (first: {missing[0]!r})")

    @classmethod
    def from_folder(cls, folder: str | Path, task: str = "detect") -> CocoFolderDataset:
        """The data set of a COCO folder: ``folder/annotations.json`` and the images in ``folder/images/``, or
        beside the json when there is no ``images`` folder (as `python -m cvdemo.datasets.shapes` writes)."""
        folder = Path(folder)
        images = folder / "images" if (folder / "images").is_dir() else folder
        return cls(images, folder / "annotations.json", task=task)

    def __len__(self) -> int:
        return len(self.images)

    def __getitem__(self, index: int) -> Sample:
        info = self.images[index]
        image = load_image_file(self.images_dir / info.file_name)
        h, w = image.shape[:2]
        rows = self._rows[index]
        xywh = self.ground_truth.boxes_xywh[rows]
        xyxy = np.concatenate([xywh[:, :2], xywh[:, :2] + xywh[:, 2:]], axis=1).reshape(-1, 4)
        target: dict[str, Any] = {
            "boxes_xyxy": torch.from_numpy(np.clip(xyxy, 0, [w, h, w, h]).astype(np.float32)),
            "labels": torch.from_numpy(self._labels[rows]),
            "areas": torch.from_numpy(self.ground_truth.areas[rows].astype(np.float32)),
            "image_id": info.id,
            "size": torch.tensor([h, w], dtype=torch.int64),
        }
        if self.task == "classify":
            target["label"] = int(self._labels[rows[0]])
        return torch.from_numpy(np.ascontiguousarray(image.transpose(2, 0, 1))), target


def ground_truth_of(dataset) -> GroundTruth:
    """The data set's `GroundTruth` (category ids from ``dataset.categories``), for COCO evaluation.

    Uses ``dataset.ground_truth`` when it has one (a COCO folder: crowd regions and original ids kept);
    otherwise reads every item once (e.g. `ShapesDataset`).
    """
    existing = getattr(dataset, "ground_truth", None)
    if isinstance(existing, GroundTruth):
        return existing
    cat_ids = np.array([c.id for c in dataset.categories], np.int64)
    infos, image_ids, labels, boxes, areas = [], [], [], [], []
    for i in range(len(dataset)):
        _, target = dataset[i]
        h, w = (int(v) for v in target["size"])
        infos.append(ImageInfo(id=int(target["image_id"]), file_name="", width=w, height=h))
        n = len(target["labels"])
        image_ids += [int(target["image_id"])] * n
        labels.append(target["labels"].numpy())
        boxes.append(target["boxes_xyxy"].numpy().astype(np.float64).reshape(-1, 4))
        areas.append(target["areas"].numpy().astype(np.float64))
    xyxy = np.concatenate(boxes) if boxes else np.zeros((0, 4))
    return GroundTruth(images=infos, categories=list(dataset.categories), ann_ids=np.arange(1, len(xyxy) + 1),
                       image_ids=image_ids,
                       category_ids=cat_ids[np.concatenate(labels)] if labels else np.zeros(0, np.int64),
                       boxes_xywh=np.concatenate([xyxy[:, :2], xyxy[:, 2:] - xyxy[:, :2]], axis=1),
                       areas=np.concatenate(areas) if areas else np.zeros(0))


def random_horizontal_flip(probability: float = 0.5) -> Transform:
    """A transform that mirrors the image and its boxes left-right with ``probability``."""

    def flip(image: torch.Tensor, target: dict, generator: torch.Generator) -> Sample:
        if torch.rand((), generator=generator).item() >= probability:
            return image, target
        width = image.shape[-1]
        target = dict(target)
        boxes = target["boxes_xyxy"]
        flipped = [width - boxes[:, 2], boxes[:, 1], width - boxes[:, 0], boxes[:, 3]]
        target["boxes_xyxy"] = torch.stack(flipped, dim=1)
        return image.flip(-1), target

    return flip


class SeededSamples:
    """Wraps a data set so that an item is read as ``samples[(index, sample_seed)]`` and ``transform``
    (if any) draws its randomness from a generator seeded with ``sample_seed``."""

    def __init__(self, dataset, transform: Transform | None = None) -> None:
        self.dataset = dataset
        self.transform = transform

    def __len__(self) -> int:
        return len(self.dataset)

    def __getitem__(self, key: tuple[int, int]) -> Sample:
        index, sample_seed = key
        image, target = self.dataset[index]
        if self.transform is None:
            return image, target
        return self.transform(image, target, torch.Generator().manual_seed(sample_seed))


def epoch_batches(num_items: int, batch_size: int, seed: int, epoch: int, world_size: int = 1,
                  rank: int = 0) -> list[list[tuple[int, int]]]:
    """This process's batches of one epoch: ``[[(index, sample_seed), ...], ...]``.

    A permutation of ``range(num_items)`` seeded with ``(seed, epoch)`` is cut into global batches of
    ``batch_size * world_size`` (an incomplete last batch is dropped); process ``rank`` takes positions
    ``rank, rank + world_size, ...`` of each, so one process with ``batch_size * world_size`` sees the same
    global batches as ``world_size`` processes together.
    """
    global_batch = batch_size * world_size
    if num_items < global_batch:
        raise ValueError(f"the training set has {num_items} items, fewer than one batch of {global_batch} "
                         f"(batch_size {batch_size} x {world_size} processes): use a smaller batch or more "
                         "data")
    generator = torch.Generator().manual_seed(seed * 1_000_003 + epoch)
    order = torch.randperm(num_items, generator=generator).tolist()
    sample_seeds = torch.randint(0, 2**62, (num_items,), generator=generator).tolist()
    batches = []
    for start in range(0, num_items - global_batch + 1, global_batch):
        positions = range(start + rank, start + global_batch, world_size)
        batches.append([(order[p], sample_seeds[p]) for p in positions])
    return batches


def steps_per_epoch(num_items: int, batch_size: int, world_size: int = 1) -> int:
    """Full global batches in one epoch."""
    return num_items // (batch_size * world_size)

