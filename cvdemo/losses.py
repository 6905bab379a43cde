"""DETR's set-prediction loss (``SetCriterion`` of facebookresearch/detr ``models/detr.py``).

Contracts: ``outputs`` and ``targets`` as in :mod:`cvdemo.matching` (``pred_logits [B, Q, C+1]``,
``pred_boxes [B, Q, 4]`` normalised cxcywh; targets ``labels [n_i]``, ``boxes [n_i, 4]`` normalised
cxcywh), plus optionally ``outputs["aux_outputs"]``: a list of ``{"pred_logits", "pred_boxes"}``
dicts, one for each earlier decoder layer.

The losses, after matching queries to targets one-to-one:

* ``loss_ce``: cross-entropy over **all** queries; a matched query's target is its object's
  class, an unmatched query's target is "no object" (index ``C``), whose weight is
  ``eos_coef`` (0.1) so the many empty queries do not drown the few real ones. The mean is
  weighted: ``sum(w_q * ce_q) / sum(w_q)``.
* ``loss_bbox``: L1 of normalised cxcywh over matched pairs, summed, divided by the number of
  target boxes in the batch (at least 1; averaged over processes under ``torch.distributed``).
* ``loss_giou``: ``1 - GIoU`` over matched pairs, normalised the same way.
* ``cardinality_error``: |number of queries not predicting "no object" - number of targets|,
  averaged over images; logged only (no gradient).
* ``class_error``: 100 - top-1 accuracy (%) of the matched queries; logged only.

With ``aux_outputs`` the same losses (except ``class_error``) come again for each layer with
the suffix ``_0``, ``_1``, ..., each layer matched on its own.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from cvdemo.boxes import box_cxcywh_to_xyxy, generalized_box_iou_xyxy_elementwise
from cvdemo.matching import HungarianMatcher

__all__ = ["LOSS_NAMES", "LossBreakdown", "QueryBreakdown", "SetCriterion"]

LOSS_NAMES = ("labels", "boxes", "cardinality")
_AUX_SUFFIX = re.compile(r"_\d+$")

Indices = list[tuple[torch.Tensor, torch.Tensor]]


@dataclass
class QueryBreakdown:
    """Per-query view of one image's loss (numpy, for display). ``Q`` queries, ``n`` targets.

    Attributes:
        matched_gt: ``int64[Q]``: the target each query was matched to, or -1.
        target_class: ``int64[Q]``: the class each query is trained towards (``C`` = no object).
        ce: ``float[Q]``: ``-log p(target_class)``, unweighted.
        ce_weight: ``float[Q]``: 1 for matched queries, ``eos_coef`` for "no object".
        l1: ``float[Q]``: L1 of normalised cxcywh to the matched box; NaN when unmatched.
        giou: ``float[Q]``: GIoU with the matched box (the loss is ``1 - giou``); NaN when unmatched.
        total: ``float[Q]``: this query's share of ``weighted_total`` (main outputs only): its
            weighted CE share ``w_ce * ce_weight * ce / sum(all ce weights in the batch)`` plus
            ``(w_bbox * l1 + w_giou * (1 - giou)) / num_boxes``. Summed over every query of every
            image it gives the weighted total of ``loss_ce``, ``loss_bbox`` and ``loss_giou``.
    """

    matched_gt: np.ndarray
    target_class: np.ndarray
    ce: np.ndarray
    ce_weight: np.ndarray
    l1: np.ndarray
    giou: np.ndarray
    total: np.ndarray


@dataclass
class LossBreakdown:
    """The loss of one matching of the main outputs, per query and in total (numbers, for display).

    Attributes:
        per_image: a :class:`QueryBreakdown` per image.
        losses: the unweighted losses this criterion computes, as floats (``loss_ce``, ``class_error``,
            ``loss_bbox``, ``loss_giou``, ``cardinality_error``: those of its ``losses``), as ``forward``
            returns them for the main outputs.
        total: ``weighted_total(losses)``; the sum of every image's ``QueryBreakdown.total``.
    """

    per_image: list[QueryBreakdown]
    losses: dict[str, float]
    total: float


def _batch_index(indices: Indices) -> tuple[torch.Tensor, torch.Tensor]:
    """``(image_idx, query_idx)`` of every matched query, to index ``[B, Q, ...]`` tensors."""
    batch_idx = torch.cat([torch.full_like(src, i) for i, (src, _) in enumerate(indices)])
    src_idx = torch.cat([src for src, _ in indices])
    return batch_idx, src_idx


class SetCriterion(nn.Module):
    """DETR's loss: Hungarian matching, then CE on all queries and L1 + GIoU on matched ones.

    Args:
        num_classes: number of object classes ``C`` (``pred_logits`` has ``C + 1`` columns; the
            last is "no object"). As in DETR this is ``max class id + 1``.
        matcher: a :class:`~cvdemo.matching.HungarianMatcher`.
        weight_dict: loss name -> weight, e.g. ``{"loss_ce": 1, "loss_bbox": 5, "loss_giou": 2}``.
            Used by :meth:`weighted_total` (the forward returns unweighted losses, as DETR does).
        eos_coef: relative weight of the "no object" class in the CE.
        losses: which of ``LOSS_NAMES`` to compute.
    """

    def __init__(
        self,
        num_classes: int,
        matcher: HungarianMatcher,
        weight_dict: dict[str, float],
        eos_coef: float = 0.1,
        losses: Sequence[str] = LOSS_NAMES,
    ):
        super().__init__()
        unknown = sorted(set(losses) - set(LOSS_NAMES))
        if unknown:
            raise ValueError(f"unknown losses {unknown}; choose from {LOSS_NAMES}")
        if num_classes < 1:
            raise ValueError(f"num_classes must be >= 1, got {num_classes}")
        self.num_classes = num_classes
        self.matcher = matcher
        self.weight_dict = dict(weight_dict)
        self.eos_coef = eos_coef
        self.losses = tuple(losses)
        empty_weight = torch.ones(num_classes + 1)
        empty_weight[-1] = eos_coef
        self.register_buffer("empty_weight", empty_weight)

    # --- the individual losses (DETR's names and formulas) --------------------------

    def _target_classes(self, logits: torch.Tensor, targets: list[dict], indices: Indices) -> torch.Tensor:
        """``int64[B, Q]``: matched queries get their object's class, the others ``num_classes``."""
        target_classes = torch.full(
            logits.shape[:2], self.num_classes, dtype=torch.int64, device=logits.device
        )
        matched = torch.cat([t["labels"][j] for t, (_, j) in zip(targets, indices)]).to(logits.device)
        target_classes[_batch_index(indices)] = matched
        return target_classes

    def loss_labels(
        self, outputs: dict, targets: list[dict], indices: Indices, num_boxes: float, log: bool = True
    ):
        """``loss_ce`` (and ``class_error`` when ``log``)."""
        logits = outputs["pred_logits"]  # [B, Q, C+1]
        if logits.shape[-1] != self.num_classes + 1:
            raise ValueError(
                f"pred_logits has {logits.shape[-1]} classes but "
                f"SetCriterion(num_classes={self.num_classes}) "
                f"expects num_classes + 1 = {self.num_classes + 1} (the last is 'no object')"
            )
        target_classes = self._target_classes(logits, targets, indices)
        weight = self.empty_weight.to(logits.dtype)
        losses = {"loss_ce": F.cross_entropy(logits.transpose(1, 2), target_classes, weight)}
        if log:
            with torch.no_grad():
                idx = _batch_index(indices)
                matched_labels = target_classes[idx]
                if matched_labels.numel() == 0:
                    accuracy = torch.zeros((), device=logits.device)
                else:
                    hits = (logits[idx].argmax(-1) == matched_labels).float()
                    accuracy = hits.mean() * 100
                losses["class_error"] = 100 - accuracy
        return losses

    @torch.no_grad()
    def loss_cardinality(self, outputs: dict, targets: list[dict], indices: Indices, num_boxes: float):
        """``cardinality_error``: mean |#queries not predicting no-object - #targets| (logging only)."""
        logits = outputs["pred_logits"]
        num_targets = torch.as_tensor(
            [len(t["labels"]) for t in targets], device=logits.device, dtype=torch.float
        )
        num_pred = (logits.argmax(-1) != logits.shape[-1] - 1).sum(1).float()
        return {"cardinality_error": F.l1_loss(num_pred, num_targets)}

    def loss_boxes(self, outputs: dict, targets: list[dict], indices: Indices, num_boxes: float):
        """``loss_bbox`` (L1, normalised cxcywh) and ``loss_giou`` (1 - GIoU) of matched pairs / num_boxes."""
        idx = _batch_index(indices)
        src_boxes = outputs["pred_boxes"][idx]  # [K, 4]
        tgt_boxes = torch.cat([t["boxes"][j] for t, (_, j) in zip(targets, indices)]).to(src_boxes)
        loss_bbox = F.l1_loss(src_boxes, tgt_boxes, reduction="none")
        giou = generalized_box_iou_xyxy_elementwise(
            box_cxcywh_to_xyxy(src_boxes), box_cxcywh_to_xyxy(tgt_boxes)
        )
        return {"loss_bbox": loss_bbox.sum() / num_boxes, "loss_giou": (1 - giou).sum() / num_boxes}

    def get_loss(
        self, name: str, outputs: dict, targets: list[dict], indices: Indices, num_boxes: float, **kw
    ):
        loss_map = {
            "labels": self.loss_labels,
            "cardinality": self.loss_cardinality,
            "boxes": self.loss_boxes,
        }
        return loss_map[name](outputs, targets, indices, num_boxes, **kw)

    # --- the whole criterion ----------------------------------------------------------

    def num_boxes(self, targets: list[dict], device: torch.device) -> float:
        """Target boxes in the batch (mean over processes under torch.distributed), at least 1."""
        count = torch.as_tensor([float(sum(len(t["labels"]) for t in targets))], device=device)
        world = 1
        if torch.distributed.is_available() and torch.distributed.is_initialized():
            torch.distributed.all_reduce(count)
            world = torch.distributed.get_world_size()
        return max(count.item() / world, 1.0)

    def forward(self, outputs: dict, targets: list[dict]) -> dict[str, torch.Tensor]:
        """All requested losses, unweighted: ``loss_ce``, ``class_error``, ``loss_bbox``, ``loss_giou``,
        ``cardinality_error``, and the same with suffix ``_i`` for ``outputs["aux_outputs"][i]``.

        Scalar tensors; ``class_error`` and ``cardinality_error`` carry no gradient.
        """
        main = {k: v for k, v in outputs.items() if k != "aux_outputs"}
        indices = self.matcher(main, targets)
        num_boxes = self.num_boxes(targets, outputs["pred_logits"].device)
        losses: dict[str, torch.Tensor] = {}
        for name in self.losses:
            losses.update(self.get_loss(name, main, targets, indices, num_boxes))
        for i, aux in enumerate(outputs.get("aux_outputs", [])):
            aux_indices = self.matcher(aux, targets)
            for name in self.losses:
                extra = {"log": False} if name == "labels" else {}  # class_error only for the last layer
                layer = self.get_loss(name, aux, targets, aux_indices, num_boxes, **extra)
                losses.update({f"{k}_{i}": v for k, v in layer.items()})
        return losses

    def weight_of(self, key: str) -> float | None:
        """The weight of a loss key; ``loss_ce_3`` falls back to ``loss_ce``'s weight if not listed."""
        if key in self.weight_dict:
            return self.weight_dict[key]
        base = _AUX_SUFFIX.sub("", key)
        return self.weight_dict.get(base) if base != key else None

    def weighted_total(self, loss_dict: dict[str, torch.Tensor]) -> torch.Tensor:
        """``sum(weight * loss)`` over the keys that have a weight: the number to ``backward()``."""
        terms = [loss * w for key, loss in loss_dict.items() if (w := self.weight_of(key)) is not None]
        if not terms:
            raise ValueError(
                f"no key of the loss dict {sorted(loss_dict)} has a weight in {self.weight_dict}"
            )
        return torch.stack([t.reshape(()) for t in terms]).sum()

    @torch.no_grad()
    def per_query_breakdown(
        self, outputs: dict, targets: list[dict], indices: Indices | None = None
    ) -> list[QueryBreakdown]:
        """For display: per image and per query, the match, CE, L1, GIoU and share of the weighted loss.

        Uses the main outputs only (not ``aux_outputs``). Pass ``indices`` to reuse a matching.
        """
        logits, pred_boxes = outputs["pred_logits"], outputs["pred_boxes"]
        if indices is None:
            indices = self.matcher(outputs, targets)
        num_boxes = self.num_boxes(targets, logits.device)
        target_classes = self._target_classes(logits, targets, indices)  # [B, Q]
        ce = F.cross_entropy(logits.transpose(1, 2), target_classes, reduction="none")  # [B, Q]
        ce_weight = self.empty_weight.to(logits.dtype)[target_classes]  # [B, Q]
        ce_share = ce * ce_weight / ce_weight.sum()
        # Only the losses this criterion computes count towards the total.
        w_ce = (self.weight_of("loss_ce") or 0.0) if "labels" in self.losses else 0.0
        w_bbox = (self.weight_of("loss_bbox") or 0.0) if "boxes" in self.losses else 0.0
        w_giou = (self.weight_of("loss_giou") or 0.0) if "boxes" in self.losses else 0.0
        result = []
        for b, (src, tgt) in enumerate(indices):
            num_queries = logits.shape[1]
            matched_gt = torch.full((num_queries,), -1, dtype=torch.int64)
            matched_gt[src] = tgt
            l1 = torch.full((num_queries,), float("nan"), dtype=torch.float64)
            giou = torch.full((num_queries,), float("nan"), dtype=torch.float64)
            total = (w_ce * ce_share[b]).double().cpu()
            if len(src):
                src_boxes = pred_boxes[b, src]
                tgt_boxes = targets[b]["boxes"][tgt].to(src_boxes)
                l1[src] = (src_boxes - tgt_boxes).abs().sum(-1).double().cpu()
                giou[src] = (
                    generalized_box_iou_xyxy_elementwise(
                        box_cxcywh_to_xyxy(src_boxes), box_cxcywh_to_xyxy(tgt_boxes)
                    )
                    .double()
                    .cpu()
                )
                total[src] += (w_bbox * l1[src] + w_giou * (1 - giou[src])) / num_boxes
            result.append(
                QueryBreakdown(
                    matched_gt=matched_gt.numpy(),
                    target_class=target_classes[b].cpu().numpy(),
                    ce=ce[b].double().cpu().numpy(),
                    ce_weight=ce_weight[b].double().cpu().numpy(),
                    l1=l1.numpy(),
                    giou=giou.numpy(),
                    total=total.numpy(),
                )
            )
        return result

    @torch.no_grad()
    def loss_breakdown(self, outputs: dict, targets: list[dict], indices: Indices | None = None) -> LossBreakdown:
        """For display: the losses of the main outputs (not ``aux_outputs``) with their weighted total, and each
        query's part of it (:meth:`per_query_breakdown`). Pass ``indices`` to reuse a matching."""
        main = {k: v for k, v in outputs.items() if k != "aux_outputs"}
        if indices is None:
            indices = self.matcher(main, targets)
        num_boxes = self.num_boxes(targets, main["pred_logits"].device)
        losses: dict[str, torch.Tensor] = {}
        for name in self.losses:
            losses.update(self.get_loss(name, main, targets, indices, num_boxes))
        return LossBreakdown(
            per_image=self.per_query_breakdown(main, targets, indices),
            losses={k: float(v) for k, v in losses.items()},
            total=float(self.weighted_total(losses)),
        )
