"""ViT training: collate, cross-entropy, parameter groups without decay on norms/biases, accuracy, snapshots.

Samples are the data contract of `cvdemo.training.data` with ``target["label"]`` (class index). Images are
pre-processed exactly as at inference (`cvdemo.models.vit_transforms.vit_transform`: whole image resized
to the model's input size, normalised with the config's mean/std).
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from cvdemo.models.vit import ViTConfig
from cvdemo.models.vit_transforms import vit_transform
from cvdemo.training.divergence import check_finite_outputs
from cvdemo.training.events import ClassPrediction
from cvdemo.training.feature_hint import FeatureHint
from cvdemo.training.task import Batch

__all__ = ["ClassificationTask"]

# as timm's no_weight_decay, and the row/column tables of pos_embed="learn-2d" (position embeddings too)
_NO_DECAY_NAMES = ("pos_embed", "pos_embed_row", "pos_embed_col", "cls_token", "dist_token", "reg_token")


def _unwrap(model: nn.Module) -> nn.Module:
    return model.module if hasattr(model, "module") else model


class ClassificationTask:
    """Cross-entropy classification (timm's recipe: AdamW, no weight decay on biases, norms, position
    embedding and class token; optional label smoothing).

    Args:
        config: the model's `ViTConfig` (classes, input size, normalisation).
        label_smoothing: CE label smoothing (0 = plain CE).
        hint: an optional `FeatureHint`: its weighted MSE is added to the CE (logged as ``loss_hint``) and its
            head trains in a third parameter group, "hint_head". The head is not part of the model: a resumed
            run starts it afresh (the optimizer moments are restored).
    """

    name = "classification"
    evaluation_options: tuple[str, ...] = ()  # keyword arguments that change evaluation only (none)

    def __init__(self, config: ViTConfig, *, label_smoothing: float = 0.0, hint: FeatureHint | None = None) -> None:
        if config.num_classes < 1:
            raise ValueError("a ViT without a head (num_classes=0) cannot be trained for classification")
        self.config = config
        self.label_smoothing = label_smoothing
        self.hint = hint

    @property
    def id2label(self) -> dict[int, str]:
        return dict(self.config.id2label) or {k: str(k) for k in range(self.config.num_classes)}

    def collate(self, samples: list[tuple[torch.Tensor, dict]]) -> Batch:
        """Items -> ``inputs`` {pixel_values [B, 3, H, W]} and ``targets`` int64[B] class indices."""
        pixels = [vit_transform(image.permute(1, 2, 0).numpy(), self.config) for image, _ in samples]
        labels = torch.tensor([int(target["label"]) for _, target in samples], dtype=torch.int64)
        return Batch(inputs={"pixel_values": torch.cat(pixels)}, targets=labels, size=len(samples),
                     samples=samples)

    def loss(self, model: nn.Module, batch: Batch, step: int) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
        """(CE [+ hint weight x hint MSE], {"loss_ce", "accuracy"[, "loss_hint"]}); accuracy is the batch's
        top-1 in [0, 1], logged only."""
        if self.hint is None:
            outputs, hint_loss = model(**batch.inputs), None
        else:
            outputs, hint_loss = self.hint.loss(model, batch.inputs["pixel_values"])
        logits = outputs["logits"].float()
        check_finite_outputs({"logits": logits}, step)
        ce = F.cross_entropy(logits, batch.targets, label_smoothing=self.label_smoothing)
        accuracy = (logits.detach().argmax(-1) == batch.targets).float().mean()
        if hint_loss is None:
            return ce, {"loss_ce": ce, "accuracy": accuracy}
        return ce + self.hint.weight * hint_loss, {"loss_ce": ce, "loss_hint": hint_loss, "accuracy": accuracy}

    def param_groups(self, model: nn.Module, lr: float, backbone_lr: float | None,
                     weight_decay: float) -> list[dict]:
        """"decay" (matrices and convolutions) and "no_decay" (biases, norms, position tables, prefix tokens) [and
        "hint_head", with a hint, moved to the model's device], all
        at ``lr`` (a ViT has no separate backbone; ``backbone_lr`` is ignored)."""
        decay, no_decay = [], []
        for name, p in _unwrap(model).named_parameters():
            if not p.requires_grad:
                continue
            (no_decay if p.ndim <= 1 or name in _NO_DECAY_NAMES else decay).append(p)
        groups = [{"name": "decay", "params": decay, "lr": lr, "weight_decay": weight_decay},
                  {"name": "no_decay", "params": no_decay, "lr": lr, "weight_decay": 0.0}]
        if self.hint is not None:
            self.hint.to(next(_unwrap(model).parameters()).device)
            groups.append({"name": "hint_head", "params": list(self.hint.head.parameters()), "lr": lr,
                           "weight_decay": 0.0})
        return groups

    @torch.no_grad()
    def evaluate(self, model: nn.Module, dataset, device: torch.device, batch_size: int = 64,
                 autocast: Callable[[], Any] = contextlib.nullcontext,
                 should_stop: Callable[[], bool] = lambda: False
                 ) -> tuple[dict[str, float], dict[str, float]] | None:
        """Top-1 ``accuracy`` in [0, 1] and mean CE ``loss``; per class name: accuracy (recall) on that class.
        None if stopped part-way."""
        was_training = model.training
        model.eval()
        correct = np.zeros(self.config.num_classes, np.int64)
        total = np.zeros(self.config.num_classes, np.int64)
        loss_sum = 0.0
        try:
            for start in range(0, len(dataset), batch_size):
                if should_stop():
                    return None
                stop = min(start + batch_size, len(dataset))
                batch = self.collate([dataset[i] for i in range(start, stop)]).to(device)
                with autocast():
                    logits = model(**batch.inputs)["logits"].float()
                loss_sum += float(F.cross_entropy(logits, batch.targets, reduction="sum"))
                labels = batch.targets.cpu().numpy()
                hits = (logits.argmax(-1).cpu().numpy() == labels)
                np.add.at(total, labels, 1)
                np.add.at(correct, labels, hits.astype(np.int64))
        finally:
            model.train(was_training)
        n = int(total.sum())
        metrics = {"accuracy": float(correct.sum() / max(n, 1)), "loss": loss_sum / max(n, 1)}
        names = self.id2label
        per_class = {names.get(k, str(k)): float(correct[k] / total[k])
                     for k in range(len(total)) if total[k]}
        return metrics, per_class

    @torch.no_grad()
    def snapshot(self, model: nn.Module, samples: Sequence[tuple[torch.Tensor, dict]], device: torch.device,
                 autocast: Callable[[], Any] = contextlib.nullcontext) -> tuple[ClassPrediction, ...]:
        """Class probabilities on each sample."""
        was_training = model.training
        model.eval()
        try:
            batch = self.collate(list(samples)).to(device)
            with autocast():
                probs = model(**batch.inputs)["logits"].float().softmax(-1).cpu().numpy()
        finally:
            model.train(was_training)
        return tuple(ClassPrediction(image_id=int(t["image_id"]), image=img.permute(1, 2, 0).numpy().copy(),
                                     label=int(t["label"]), probs=p) for (img, t), p in zip(samples, probs))
