"""Variants that differ only in how the trained model is evaluated share one training.

A claim such as "one-to-many assignment needs NMS" compares the same training evaluated two ways (without and with
class-wise NMS). Training it twice would cost a whole run and give the identical model; instead the runner trains
once and evaluates the model as each variant of the group at every evaluation (`training_groups`,
`SharedEvaluationTask`). The comparison is then paired exactly: the same weights, step by step.

Which task options act on evaluation only is the task's own knowledge: ``evaluation_options`` of `DetectionTask`
(``nms_iou``) and `ClassificationTask` (none).

Metric keys: the trained variant's metrics keep their names (``"AP"``); every other variant's are prefixed with its
name and a slash (``"one-to-many + NMS/AP"``, `metric_key`).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from typing import Any

import torch
from torch import nn

from cvdemo.experiments.run_records import normalized
from cvdemo.experiments.spec import ClaimSpec
from cvdemo.training.classification import ClassificationTask
from cvdemo.training.detection import DetectionTask

__all__ = ["SharedEvaluationTask", "metric_key", "training_groups"]

_TASK_CLASSES = {"classify": ClassificationTask, "detect": DetectionTask}


def training_groups(spec: ClaimSpec) -> tuple[tuple[str, ...], ...]:
    """The claim's variants grouped by their training: variants whose overrides are equal once the task's
    evaluation-only options are left out train the identical model. Groups and their variants keep the spec's
    order; a variant with its own training is a group of one."""
    evaluation_only = set(_TASK_CLASSES[spec.task].evaluation_options)
    groups: dict[str, list[str]] = {}
    for variant in spec.variants:
        overrides = spec.overrides_of(variant).to_dict()
        overrides["task"] = {k: v for k, v in overrides["task"].items() if k not in evaluation_only}
        groups.setdefault(json.dumps(normalized(overrides), sort_keys=True), []).append(variant)
    return tuple(tuple(group) for group in groups.values())


def metric_key(variant: str, metric: str, trained: str) -> str:
    """Where ``variant``'s ``metric`` is in the EvalEvent metrics of a run trained as ``trained``."""
    return metric if variant == trained else f"{variant}/{metric}"


class SharedEvaluationTask:
    """A task that trains as ``task`` and evaluates the model as ``task`` and as each of ``others``
    (variant name -> a task of the same model that differs in evaluation options only).

    ``evaluate`` returns ``task``'s metrics and per-class values, with each other variant's metrics added under
    ``"<variant>/<metric>"``; everything else (collate, loss, parameter groups, snapshots, name) is ``task``'s."""

    def __init__(self, task: Any, others: Mapping[str, Any]) -> None:
        self.task = task
        self.others = dict(others)

    def __getattr__(self, name: str) -> Any:
        if name in ("task", "others"):  # not set yet (copy, pickling): no recursion
            raise AttributeError(name)
        return getattr(self.task, name)

    def evaluate(self, model: nn.Module, dataset, device: torch.device, batch_size: int,
                 autocast: Callable[[], Any], should_stop: Callable[[], bool]
                 ) -> tuple[dict[str, float], dict[str, float]] | None:
        result = self.task.evaluate(model, dataset, device, batch_size, autocast, should_stop)
        if result is None:
            return None
        metrics, per_class = result
        metrics = dict(metrics)
        for variant, task in self.others.items():
            other = task.evaluate(model, dataset, device, batch_size, autocast, should_stop)
            if other is None:
                return None
            metrics.update({f"{variant}/{name}": value for name, value in other[0].items()})
        return metrics, per_class
