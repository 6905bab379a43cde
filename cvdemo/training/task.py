"""What the trainer needs from a task (detection, classification): the `Task` protocol and a `Batch`.

The engine is task-agnostic: it asks the task to collate samples, compute the loss terms, build the
optimizer's parameter groups, evaluate, and describe predictions on fixed images. `DetectionTask`
(`cvdemo.training.detection`) and `ClassificationTask` (`cvdemo.training.classification`) implement it.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

import torch
from torch import nn

__all__ = ["Batch", "Task"]


@dataclass
class Batch:
    """A collated batch. ``inputs``: keyword arguments of the model's forward (tensors);
    ``targets``: whatever the task's loss reads; ``samples``: the raw ``(image, target)`` items."""

    inputs: dict[str, torch.Tensor]
    targets: Any
    size: int
    samples: list = field(default_factory=list, repr=False)

    def to(self, device: torch.device) -> Batch:
        inputs = {k: v.to(device, non_blocking=True) for k, v in self.inputs.items()}
        targets = self.targets
        if isinstance(targets, torch.Tensor):
            targets = targets.to(device, non_blocking=True)
        elif isinstance(targets, list):
            targets = [{k: v.to(device, non_blocking=True) if isinstance(v, torch.Tensor) else v
                        for k, v in t.items()} for t in targets]
        return Batch(inputs, targets, self.size, self.samples)


class Task(Protocol):
    """The task-specific half of training."""

    name: str  # "detection" | "classification"
    id2label: dict[int, str]

    def collate(self, samples: list[tuple[torch.Tensor, dict]]) -> Batch:
        """Raw items (the data contract of `cvdemo.training.data`) -> a model-ready batch (CPU)."""

    def loss(self, model: nn.Module, batch: Batch, step: int) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
        """Forward + loss: (weighted total to back-propagate, every term to log as scalar tensors)."""

    def param_groups(self, model: nn.Module, lr: float, backbone_lr: float | None,
                     weight_decay: float) -> list[dict]:
        """AdamW parameter groups, each with a ``"name"`` and ``"lr"``."""

    def evaluate(self, model: nn.Module, dataset, device: torch.device, batch_size: int,
                 autocast: Callable[[], Any], should_stop: Callable[[], bool]
                 ) -> tuple[dict[str, float], dict[str, float]] | None:
        """(metrics, per-class metric) on ``dataset``; None if stopped part-way."""

    def snapshot(self, model: nn.Module, samples: Sequence[tuple[torch.Tensor, dict]],
                 device: torch.device, autocast: Callable[[], Any]) -> tuple:
        """Plain-data predictions on fixed samples (`ImagePrediction` / `ClassPrediction`)."""
