"""One DETR run kept to study its matching, and everything computed from it without running the model again.

`run_matching_model(model, image, gt_boxes_xyxy, gt_labels)` runs DETR once and keeps every decoder layer's
class logits and boxes (the last layer's are the model's output, the others its `aux_outputs`) as numpy arrays.
From a `MatchRun` the library computes, for any decoder layer and matcher weights:

- `match`: the cost terms of `HungarianMatcher.cost_terms` and its assignment (`Matching`);
- `solve_steps`: the steps of Munkres' algorithm on the weighted total (`cvdemo.hungarian`);
- `matching_loss`: `SetCriterion.loss_breakdown` with that assignment (`MatchingLoss`);
- `matches_per_layer`: the query each object gets in every decoder layer;
- `one_to_many`: the max-IoU one-to-many assignment of CNN detectors, then NMS (`OneToMany`).

Everything returned is numpy arrays and numbers: a UI draws and words them, it needs no tensor. The inputs of a
run come from `validation_sample` (the shapes validation images the shipped checkpoint was trained beside) or
from an upload with typed boxes (`cvdemo.ground_truth_text`).

Contract of `MatchRun` (L decoder layers, Q queries, C classes + no-object, n ground-truth objects):
    image          uint8 [H, W, 3]     RGB
    gt_boxes_xyxy  float32 [n, 4]      pixel (x0, y0, x1, y1) on `image`
    gt_labels      int64 [n]           class index in [0, C)
    pred_logits    float32 [L, Q, C+1] per decoder layer; layer L-1 is `outputs["pred_logits"]`
    pred_boxes     float32 [L, Q, 4]   normalised (cx, cy, w, h), as DETR predicts them
    input_size     (h, w)              of the image as the model saw it (resized, unpadded)
"""

from __future__ import annotations

import functools
import time
from dataclasses import dataclass

import numpy as np
import torch

from cvdemo.boxes import box_cxcywh_to_xyxy, box_xyxy_to_cxcywh, denormalize_boxes, normalize_boxes
from cvdemo.datasets.shapes import ShapesDataset
from cvdemo.ground_truth_text import GroundTruthError
from cvdemo.hungarian import HungarianStep, hungarian_steps
from cvdemo.losses import QueryBreakdown, SetCriterion
from cvdemo.matching import HungarianMatcher, IoUAssignment, max_iou_assignment, nms_xyxy
from cvdemo.messages import UserError
from cvdemo.models.detr import DETR
from cvdemo.models.image_processing import keeps_aspect_ratio, prepare_detr_inputs
from cvdemo.visualize import display_scale

__all__ = ["DEFAULT_WEIGHTS", "IOU_THRESHOLD", "LOSS_WEIGHTS", "MatchRun", "Matching", "MatchingLoss",
           "NoSuchValidationImageError", "OneToMany", "match", "matches_per_layer", "matching_loss",
           "one_to_many", "run_matching_model", "solve_steps", "validation_sample", "validation_set"]

DEFAULT_WEIGHTS = (1.0, 5.0, 2.0)  # matcher: class, L1, GIoU (DETR's)
LOSS_WEIGHTS = {"loss_ce": 1.0, "loss_bbox": 5.0, "loss_giou": 2.0}  # DETR's loss weights (fixed here)
EOS_COEF = 0.1
VALIDATION_PRESET = "small"  # the preset the shipped detr-shapes checkpoint was trained with
IOU_THRESHOLD = 0.5  # one-to-many assignment and NMS
# English text of this module's errors, by name in the UI catalog "match" (which words them in every language)
RUN_TEXTS = {"no_such_validation_image": "validation image {index} does not exist: pick 0 to {last}"}


class NoSuchValidationImageError(UserError, IndexError):
    """A validation image index outside the set."""


@functools.lru_cache(maxsize=1)
def validation_set() -> ShapesDataset:
    """The shapes validation images of the shipped checkpoint's training preset (seed = data seed + 1)."""
    from cvdemo.training.presets import DETR_TRAINING_PRESETS  # training code only needed here

    return DETR_TRAINING_PRESETS[VALIDATION_PRESET].datasets()[1]


def validation_sample(index: int, id2label: dict[int, str] | None = None
                      ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(image uint8 [H, W, 3], boxes_xyxy float32 [n, 4], labels int64 [n]) of validation image ``index``.

    id2label: a model's classes; the labels are then that model's indices of the shape names. Raises
    NoSuchValidationImageError for an index outside the set, GroundTruthError ("match.model_lacks_shapes")
    when the model does not know the shapes."""
    dataset = validation_set()
    if not 0 <= index < len(dataset):
        last = len(dataset) - 1
        name = "no_such_validation_image"
        raise NoSuchValidationImageError(RUN_TEXTS[name].format(index=index, last=last), key=f"match.{name}",
                                         index=index, last=last)
    scene = dataset.scene(index)
    labels = scene.labels.astype(np.int64)
    if id2label is not None:
        by_name = {name: k for k, name in id2label.items()}
        names = [dataset.categories[int(lb)].name for lb in labels]
        missing = sorted({n for n in names if n not in by_name})
        if missing:
            raise GroundTruthError("model_lacks_shapes", missing=", ".join(missing))
        labels = np.array([by_name[n] for n in names], np.int64)
    return scene.image, scene.boxes_xyxy.astype(np.float32), labels


@dataclass
class MatchRun:
    """A DETR run on one image with its ground truth (see the module docstring for the arrays).

    model_ms: the forward pass's time. validation_index: the shapes validation image it ran on, or None for an
    upload."""

    model_name: str
    image: np.ndarray
    id2label: dict[int, str]
    gt_boxes_xyxy: np.ndarray
    gt_labels: np.ndarray
    pred_logits: np.ndarray
    pred_boxes: np.ndarray
    model_ms: float
    input_size: tuple[int, int]
    validation_index: int | None = None

    @property
    def num_layers(self) -> int:
        return int(self.pred_logits.shape[0])

    @property
    def num_queries(self) -> int:
        return int(self.pred_logits.shape[1])

    @property
    def num_classes(self) -> int:
        return int(self.pred_logits.shape[2]) - 1

    @property
    def num_objects(self) -> int:
        return int(len(self.gt_labels))

    @property
    def display_scale(self) -> float:
        return display_scale(*self.image.shape[:2])

    @property
    def aspect_ratio_kept(self) -> bool:
        """False when the model's input has another aspect ratio than the image (a side clamped to 1 pixel)."""
        return keeps_aspect_ratio(self.image.shape[:2], self.input_size)

    def class_name(self, label: int) -> str | None:
        """The model's name of class ``label``; None for the no-object class or a class without a name."""
        return None if int(label) == self.num_classes else self.id2label.get(int(label))

    def check_layer(self, layer: int) -> int:
        """``layer`` (0-based) if this run has it, else ValueError."""
        if not 0 <= layer < self.num_layers:
            raise ValueError(f"decoder layer {layer} out of range: this model has {self.num_layers}")
        return layer

    def outputs(self, layer: int) -> dict[str, torch.Tensor]:
        """DETR's output dict for decoder ``layer`` (0-based): pred_logits [1, Q, C+1], pred_boxes [1, Q, 4]."""
        self.check_layer(layer)
        return {"pred_logits": torch.from_numpy(self.pred_logits[layer][None]),
                "pred_boxes": torch.from_numpy(self.pred_boxes[layer][None])}

    def targets(self) -> list[dict[str, torch.Tensor]]:
        """The matcher's targets: labels [n], boxes [n, 4] normalised (cx, cy, w, h)."""
        boxes = normalize_boxes(box_xyxy_to_cxcywh(torch.from_numpy(self.gt_boxes_xyxy)), self.image.shape[:2])
        return [{"labels": torch.from_numpy(self.gt_labels), "boxes": boxes.float()}]

    def probs(self, layer: int) -> np.ndarray:
        """float32 [Q, C+1] softmax of the layer's logits."""
        return torch.from_numpy(self.pred_logits[self.check_layer(layer)]).softmax(-1).numpy()

    def scores(self, layer: int) -> tuple[np.ndarray, np.ndarray]:
        """(score float32 [Q], label int64 [Q]): each query's best real class, as DETR's post-processing reads it."""
        probs = self.probs(layer)[:, :-1]
        return probs.max(-1), probs.argmax(-1)

    def pred_boxes_xyxy(self, layer: int) -> np.ndarray:
        """float32 [Q, 4] pixel (x0, y0, x1, y1) on `image`."""
        boxes = box_cxcywh_to_xyxy(self.pred_boxes[self.check_layer(layer)])
        return denormalize_boxes(boxes, self.image.shape[:2]).astype(np.float32)


def run_matching_model(model: DETR, image: np.ndarray, gt_boxes_xyxy: np.ndarray, gt_labels: np.ndarray,
                       model_name: str = "", validation_index: int | None = None) -> MatchRun:
    """Run ``model`` once on an RGB uint8 image [H, W, 3] and keep every decoder layer's predictions."""
    device = next(model.parameters()).device
    inputs = prepare_detr_inputs(image, model.config, device=device)
    with torch.inference_mode():
        start = time.perf_counter()
        out = model(inputs["pixel_values"], None)  # one image: no padding, no mask
        if device.type == "cuda":
            torch.cuda.synchronize(device)
        model_ms = (time.perf_counter() - start) * 1000
        layers = [*out["aux_outputs"], out]
        logits = torch.stack([o["pred_logits"][0] for o in layers]).float().cpu().numpy()
        boxes = torch.stack([o["pred_boxes"][0] for o in layers]).float().cpu().numpy()
    return MatchRun(model_name=model_name, image=image, id2label=dict(model.config.id2label),
                    gt_boxes_xyxy=np.asarray(gt_boxes_xyxy, np.float32).reshape(-1, 4),
                    gt_labels=np.asarray(gt_labels, np.int64), pred_logits=logits, pred_boxes=boxes,
                    model_ms=model_ms, input_size=tuple(int(v) for v in inputs["resized_sizes"][0]),
                    validation_index=validation_index)


@dataclass
class Matching:
    """One layer's Hungarian matching at some cost weights.

    costs: ``{"class", "bbox", "giou", "total"}`` -> float64 [Q, n], the unweighted terms of
        `HungarianMatcher.cost_terms` and the weighted total the assignment minimises.
    pred_idx, tgt_idx: int64 [min(Q, n)], query pred_idx[k] gets ground truth tgt_idx[k] (what
        `HungarianMatcher` returns). matched_gt: int64 [Q], the ground truth of each query or -1.
    """

    layer: int
    weights: tuple[float, float, float]
    costs: dict[str, np.ndarray]
    pred_idx: np.ndarray
    tgt_idx: np.ndarray
    matched_gt: np.ndarray

    @property
    def total_cost(self) -> float:
        return float(self.costs["total"][self.pred_idx, self.tgt_idx].sum())


def match(run: MatchRun, layer: int, weights: tuple[float, float, float] = DEFAULT_WEIGHTS) -> Matching:
    """`HungarianMatcher(*weights)` on decoder ``layer`` (0-based): its cost terms and its assignment.

    Raises ValueError when every weight is 0 (there is nothing to minimise) or the layer does not exist."""
    weights = tuple(float(w) for w in weights)
    matcher = HungarianMatcher(*weights)
    outputs, targets = run.outputs(layer), run.targets()
    costs = matcher.cost_terms(outputs, targets)[0].to_numpy()
    pred_idx, tgt_idx = (t.numpy() for t in matcher(outputs, targets)[0])
    matched = np.full(run.num_queries, -1, np.int64)
    matched[pred_idx] = tgt_idx
    return Matching(layer=layer, weights=weights, costs=costs, pred_idx=pred_idx, tgt_idx=tgt_idx,
                    matched_gt=matched)


def solve_steps(matching: Matching) -> list[HungarianStep]:
    """`hungarian_steps` on the weighted total cost [Q, n]: every step of Munkres' algorithm."""
    return hungarian_steps(matching.costs["total"])[2]


@dataclass
class MatchingLoss:
    """The loss of one layer's matching (`SetCriterion.loss_breakdown`, with `LOSS_WEIGHTS`, eos_coef 0.1).

    breakdown: per query (`QueryBreakdown`: numpy arrays [Q]).
    losses: loss_ce, loss_bbox, loss_giou, unweighted, as SetCriterion reports them.
    total: their weighted sum with `LOSS_WEIGHTS`; the sum of ``breakdown.total``."""

    breakdown: QueryBreakdown
    losses: dict[str, float]
    total: float


def criterion(num_classes: int, weights: tuple[float, float, float] = DEFAULT_WEIGHTS) -> SetCriterion:
    """DETR's SetCriterion with these matcher weights, `LOSS_WEIGHTS` and eos_coef 0.1."""
    return SetCriterion(num_classes, HungarianMatcher(*weights), LOSS_WEIGHTS, eos_coef=EOS_COEF,
                        losses=("labels", "boxes"))


def matching_loss(run: MatchRun, matching: Matching) -> MatchingLoss:
    """SetCriterion's losses for ``matching``'s layer with ``matching``'s assignment, per query and in total."""
    indices = [(torch.from_numpy(matching.pred_idx), torch.from_numpy(matching.tgt_idx))]
    view = criterion(run.num_classes, matching.weights).loss_breakdown(run.outputs(matching.layer), run.targets(),
                                                                       indices)
    losses = {k: view.losses[k] for k in LOSS_WEIGHTS}
    return MatchingLoss(breakdown=view.per_image[0], losses=losses, total=view.total)


def matches_per_layer(run: MatchRun, weights: tuple[float, float, float]) -> np.ndarray:
    """int64 [L, n]: the query each ground-truth object is matched to, in every decoder layer."""
    result = np.zeros((run.num_layers, run.num_objects), np.int64)
    for layer in range(run.num_layers):
        m = match(run, layer, weights)
        result[layer, m.tgt_idx] = m.pred_idx
    return result


@dataclass
class OneToMany:
    """A CNN-style one-to-many assignment of the layer's predicted boxes, then NMS, to compare with DETR's
    one-to-one matching.

    iou_threshold: of both the assignment and NMS.
    assignment: `max_iou_assignment` (IoU >= iou_threshold) of every query's box to the ground truth.
    nms_kept: bool [Q], the positive queries that `nms_xyxy` (on the queries' scores) keeps.
    kept_per_gt: int64 [n], kept positives of each ground truth.
    """

    iou_threshold: float
    assignment: IoUAssignment
    nms_kept: np.ndarray
    kept_per_gt: np.ndarray

    @property
    def duplicates(self) -> int:
        """Positives beyond the first of each ground truth, before NMS."""
        return int(np.maximum(self.assignment.positives_per_gt - 1, 0).sum())

    @property
    def duplicates_after_nms(self) -> int:
        return int(np.maximum(self.kept_per_gt - 1, 0).sum())

    def positives_of(self, k: int) -> np.ndarray:
        """int64: the queries assigned to ground truth ``k``."""
        return np.flatnonzero(self.assignment.gt_index == k)


def one_to_many(run: MatchRun, layer: int, iou_threshold: float = IOU_THRESHOLD) -> OneToMany:
    """One-to-many max-IoU assignment of the layer's boxes, then NMS among the positives."""
    boxes = run.pred_boxes_xyxy(layer)
    scores, _ = run.scores(layer)
    assignment = max_iou_assignment(boxes, run.gt_boxes_xyxy, iou_threshold=iou_threshold)
    positive = np.flatnonzero(assignment.positive)
    kept = np.zeros(run.num_queries, bool)
    if positive.size:
        kept[positive[nms_xyxy(boxes[positive], scores[positive], iou_threshold)]] = True
    gt = assignment.gt_index[kept]
    kept_per_gt = np.bincount(gt, minlength=run.num_objects).astype(np.int64)
    return OneToMany(iou_threshold=iou_threshold, assignment=assignment, nms_kept=kept, kept_per_gt=kept_per_gt)
