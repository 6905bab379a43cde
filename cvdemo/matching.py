"""DETR's one-to-one Hungarian matching, and a CNN-style one-to-many IoU assignment to compare with
(`max_iou_assignment`; `OneToManyMatcher` trains a DETR with it).

Contracts (as in facebookresearch/detr ``models/matcher.py``):

``outputs``: a dict with

* ``"pred_logits"``: ``FloatTensor[B, Q, C + 1]`` class logits; the last class (index ``C``) is
  "no object".
* ``"pred_boxes"``: ``FloatTensor[B, Q, 4]`` boxes, normalised ``(cx, cy, w, h)`` in [0, 1].

``targets``: a list of ``B`` dicts, one per image, with

* ``"labels"``: ``LongTensor[n_i]`` class indices in ``[0, C)``;
* ``"boxes"``: ``FloatTensor[n_i, 4]`` normalised ``(cx, cy, w, h)``.

The matching cost of query ``q`` and target ``t`` is

``cost_class * (-p_q[label_t]) + cost_bbox * |box_q - box_t|_1 + cost_giou * (-GIoU(box_q, box_t))``

with ``p`` the softmax probability (not its log: the loss uses ``-log p``, the matcher ``-p``,
which is bounded and so never lets one confident mistake dominate), the L1 distance taken in
normalised cxcywh, and GIoU taken on xyxy corners.

Production matching uses ``scipy.optimize.linear_sum_assignment`` on each image's own
``[Q, n_i]`` block (the costs are computed for the whole batch at once on targets padded to
``max n_i``, and never for cross-image pairs). ``cvdemo.hungarian`` is the step-by-step
teaching version of the same algorithm.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

import numpy as np
import torch
import torchvision
from scipy.optimize import linear_sum_assignment
from torch import nn
from torch.nn.utils.rnn import pad_sequence

from cvdemo.boxes import box_cxcywh_to_xyxy, box_iou_xyxy, generalized_box_iou_xyxy

__all__ = ["HungarianMatcher", "IoUAssignment", "MatchCosts", "OneToManyMatcher", "max_iou_assignment", "nms_xyxy"]

logger = logging.getLogger(__name__)

NONFINITE_POLICIES = ("raise", "replace")


@dataclass
class MatchCosts:
    """The matching cost of one image, term by term. Every matrix is ``FloatTensor[Q, n]`` on the CPU.

    Attributes:
        cls: ``-p_q[label_t]``, the class term (unweighted). ``costs["class"]`` also reads it.
        bbox: L1 distance of normalised cxcywh boxes (unweighted).
        giou: ``-GIoU`` of the xyxy corners (unweighted), in [-1, 1].
        total: ``cost_class * cls + cost_bbox * bbox + cost_giou * giou``: what the assignment minimises.
        weights: ``(cost_class, cost_bbox, cost_giou)``.
    """

    cls: torch.Tensor
    bbox: torch.Tensor
    giou: torch.Tensor
    total: torch.Tensor
    weights: tuple[float, float, float]

    def __getitem__(self, key: str) -> torch.Tensor:
        names = {
            "class": self.cls,
            "cls": self.cls,
            "bbox": self.bbox,
            "giou": self.giou,
            "total": self.total,
        }
        if key not in names:
            raise KeyError(f"unknown cost term {key!r}; use one of 'class', 'bbox', 'giou', 'total'")
        return names[key]

    def to_numpy(self) -> dict[str, np.ndarray]:
        """``{"class", "bbox", "giou", "total"}`` -> ``float64[Q, n]`` arrays, for display."""
        return {k: self[k].double().numpy() for k in ("class", "bbox", "giou", "total")}


def _check_outputs(outputs: dict) -> tuple[torch.Tensor, torch.Tensor]:
    for key in ("pred_logits", "pred_boxes"):
        if key not in outputs:
            hint = " (transformers' DETR calls it 'logits')" if key == "pred_logits" else ""
            raise KeyError(f"outputs needs {key!r}{hint}; got keys {sorted(outputs)}")
    logits, boxes = outputs["pred_logits"], outputs["pred_boxes"]
    if logits.ndim != 3 or boxes.ndim != 3 or boxes.shape[-1] != 4 or logits.shape[:2] != boxes.shape[:2]:
        raise ValueError(
            "expected pred_logits [B, Q, C+1] and pred_boxes [B, Q, 4] with the same B and Q, got "
            f"{tuple(logits.shape)} and {tuple(boxes.shape)}"
        )
    return logits, boxes


def _check_targets(targets: list[dict], batch_size: int, num_queries: int, num_classes: int) -> None:
    if len(targets) != batch_size:
        raise ValueError(f"got {len(targets)} target dicts for a batch of {batch_size} images")
    for i, t in enumerate(targets):
        if "labels" not in t or "boxes" not in t:
            raise KeyError(
                f"targets[{i}] needs 'labels' and 'boxes' (normalised cxcywh); got keys {sorted(t)}"
            )
        labels, boxes = t["labels"], t["boxes"]
        n = len(labels)
        if tuple(boxes.shape) != (n, 4):
            raise ValueError(
                f"targets[{i}]: boxes must be [{n}, 4] to match {n} labels, got {tuple(boxes.shape)}"
            )
        if n > num_queries:
            raise ValueError(
                f"image {i} has {n} target objects but the model has only {num_queries} queries; "
                "DETR matches one query per object, so use num_queries >= the most objects in an image, "
                "or drop targets"
            )
    if not targets:
        return
    # Value checks on the whole batch at once (one sync); the loop below only runs to name the image.
    all_labels = torch.cat([t["labels"].reshape(-1) for t in targets])
    all_boxes = torch.cat([t["boxes"].reshape(-1, 4) for t in targets])
    if bool(((all_labels < 0) | (all_labels >= num_classes)).any() | ~torch.isfinite(all_boxes).all()):
        for i, t in enumerate(targets):
            labels, boxes = t["labels"], t["boxes"]
            if len(labels) and (int(labels.min()) < 0 or int(labels.max()) >= num_classes):
                raise ValueError(
                    f"targets[{i}]: labels must be in [0, {num_classes}) (index {num_classes} is "
                    f"'no object'), got {labels.tolist()}"
                )
            if not bool(torch.isfinite(boxes).all()):
                raise ValueError(f"targets[{i}]: boxes contain NaN or inf: {boxes.tolist()}")


def _padded_targets(targets: list[dict], device: torch.device, dtype: torch.dtype):
    """Targets padded to ``n_max``: labels ``[B, n_max]``, boxes ``[B, n_max, 4]``, sizes ``list[int]``."""
    sizes = [len(t["labels"]) for t in targets]
    labels = pad_sequence([t["labels"].to(device, torch.int64) for t in targets], batch_first=True)
    # Padding boxes (0.5, 0.5, 0.5, 0.5) are valid boxes, so padded costs stay finite; they are cut off.
    boxes = pad_sequence(
        [t["boxes"].to(device, dtype).reshape(-1, 4) for t in targets], batch_first=True, padding_value=0.5
    )
    return labels, boxes, sizes


def _replace_nonfinite(cost: np.ndarray) -> np.ndarray:
    """NaN/inf entries -> a finite value so large that they are used only if nothing else is possible."""
    finite = np.isfinite(cost)
    if finite.all():
        return cost
    if not finite.any():
        return np.zeros_like(cost)
    low, high = cost[finite].min(), cost[finite].max()
    # Any assignment avoiding these entries costs less than one that uses a single one of them.
    big = high + (high - low + 1.0) * (min(cost.shape) + 1)
    return np.where(finite, cost, big)


class HungarianMatcher(nn.Module):
    """DETR's matcher: one query per ground-truth object, minimising the summed matching cost.

    Args:
        cost_class: weight of the class term ``-p[label]``.
        cost_bbox: weight of the L1 distance of normalised cxcywh boxes.
        cost_giou: weight of ``-GIoU`` of the xyxy corners.
        nonfinite: what to do with NaN/inf in the predictions of an image: ``"raise"`` a
            ``ValueError`` naming the image (default: it means the model diverged), or
            ``"replace"`` the non-finite costs by a large finite value, so that such queries are
            matched only when no finite choice is left (what transformers' matcher does).

    Has no parameters; runs under ``torch.no_grad``.
    """

    def __init__(
        self, cost_class: float = 1, cost_bbox: float = 5, cost_giou: float = 2, nonfinite: str = "raise"
    ):
        super().__init__()
        if cost_class == 0 and cost_bbox == 0 and cost_giou == 0:
            raise ValueError(
                "all matcher costs are 0: at least one of cost_class, cost_bbox, cost_giou must be set"
            )
        if nonfinite not in NONFINITE_POLICIES:
            raise ValueError(f"nonfinite must be one of {NONFINITE_POLICIES}, got {nonfinite!r}")
        self.cost_class = cost_class
        self.cost_bbox = cost_bbox
        self.cost_giou = cost_giou
        self.nonfinite = nonfinite

    def extra_repr(self) -> str:
        return f"cost_class={self.cost_class}, cost_bbox={self.cost_bbox}, cost_giou={self.cost_giou}"

    @torch.no_grad()
    def _batched_terms(self, outputs: dict, targets: list[dict]):
        """Cost terms ``[B, Q, n_max]`` for the whole batch (targets padded) and the per-image sizes."""
        logits, pred_boxes = _check_outputs(outputs)
        batch_size, num_queries, num_logits = logits.shape
        _check_targets(targets, batch_size, num_queries, num_logits - 1)
        if batch_size == 0:
            empty = logits.new_zeros(0, num_queries, 0)
            return empty, empty, empty, empty, []
        labels, tgt_boxes, sizes = _padded_targets(targets, pred_boxes.device, pred_boxes.dtype)
        n_max = labels.shape[1]

        prob = logits.softmax(-1)  # [B, Q, C+1]
        cost_class = -prob.gather(2, labels[:, None, :].expand(batch_size, num_queries, n_max))  # [B, Q, n]
        cost_bbox = (pred_boxes[:, :, None, :] - tgt_boxes[:, None, :, :]).abs().sum(-1)  # [B, Q, n]
        cost_giou = -generalized_box_iou_xyxy(box_cxcywh_to_xyxy(pred_boxes), box_cxcywh_to_xyxy(tgt_boxes))
        total = self.cost_class * cost_class + self.cost_bbox * cost_bbox + self.cost_giou * cost_giou
        return cost_class, cost_bbox, cost_giou, total, sizes

    @torch.no_grad()
    def cost_terms(self, outputs: dict, targets: list[dict]) -> list[MatchCosts]:
        """The matching cost of each image, term by term: a list of ``B`` :class:`MatchCosts`.

        Each holds ``FloatTensor[Q, n_i]`` CPU matrices (``n_i = 0`` for an image without targets).
        The terms are returned as computed, NaN included; only the assignment sanitises them.
        """
        *terms, sizes = self._batched_terms(outputs, targets)
        terms = [t.cpu() for t in terms]
        weights = (float(self.cost_class), float(self.cost_bbox), float(self.cost_giou))
        return [MatchCosts(*(t[i, :, :n] for t in terms), weights=weights) for i, n in enumerate(sizes)]

    def _assign(
        self, cost: np.ndarray, image: int, check_finite: bool = True
    ) -> tuple[np.ndarray, np.ndarray]:
        if cost.shape[1] == 0:
            return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.int64)
        if check_finite and not np.isfinite(cost).all():
            bad = np.flatnonzero(~np.isfinite(cost).all(axis=1)).tolist()
            if self.nonfinite == "raise":
                raise ValueError(
                    f"image {image}: the matching cost is NaN or inf for queries {bad} (NaN/inf in "
                    "pred_logits or pred_boxes: the model has probably diverged; lower the learning rate "
                    "or clip gradients), "
                    "or build HungarianMatcher(nonfinite='replace') to match such queries last"
                )
            logger.warning("image %d: non-finite matching cost for queries %s, matched last", image, bad)
            cost = _replace_nonfinite(cost)
        return linear_sum_assignment(cost)

    @torch.no_grad()
    def forward(self, outputs: dict, targets: list[dict]) -> list[tuple[torch.Tensor, torch.Tensor]]:
        """Match each image's queries to its targets.

        Returns:
            A list of ``B`` pairs ``(pred_idx, tgt_idx)``, ``LongTensor[min(Q, n_i)]`` each, on the CPU:
            query ``pred_idx[k]`` is matched to target ``tgt_idx[k]``; ``pred_idx`` is increasing.
            Unmatched queries are "no object". Raises ``ValueError`` when an image has more targets
            than queries, and (with ``nonfinite="raise"``) when its predictions are NaN/inf.
        """
        *_, total, sizes = self._batched_terms(outputs, targets)
        total = total.detach().to("cpu", torch.float64).numpy()  # one transfer for the batch
        all_finite = bool(np.isfinite(total).all())  # else each image is checked on its own columns
        indices = []
        for i, n in enumerate(sizes):
            rows, cols = self._assign(total[i, :, :n], i, check_finite=not all_finite)
            indices.append(
                (torch.as_tensor(rows, dtype=torch.int64), torch.as_tensor(cols, dtype=torch.int64))
            )
        return indices


# --- one-to-many assignment, as CNN detectors do -------------------------------------


@dataclass
class IoUAssignment:
    """A one-to-many IoU assignment of predictions (anchors/proposals) to ground truth.

    Attributes:
        gt_index: ``int64[Q]``: the GT each prediction is assigned to; ``-1`` background
            (max IoU below ``low_threshold``), ``-2`` ignored (between the thresholds).
        max_iou: ``float[Q]``: each prediction's best IoU with any GT (0 without GT).
        iou: ``float[Q, n]``: the IoU matrix the assignment was read from.
        positives_per_gt: ``int64[n]``: how many predictions each GT received; more than 1 means
            duplicates, which a CNN detector must remove with NMS and DETR never produces.
    """

    gt_index: np.ndarray
    max_iou: np.ndarray
    iou: np.ndarray
    positives_per_gt: np.ndarray

    @property
    def positive(self) -> np.ndarray:
        """``bool[Q]``: predictions assigned to some GT."""
        return self.gt_index >= 0


def _as_numpy(x) -> np.ndarray:
    return x.detach().cpu().numpy() if isinstance(x, torch.Tensor) else np.asarray(x)


def max_iou_assignment(
    pred_boxes_xyxy,
    gt_boxes_xyxy,
    iou_threshold: float = 0.5,
    low_threshold: float | None = None,
    allow_low_quality_matches: bool = True,
) -> IoUAssignment:
    """Assign every prediction with IoU >= ``iou_threshold`` to its best-IoU ground truth.

    This is Faster R-CNN's label assignment (``torchvision.models.detection._utils.Matcher``):
    one GT may take many predictions. With ``allow_low_quality_matches`` each GT also takes
    the prediction(s) with its highest IoU (ties included) even below the threshold, so that no
    GT is left without one; unlike torchvision, a GT that overlaps no prediction at all (best
    IoU 0) takes none.

    Args:
        pred_boxes_xyxy: ``[Q, 4]`` xyxy (tensor or array, any unit).
        gt_boxes_xyxy: ``[n, 4]`` xyxy, same unit.
        iou_threshold: IoU at or above which a prediction is positive.
        low_threshold: predictions with best IoU in ``[low_threshold, iou_threshold)`` are
            ignored (``-2``); ``None`` means no ignore band.
        allow_low_quality_matches: also give each GT its best prediction(s).

    Returns:
        An :class:`IoUAssignment` of numpy arrays.
    """
    low = iou_threshold if low_threshold is None else low_threshold
    if not 0 <= low <= iou_threshold:
        raise ValueError(f"need 0 <= low_threshold <= iou_threshold, got {low} and {iou_threshold}")
    preds = _as_numpy(pred_boxes_xyxy).astype(np.float64).reshape(-1, 4)
    gts = _as_numpy(gt_boxes_xyxy).astype(np.float64).reshape(-1, 4)
    iou = box_iou_xyxy(preds, gts)  # [Q, n]
    num_preds, num_gt = iou.shape
    if num_gt == 0:
        return IoUAssignment(
            gt_index=np.full(num_preds, -1, dtype=np.int64),
            max_iou=np.zeros(num_preds),
            iou=iou,
            positives_per_gt=np.zeros(0, dtype=np.int64),
        )
    best_gt = iou.argmax(axis=1)
    max_iou = iou.max(axis=1)
    gt_index = best_gt.astype(np.int64).copy()
    gt_index[max_iou < low] = -1
    gt_index[(max_iou >= low) & (max_iou < iou_threshold)] = -2
    if allow_low_quality_matches and num_preds:
        best_for_gt = iou.max(axis=0)  # [n]
        is_best = (iou == best_for_gt[None, :]) & (best_for_gt[None, :] > 0)
        rescued = is_best.any(axis=1)
        gt_index[rescued] = best_gt[rescued]
    positives = np.bincount(gt_index[gt_index >= 0], minlength=num_gt).astype(np.int64)
    return IoUAssignment(gt_index=gt_index, max_iou=max_iou, iou=iou, positives_per_gt=positives)


def nms_xyxy(boxes_xyxy, scores, iou_threshold: float = 0.5):
    """Non-maximum suppression: indices ``int64[K]`` of kept boxes, by decreasing score.

    ``boxes_xyxy`` ``[N, 4]`` and ``scores`` ``[N]`` as tensors or arrays; returns the same kind as
    ``boxes_xyxy``. A box is dropped when its IoU with a higher-scoring kept box exceeds
    ``iou_threshold`` (``torchvision.ops.nms``).
    """
    is_torch = isinstance(boxes_xyxy, torch.Tensor)
    boxes = torch.as_tensor(boxes_xyxy).float().reshape(-1, 4)
    keep = torchvision.ops.nms(boxes, torch.as_tensor(scores, device=boxes.device).float(), iou_threshold)
    return keep if is_torch else keep.cpu().numpy()


class OneToManyMatcher(nn.Module):
    """A one-to-many matcher for training DETR as a CNN detector is trained: many queries per object.

    Each image's Hungarian pairs are kept (so every object has at least one query, what Faster R-CNN's
    "low-quality matches" guarantee), and every other query whose predicted box overlaps a ground-truth box
    with IoU >= ``iou_threshold`` is also assigned to its best-IoU box (`max_iou_assignment` on the detached
    predictions). This is DETA's recipe (Ouyang-Zhang et al., 2022, "NMS Strikes Back"), with DETR's own
    predictions as the anchors. The assigned queries learn the same object, so the model predicts duplicates
    that only non-maximum suppression removes.

    Args:
        hungarian: the `HungarianMatcher` whose pairs are kept.
        iou_threshold: IoU at or above which an unmatched query becomes a positive of its best box.

    Same contract as `HungarianMatcher.forward`, except that a target index may appear more than once.
    """

    def __init__(self, hungarian: HungarianMatcher, iou_threshold: float = 0.5):
        super().__init__()
        if not 0 < iou_threshold <= 1:
            raise ValueError(f"iou_threshold must be in (0, 1], got {iou_threshold}")
        self.hungarian = hungarian
        self.iou_threshold = iou_threshold

    def extra_repr(self) -> str:
        return f"iou_threshold={self.iou_threshold}"

    @torch.no_grad()
    def forward(self, outputs: dict, targets: list[dict]) -> list[tuple[torch.Tensor, torch.Tensor]]:
        """A list of ``B`` pairs ``(pred_idx, tgt_idx)`` (``LongTensor[K_i]``, CPU, ``pred_idx`` increasing and
        unique): the Hungarian pairs plus the queries above the IoU threshold."""
        one_to_one = self.hungarian(outputs, targets)
        pred_xyxy = box_cxcywh_to_xyxy(outputs["pred_boxes"].detach().float()).cpu()
        indices = []
        for i, ((rows, cols), target) in enumerate(zip(one_to_one, targets)):
            gt_index = np.full(pred_xyxy.shape[1], -1, np.int64)
            if len(target["boxes"]):
                gt_xyxy = box_cxcywh_to_xyxy(target["boxes"].detach().float()).cpu()
                gt_index = max_iou_assignment(pred_xyxy[i], gt_xyxy, self.iou_threshold,  # no ignore band: -1 or a GT
                                              allow_low_quality_matches=False).gt_index
            gt_index[rows.numpy()] = cols.numpy()  # the Hungarian pair wins over the IoU's best box
            queries = np.flatnonzero(gt_index >= 0)
            indices.append((torch.as_tensor(queries, dtype=torch.int64),
                            torch.as_tensor(gt_index[queries], dtype=torch.int64)))
        return indices
