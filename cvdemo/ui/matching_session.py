"""One DETR run with its ground truth, kept for a browser session, and what the Matching tab reads from it.

`run_matching_model(model, image, gt_boxes_xyxy, gt_labels)` runs DETR once and keeps every decoder layer's
class logits and boxes (the last layer's are the model's output, the others its `aux_outputs`). Everything
else (the cost terms, the assignment, the Hungarian steps, the per-query losses, the one-to-many
comparison) is computed by the `cvdemo` library from these arrays, so moving a weight slider or picking
another layer never runs the model again. Nothing here imports gradio. Text for the user (labels, ground-truth
errors, the Hungarian steps' explanations) is in the ``locale`` argument's language ("en" or "zh-CN").

Contract of `MatchRun` (L decoder layers, Q queries, C classes + no-object, n ground-truth objects):
    image          uint8 [H, W, 3]     RGB
    gt_boxes_xyxy  float32 [n, 4]      pixel (x0, y0, x1, y1) on `image`
    gt_labels      int64 [n]           class index in [0, C)
    pred_logits    float32 [L, Q, C+1] per decoder layer; layer L-1 is `outputs["pred_logits"]`
    pred_boxes     float32 [L, Q, 4]   normalised (cx, cy, w, h), as DETR predicts them
"""

from __future__ import annotations

import functools
import re
import time
from dataclasses import dataclass

import numpy as np
import torch

from cvdemo.boxes import box_cxcywh_to_xyxy, box_xyxy_to_cxcywh, denormalize_boxes, normalize_boxes
from cvdemo.datasets.shapes import ShapesDataset
from cvdemo.hungarian import HungarianStep, hungarian_steps
from cvdemo.losses import QueryBreakdown, SetCriterion
from cvdemo.matching import HungarianMatcher, IoUAssignment, MatchCosts, greedy_iou_assignment, nms_xyxy
from cvdemo.models.detr import DETR
from cvdemo.models.image_processing import prepare_detr_inputs
from cvdemo.ui.i18n import DEFAULT_LOCALE
from cvdemo.ui.texts.match import T
from cvdemo.visualize import display_scale

DEFAULT_WEIGHTS = (1.0, 5.0, 2.0)  # matcher: class, L1, GIoU (DETR's)
LOSS_WEIGHTS = {"loss_ce": 1.0, "loss_bbox": 5.0, "loss_giou": 2.0}  # DETR's loss weights (fixed here)
EOS_COEF = 0.1
VALIDATION_PRESET = "small"  # the preset the shipped detr-shapes checkpoint was trained with
IOU_THRESHOLD = 0.5  # one-to-many assignment and NMS


class GroundTruthError(ValueError):
    """Ground-truth text that cannot be used; the message names the line and what is wrong."""


@functools.lru_cache(maxsize=1)
def validation_set() -> ShapesDataset:
    """The shapes validation images of the shipped checkpoint's training preset (seed = data seed + 1)."""
    from cvdemo.training.presets import DETR_TRAINING_PRESETS  # training code only needed here

    return DETR_TRAINING_PRESETS[VALIDATION_PRESET].datasets()[1]


def validation_sample(index: int, id2label: dict[int, str] | None = None, locale: str = DEFAULT_LOCALE
                      ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(image uint8 [H, W, 3], boxes_xyxy float32 [n, 4], labels int64 [n]) of validation image `index`.

    id2label: a model's classes; the labels are then that model's indices of the shape names. Raises
    IndexError for an index outside the set, GroundTruthError when the model does not know the shapes
    (messages in ``locale``)."""
    dataset = validation_set()
    if not 0 <= index < len(dataset):
        raise IndexError(T.text("no_such_validation_image", locale, index=index, last=len(dataset) - 1))
    scene = dataset.scene(index)
    labels = scene.labels.astype(np.int64)
    if id2label is not None:
        by_name = {name: k for k, name in id2label.items()}
        names = [dataset.categories[int(lb)].name for lb in labels]
        missing = sorted({n for n in names if n not in by_name})
        if missing:
            raise GroundTruthError(T.text("model_lacks_shapes", locale, missing=", ".join(missing)))
        labels = np.array([by_name[n] for n in names], np.int64)
    return scene.image, scene.boxes_xyxy.astype(np.float32), labels


def format_ground_truth(boxes_xyxy: np.ndarray, labels: np.ndarray, id2label: dict[int, str]) -> str:
    """`label x0 y0 x1 y1` lines, the format `parse_ground_truth` reads."""
    lines = []
    for (x0, y0, x1, y1), label in zip(np.asarray(boxes_xyxy).reshape(-1, 4), labels):
        name = id2label.get(int(label), str(int(label))).replace(" ", "_")
        lines.append(f"{name} {x0:g} {y0:g} {x1:g} {y1:g}")
    return "\n".join(lines)


def parse_ground_truth(text: str, id2label: dict[int, str], image_size: tuple[int, int],
                       max_objects: int | None = None, locale: str = DEFAULT_LOCALE) -> tuple[np.ndarray, np.ndarray]:
    """Read `label x0 y0 x1 y1` lines (pixels; label a class name or index; `#` starts a comment; commas
    or spaces separate values). Returns (boxes_xyxy float32 [n, 4], labels int64 [n]).

    Raises GroundTruthError naming the line and the problem: wrong number of values, unknown label,
    non-numbers, an empty or inverted box, a box outside the (height, width) image, or no box at all,
    or more boxes than `max_objects` (DETR matches one query per object); the message in ``locale``."""
    h, w = image_size
    by_name = {name.lower().replace(" ", "_"): k for k, name in id2label.items()}
    boxes, labels = [], []
    for number, raw in enumerate(text.splitlines(), start=1):
        line = raw.split("#", 1)[0].strip()
        if not line:
            continue
        parts = [p for p in re.split(r"[,\s]+", line) if p]
        if len(parts) != 5:
            raise GroundTruthError(T.text("gt_count", locale, line=number, text=raw.strip(), count=len(parts)))
        label = _parse_label(parts[0], by_name, id2label, number, locale)
        try:
            x0, y0, x1, y1 = (float(p) for p in parts[1:])
        except ValueError:
            raise GroundTruthError(T.text("gt_numbers", locale, line=number, text=raw.strip())) from None
        if not all(np.isfinite((x0, y0, x1, y1))):
            raise GroundTruthError(T.text("gt_finite", locale, line=number))
        box = f"({x0:g}, {y0:g}, {x1:g}, {y1:g})"
        if x1 <= x0 or y1 <= y0:
            raise GroundTruthError(T.text("gt_inverted", locale, line=number, box=box))
        if x0 < 0 or y0 < 0 or x1 > w or y1 > h:
            raise GroundTruthError(T.text("gt_outside", locale, line=number, box=box, w=w, h=h))
        boxes.append((x0, y0, x1, y1))
        labels.append(label)
    if not boxes:
        raise GroundTruthError(T.text("gt_empty", locale))
    if max_objects is not None and len(boxes) > max_objects:
        raise GroundTruthError(T.text("gt_too_many", locale, count=len(boxes), queries=max_objects))
    return np.array(boxes, np.float32).reshape(-1, 4), np.array(labels, np.int64)


def _parse_label(token: str, by_name: dict[str, int], id2label: dict[int, str], number: int,
                 locale: str = DEFAULT_LOCALE) -> int:
    if token.lower() in by_name:
        return by_name[token.lower()]
    if re.fullmatch(r"\d+", token) and int(token) in id2label:
        return int(token)
    known = ", ".join(id2label[k] for k in sorted(id2label)[:12]) + (" …" if len(id2label) > 12 else "")
    raise GroundTruthError(T.text("gt_unknown_label", locale, line=number, token=token, known=known,
                                  last=max(id2label)))


@dataclass
class MatchRun:
    """A DETR run on one image with its ground truth (see the module docstring for the arrays)."""

    model_name: str
    source: str
    image: np.ndarray
    id2label: dict[int, str]
    gt_boxes_xyxy: np.ndarray
    gt_labels: np.ndarray
    pred_logits: np.ndarray
    pred_boxes: np.ndarray
    model_ms: float

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
    def display_scale(self) -> float:
        return display_scale(*self.image.shape[:2])

    def label_name(self, label: int, locale: str = DEFAULT_LOCALE) -> str:
        """The model's name of class ``label``; "no object" for the no-object class (in ``locale``)."""
        if int(label) == self.num_classes:
            return T.text("no_object", locale)
        name = self.id2label.get(int(label))
        return T.text("class_n", locale, k=int(label)) if name is None else name

    def outputs(self, layer: int) -> dict[str, torch.Tensor]:
        """DETR's output dict for decoder `layer` (0-based): pred_logits [1, Q, C+1], pred_boxes [1, Q, 4]."""
        if not 0 <= layer < self.num_layers:
            raise ValueError(f"decoder layer {layer} out of range: this model has {self.num_layers}")
        return {"pred_logits": torch.from_numpy(self.pred_logits[layer][None]),
                "pred_boxes": torch.from_numpy(self.pred_boxes[layer][None])}

    def targets(self) -> list[dict[str, torch.Tensor]]:
        """The matcher's targets: labels [n], boxes [n, 4] normalised (cx, cy, w, h)."""
        boxes = normalize_boxes(box_xyxy_to_cxcywh(torch.from_numpy(self.gt_boxes_xyxy)), self.image.shape[:2])
        return [{"labels": torch.from_numpy(self.gt_labels), "boxes": boxes.float()}]

    def probs(self, layer: int) -> np.ndarray:
        """float32 [Q, C+1] softmax of the layer's logits."""
        return torch.from_numpy(self.pred_logits[layer]).softmax(-1).numpy()

    def scores(self, layer: int) -> tuple[np.ndarray, np.ndarray]:
        """(score [Q], label [Q]): each query's best real class, as DETR's post-processing reads it."""
        probs = self.probs(layer)[:, :-1]
        return probs.max(-1), probs.argmax(-1)

    def pred_boxes_xyxy(self, layer: int) -> np.ndarray:
        """float32 [Q, 4] pixel (x0, y0, x1, y1) on `image`."""
        return denormalize_boxes(box_cxcywh_to_xyxy(self.pred_boxes[layer]), self.image.shape[:2]).astype(np.float32)


def run_matching_model(model: DETR, image: np.ndarray, gt_boxes_xyxy: np.ndarray, gt_labels: np.ndarray,
                       model_name: str = "", source: str = "") -> MatchRun:
    """Run `model` once on an RGB uint8 image [H, W, 3] and keep every decoder layer's predictions."""
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
    return MatchRun(model_name=model_name, source=source, image=image, id2label=dict(model.config.id2label),
                    gt_boxes_xyxy=np.asarray(gt_boxes_xyxy, np.float32).reshape(-1, 4),
                    gt_labels=np.asarray(gt_labels, np.int64), pred_logits=logits, pred_boxes=boxes,
                    model_ms=model_ms)


@dataclass
class Matching:
    """One layer's Hungarian matching at some cost weights.

    costs: the library's `MatchCosts` (class, bbox, giou, total: FloatTensor [Q, n]).
    pred_idx, tgt_idx: int64 [min(Q, n)], query pred_idx[k] gets ground truth tgt_idx[k] (what
        `HungarianMatcher` returns). matched_gt: int64 [Q], the ground truth of each query or -1.
    """

    layer: int
    weights: tuple[float, float, float]
    costs: MatchCosts
    pred_idx: np.ndarray
    tgt_idx: np.ndarray
    matched_gt: np.ndarray

    @property
    def total_cost(self) -> float:
        return float(self.costs.total[self.pred_idx, self.tgt_idx].sum())


def match(run: MatchRun, layer: int, weights: tuple[float, float, float] = DEFAULT_WEIGHTS) -> Matching:
    """`HungarianMatcher(*weights)` on decoder `layer`: its cost terms and its assignment.

    Raises ValueError when every weight is 0 (there is nothing to minimise)."""
    matcher = HungarianMatcher(*(float(w) for w in weights))
    outputs, targets = run.outputs(layer), run.targets()
    costs = matcher.cost_terms(outputs, targets)[0]
    pred_idx, tgt_idx = (t.numpy() for t in matcher(outputs, targets)[0])
    matched = np.full(run.num_queries, -1, np.int64)
    matched[pred_idx] = tgt_idx
    return Matching(layer=layer, weights=tuple(float(w) for w in weights), costs=costs, pred_idx=pred_idx,
                    tgt_idx=tgt_idx, matched_gt=matched)


def solve_steps(matching: Matching) -> list[HungarianStep]:
    """`hungarian_steps` on the weighted total cost [Q, n]: every step of Munkres' algorithm."""
    return hungarian_steps(matching.costs.total.double().numpy())[2]


STEP_KIND_KEYS = {"start": "kind_start", "row_reduction": "kind_row_reduction",
                  "column_reduction": "kind_column_reduction", "star": "kind_star", "cover": "kind_cover",
                  "prime": "kind_prime", "adjust": "kind_adjust", "augment": "kind_augment", "done": "kind_done"}


def step_kind(step: HungarianStep, locale: str = DEFAULT_LOCALE) -> str:
    """The name of a Hungarian step's kind ("cover", "row reduction", ...), in ``locale``. The solver's
    "row_reduction" reduces its short side, which is the columns of a matrix with more rows than columns (DETR's
    queries × ground truth): it is named "column reduction" there, as its explanation says."""
    kind = step.kind
    if kind == "row_reduction" and step.matrix.shape[0] > step.matrix.shape[1]:
        kind = "column_reduction"
    key = STEP_KIND_KEYS.get(kind)
    return T.text(key, locale) if key else kind.replace("_", " ")


def step_explanation(steps: list[HungarianStep], index: int, locale: str = DEFAULT_LOCALE) -> str:
    """The explanation of ``steps[index]`` in ``locale``.

    `hungarian_steps` writes its explanations in English; for another language the sentence is rebuilt from
    the step's fields (its kind, the matrix's shape, the starred and primed zeros, the covered lines, the
    adjustment value, the augmenting path, and the previous step for a new prime). The rebuilt sentence is
    used only when its English version is exactly the library's, so a step the rebuild does not cover (the
    solver's rescaling note for costs above 2**800, a future kind of step) keeps the library's English."""
    english = steps[index].explanation
    if locale == DEFAULT_LOCALE:
        return english
    try:
        if _rebuild_explanation(steps, index, DEFAULT_LOCALE) != english:
            return english
        return _rebuild_explanation(steps, index, locale)
    except (KeyError, IndexError, TypeError, ValueError):
        return english


def _rebuild_explanation(steps: list[HungarianStep], index: int, locale: str) -> str:
    """A step's explanation from its fields, worded as `cvdemo.hungarian` words it (KeyError: unknown kind)."""
    step = steps[index]
    n, m = step.matrix.shape
    tall = n > m  # the solver works on the transpose: the short side is the columns
    k = min(n, m)
    short, long = ("column", "row") if tall else ("row", "column")
    short_text, long_text = T.text(short, locale), T.text(long, locale)
    kind = step.kind
    if kind == "start":
        orientation = ("orientation_tall" if tall else "orientation_square" if n == m else "orientation_wide")
        return T.text("explain_start", locale, k=k, orientation=T.text(orientation, locale))
    if kind == "row_reduction":
        return T.text("explain_row_reduction", locale, short=short_text)
    if kind == "column_reduction":
        return T.text("explain_column_reduction", locale, long=long_text)
    if kind == "star":
        return T.text("explain_star", locale, short=short_text, long=long_text, count=int(step.starred.sum()))
    if kind == "cover":
        count = int((step.covered_rows if tall else step.covered_cols).sum())
        tail = (T.text("cover_complete", locale, short=short_text) if count == k
                else T.text("cover_incomplete", locale, k=k))
        return T.text("explain_cover", locale, long=long_text, count=count, tail=tail)
    if kind == "prime":
        r, c = (int(v) for v in np.argwhere(step.primed & ~steps[index - 1].primed)[0])
        if tall:
            star = [(int(s), c) for s in np.flatnonzero(step.starred[:, c])]
        else:
            star = [(r, int(s)) for s in np.flatnonzero(step.starred[r])]
        if star:
            (sr, sc), = star[:1]
            return T.text("explain_prime_star", locale, r=r, c=c, short=short_text, sr=sr, sc=sc, long=long_text)
        return T.text("explain_prime_path", locale, r=r, c=c, short=short_text)
    if kind == "adjust":
        return T.text("explain_adjust", locale, h=float(step.min_uncovered))
    if kind == "augment":
        path = " -> ".join(f"({r}, {c})" for r, c in step.path)
        return T.text("explain_augment", locale, path=path, stars=int(step.starred.sum()))
    if kind == "done":
        pairs = [(int(r), int(c)) for r, c in np.argwhere(step.starred)]
        rows = np.array([r for r, _ in pairs], np.int64)
        cols = np.array([c for _, c in pairs], np.int64)
        total = float(steps[0].matrix[rows, cols].sum()) if rows.size else 0.0
        shown = ", ".join(f"({r}, {c})" for r, c in pairs[:12]) + (" ..." if len(pairs) > 12 else "")
        return T.text("explain_done", locale, pairs=shown or T.text("empty_assignment", locale), total=total)
    raise KeyError(kind)


@dataclass
class LossView:
    """The loss of one layer's matching: per query (the library's `QueryBreakdown`) and in total.

    losses: loss_ce, loss_bbox, loss_giou (unweighted, as `SetCriterion` reports them) and "total",
    the weighted sum with `LOSS_WEIGHTS`."""

    breakdown: QueryBreakdown
    losses: dict[str, float]


def criterion(num_classes: int, weights: tuple[float, float, float] = DEFAULT_WEIGHTS) -> SetCriterion:
    """DETR's SetCriterion with these matcher weights, `LOSS_WEIGHTS` and eos_coef 0.1."""
    return SetCriterion(num_classes, HungarianMatcher(*weights), LOSS_WEIGHTS, eos_coef=EOS_COEF,
                        losses=("labels", "boxes"))


def losses(run: MatchRun, matching: Matching) -> LossView:
    """SetCriterion's per-query breakdown and losses for `matching`'s layer, with `matching`'s assignment."""
    crit = criterion(run.num_classes, matching.weights)
    outputs, targets = run.outputs(matching.layer), run.targets()
    indices = [(torch.from_numpy(matching.pred_idx), torch.from_numpy(matching.tgt_idx))]
    breakdown = crit.per_query_breakdown(outputs, targets, indices)[0]
    num_boxes = crit.num_boxes(targets, torch.device("cpu"))
    with torch.no_grad():
        parts = {**crit.get_loss("labels", outputs, targets, indices, num_boxes, log=False),
                 **crit.get_loss("boxes", outputs, targets, indices, num_boxes)}
        total = crit.weighted_total(parts)
    return LossView(breakdown=breakdown, losses={**{k: float(v) for k, v in parts.items()}, "total": float(total)})


def matches_per_layer(run: MatchRun, weights: tuple[float, float, float]) -> np.ndarray:
    """int64 [L, n]: the query each ground-truth object is matched to, in every decoder layer."""
    result = np.zeros((run.num_layers, len(run.gt_labels)), np.int64)
    for layer in range(run.num_layers):
        m = match(run, layer, weights)
        result[layer, m.tgt_idx] = m.pred_idx
    return result


@dataclass
class OneToMany:
    """A CNN-style one-to-many assignment of the layer's predicted boxes, then NMS, to compare with DETR's
    one-to-one matching.

    assignment: `greedy_iou_assignment` (IoU >= IOU_THRESHOLD) of every query's box to the ground truth.
    nms_kept: bool [Q], the positive queries that `nms_xyxy` (IoU IOU_THRESHOLD, on the queries' scores)
        keeps. kept_per_gt: int64 [n], kept positives of each ground truth.
    """

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


def one_to_many(run: MatchRun, layer: int, iou_threshold: float = IOU_THRESHOLD) -> OneToMany:
    """One-to-many IoU assignment of the layer's boxes, then NMS among the positives."""
    boxes = run.pred_boxes_xyxy(layer)
    scores, _ = run.scores(layer)
    assignment = greedy_iou_assignment(boxes, run.gt_boxes_xyxy, iou_threshold=iou_threshold)
    positive = np.flatnonzero(assignment.positive)
    kept = np.zeros(run.num_queries, bool)
    if positive.size:
        kept[positive[nms_xyxy(boxes[positive], scores[positive], iou_threshold)]] = True
    gt = assignment.gt_index[kept]
    kept_per_gt = np.bincount(gt, minlength=len(run.gt_labels)).astype(np.int64)
    return OneToMany(assignment=assignment, nms_kept=kept, kept_per_gt=kept_per_gt)
