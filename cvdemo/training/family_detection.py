"""Training the detector families beside DETR (YOLO, Faster R-CNN, SSD, ...): one task for every model that
keeps the family contract (`cvdemo.models.loading.FAMILY_MODULES`).

The family contract: in training mode ``model(images, targets) -> {term: loss}`` (torchvision's detection
models and `cvdemo.models.yolo.YOLO` alike), ``images`` a list of float ``[3, H, W]`` in [0, 1], ``targets`` a list
of ``{"boxes": float [n, 4] pixel xyxy, "labels": int64 [n] class index}``; in eval mode ``model(images) ->
[{"boxes" pixel xyxy, "labels", "scores"}]`` per image, best score first. So the loss terms are the model's own
(the step events, the Train tab's curves and the CLI's log show each one without special cases) and the total
is their sum (each family weights its terms itself: torchvision's sum is its training loss, YOLO's terms come
weighted by lambda_coord and lambda_noobj).

Evaluation: COCO AP (`cvdemo.metrics.evaluate_coco`) of the eval-mode detections on the validation set (the
family's own score threshold and NMS, as torchvision's references evaluate). Snapshots: every detection on the
fixed images, best first, as `ImagePrediction` with ``matched_gt`` all -1 (no Hungarian matching here).
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
import torch
from torch import nn

from cvdemo.boxes import box_xyxy_to_xywh
from cvdemo.datasets.structure import Detections
from cvdemo.metrics import evaluate_coco
from cvdemo.training.data import ground_truth_of
from cvdemo.training.events import ImagePrediction
from cvdemo.training.task import Batch

__all__ = ["FamilyDetectionTask"]


def _unwrap(model: nn.Module) -> nn.Module:
    return model.module if hasattr(model, "module") else model


class FamilyDetectionTask:
    """The `Task` of a detector family. ``config``: the model's config (``num_classes``, ``id2label``)."""

    name = "detection"

    def __init__(self, config: Any) -> None:
        self.config = config
        self._ground_truth: dict[int, Any] = {}

    @property
    def id2label(self) -> dict[int, str]:
        return dict(self.config.id2label) or {k: str(k) for k in range(self.config.num_classes)}

    def collate(self, samples: list[tuple[torch.Tensor, dict]]) -> Batch:
        """Items -> ``targets``: per image {"image": float [3, H, W] in [0, 1], "boxes": pixel xyxy, "labels"}
        (images of any sizes: the family's own transform resizes them). ``inputs`` is empty."""
        targets = [{"image": image.float() / 255.0, "boxes": target["boxes_xyxy"].float().reshape(-1, 4),
                    "labels": target["labels"].long()} for image, target in samples]
        return Batch(inputs={}, targets=targets, size=len(samples), samples=samples)

    def loss(self, model: nn.Module, batch: Batch, step: int) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
        """The model's loss terms and their sum."""
        images = [t["image"] for t in batch.targets]
        targets = [{"boxes": t["boxes"], "labels": t["labels"]} for t in batch.targets]
        terms = model(images, targets)
        terms = {name: value.float() for name, value in terms.items()}
        return sum(terms.values()), terms  # the engine checks them (`check_finite_loss`)

    def param_groups(self, model: nn.Module, lr: float, backbone_lr: float | None,
                     weight_decay: float) -> list[dict]:
        """"head" (everything but the backbone, ``lr``) and "backbone" (parameters under a module named
        ``backbone``; ``backbone_lr``, None = ``lr``). Weight decay on all."""
        named = [(n, p) for n, p in _unwrap(model).named_parameters() if p.requires_grad]
        backbone = [p for n, p in named if n.startswith("backbone.") or ".backbone." in n]
        ids = {id(p) for p in backbone}
        groups = [{"name": "head", "params": [p for _, p in named if id(p) not in ids], "lr": lr,
                   "weight_decay": weight_decay}]
        if backbone:
            groups.append({"name": "backbone", "params": backbone, "lr": lr if backbone_lr is None else backbone_lr,
                           "weight_decay": weight_decay})
        return groups

    def _detect(self, model: nn.Module, samples: Sequence[tuple[torch.Tensor, dict]], device: torch.device,
                autocast: Callable[[], Any]) -> list[dict[str, np.ndarray]]:
        images = [(image.float() / 255.0).to(device) for image, _ in samples]
        with autocast():
            results = model(images)
        return [{k: v.detach().float().cpu().numpy() if k != "labels" else v.detach().cpu().numpy()
                 for k, v in r.items()} for r in results]

    @torch.no_grad()
    def evaluate(self, model: nn.Module, dataset, device: torch.device, batch_size: int = 8,
                 autocast: Callable[[], Any] = contextlib.nullcontext,
                 should_stop: Callable[[], bool] = lambda: False
                 ) -> tuple[dict[str, float], dict[str, float]] | None:
        """(the 12 COCO stats, AP per class name) of the eval-mode detections; None if stopped part-way."""
        key = id(dataset)
        if key not in self._ground_truth:
            self._ground_truth = {key: ground_truth_of(dataset)}
        gt = self._ground_truth[key]
        cat_ids = np.array([c.id for c in dataset.categories], np.int64)
        was_training = model.training
        model.eval()
        parts: list[tuple[np.ndarray, ...]] = []
        try:
            for start in range(0, len(dataset), batch_size):
                if should_stop():
                    return None
                samples = [dataset[i] for i in range(start, min(start + batch_size, len(dataset)))]
                for (_, target), r in zip(samples, self._detect(model, samples, device, autocast)):
                    n = len(r["scores"])
                    parts.append((np.full(n, int(target["image_id"]), np.int64), cat_ids[r["labels"]],
                                  box_xyxy_to_xywh(r["boxes"].astype(np.float64)), r["scores"].astype(np.float64)))
        finally:
            model.train(was_training)
        detections = (Detections(*(np.concatenate(column) for column in zip(*parts))) if parts
                      else Detections.empty())
        result = evaluate_coco(gt, detections)
        names = result.category_names
        return result.stats_dict(), {names.get(c, str(c)): v["AP"] for c, v in result.per_class().items()}

    @torch.no_grad()
    def snapshot(self, model: nn.Module, samples: Sequence[tuple[torch.Tensor, dict]], device: torch.device,
                 autocast: Callable[[], Any] = contextlib.nullcontext) -> tuple[ImagePrediction, ...]:
        """Every detection on each sample (pixel xyxy, best first); no matching (``matched_gt`` -1)."""
        was_training = model.training
        model.eval()
        try:
            results = self._detect(model, samples, device, autocast)
        finally:
            model.train(was_training)
        predictions = []
        for (image, target), r in zip(samples, results):
            order = np.argsort(-r["scores"], kind="stable")
            n = len(order)
            predictions.append(ImagePrediction(
                image_id=int(target["image_id"]), image=image.permute(1, 2, 0).numpy().copy(),
                gt_boxes_xyxy=target["boxes_xyxy"].numpy().copy(), gt_labels=target["labels"].numpy().copy(),
                boxes_xyxy=r["boxes"][order].reshape(-1, 4), labels=r["labels"][order].astype(np.int64),
                scores=r["scores"][order], query_index=np.arange(n), matched_gt=np.full(n, -1, np.int64)))
        return tuple(predictions)
