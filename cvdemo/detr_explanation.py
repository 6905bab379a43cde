"""Explain one detection of a stored DETR run: a map over the image and how faithful it is.

Two methods, one contract (a [h, w] map over DETR's feature map, larger = more relevant):
    "cross_attention"  the detection's query's cross-attention in one decoder layer (one head or the mean of
                       heads), read from the stored run (`cvdemo.detection_run`); the model does not run again.
    "relevance"        Chefer, Gur, Wolf (ICCV 2021) relevance through the whole model
                       (`cvdemo.explain.detr_relevance`): one forward and one backward on the run's image, the
                       target being the detection's class logit or one coordinate of its predicted box.

Faithfulness (`cvdemo.explain.faithfulness`): the detection's score is `detr_detection_score` with the
detection's own normalised box and class (the best probability of that class among the queries whose box still
overlaps the detection's box at IoU >= 0.5). The map's deletion and insertion curves remove / insert its most
relevant feature-map cells first; the random map's curves (mean of a few random orders) are the baseline. A map
whose deletion AUC is not below the random map's is no better than chance at finding what the detection
depends on (`DetectionExplanation.beats_random`).

Cost: every curve point is a forward of the model. `faithfulness_model_runs(steps)` counts them and
`faithfulness_seconds(run, steps)` estimates their time from the run's own forward (`run.model_ms`); the UI
measures at once only below `MEASURE_AT_ONCE_SECONDS`. The random map's curves (three quarters of the forwards)
are kept per model, run and detection: another method on the same detection measures only its own two curves.

The model's input is rebuilt from `run.image` exactly as `cvdemo.detection_run.run_detr` built it
(`prepare_detr_inputs`, one image, no pixel mask). Nothing here imports gradio or words text for people.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass

import numpy as np
import torch

from cvdemo.attention import query_attention_map, upsample_heatmap
from cvdemo.detection_run import DetectionRun
from cvdemo.explain import faithfulness
from cvdemo.explain.curve_cache import RandomCurveCache
from cvdemo.explain.detr import BOX_COORDINATES, detr_relevance
from cvdemo.explain.in_flight import EXPLANATIONS
from cvdemo.models.image_processing import prepare_detr_inputs

__all__ = ["BOX_COORDINATES", "CURVE_NAMES", "MEASURE_AT_ONCE_SECONDS", "METHODS", "RANDOM_SEEDS",
           "DetectionExplanation", "detection_box_cxcywh", "explain_detection", "explanation_map",
           "faithfulness_model_runs", "faithfulness_seconds", "measure_faithfulness", "measures_at_once"]

logger = logging.getLogger(__name__)

METHODS = ("cross_attention", "relevance")
CURVE_NAMES = ("deletion", "insertion", "random_deletion", "random_insertion")
STEPS = 16  # points of each curve after the unperturbed image (the default of every function here)
RANDOM_SEEDS = (0, 1, 2)  # random cell orders averaged into the random map's curves
MEASURE_AT_ONCE_SECONDS = 5.0  # estimated time of the curves above which the UI asks before measuring
RANDOM_CACHE_SIZE = 64  # detections whose random-map curves are kept (a few kB each)
RANDOM_CURVES = RandomCurveCache(RANDOM_CACHE_SIZE)  # (model, run, row, grid, steps, seeds) for that run
BATCH_PIXELS = 4 * 2**20  # input pixels per batch of perturbed images (16 images of 512x512, 4 of 800x1066)


@dataclass(frozen=True)
class DetectionExplanation:
    """One detection's map and, when measured, its faithfulness.

    feature_map   float32 [h, w] over the model's feature map (>= 0 for relevance; attention weights sum to 1)
    heatmap       float32 [H', W'] in [0, 1] at `run.display_size` (bilinear, min-max scaled)
    curves        None (not measured) or CURVE_NAMES -> `faithfulness.PerturbationCurve`
    map_seconds, curve_seconds: wall time of the map and of the curves (0 when not measured)
    model_runs    forwards spent on the curves (0 when not measured; fewer when the random map's were known)
    """

    method: str
    row: int
    query: int
    target_class: int
    target: str  # "class" | "box" (relevance only; cross-attention explains the query as a whole)
    box_coordinate: str | None
    layer: int | None  # cross-attention: 0-based decoder layer
    head: int | None  # cross-attention: head, or None for the mean of heads
    feature_map: np.ndarray
    heatmap: np.ndarray
    map_seconds: float
    curves: dict | None = None
    curve_seconds: float = 0.0
    model_runs: int = 0

    @property
    def beats_random(self) -> bool | None:
        """True when the map's deletion AUC is below the random map's (None when not measured)."""
        if self.curves is None:
            return None
        return bool(self.curves["deletion"].auc < self.curves["random_deletion"].auc)


def detection_box_cxcywh(run: DetectionRun, row: int) -> tuple[float, float, float, float]:
    """Detection ``row``'s box as DETR's `pred_boxes`: normalised (cx, cy, w, h) in [0, 1] of the image.

    `run.boxes_xyxy` is the model's normalised box scaled to the image's pixels, so dividing by the image's
    size gives the model's box back (whatever the resize, which scales both axes to the same unit square)."""
    h, w = run.image.shape[:2]
    x0, y0, x1, y1 = (float(v) for v in run.boxes_xyxy[row])
    return ((x0 + x1) / 2 / w, (y0 + y1) / 2 / h, (x1 - x0) / w, (y1 - y0) / h)


def model_pixels(model: torch.nn.Module, run: DetectionRun) -> torch.Tensor:
    """The run's image as the model saw it: normalised [1, 3, H, W] on the model's device."""
    device = next(model.parameters()).device
    return prepare_detr_inputs(run.image, model.config, device=device)["pixel_values"]


def _check(run: DetectionRun, row: int, method: str, target: str, box_coordinate: str | None) -> None:
    if method not in METHODS:
        raise ValueError(f"method must be one of {METHODS}, got {method!r}")
    if not 0 <= int(row) < len(run.scores):
        raise ValueError(f"detection {row} out of range: this run has {len(run.scores)}")
    if target not in ("class", "box"):
        raise ValueError(f'target must be "class" or "box", got {target!r}')
    if target == "box" and box_coordinate not in BOX_COORDINATES:
        raise ValueError(f"target 'box' needs box_coordinate in {BOX_COORDINATES}, got {box_coordinate!r}")


def explanation_map(model: torch.nn.Module | None, run: DetectionRun, row: int, method: str,
                    layer: int | None = None, head: int | None = None, target: str = "class",
                    box_coordinate: str | None = None) -> np.ndarray:
    """Detection ``row``'s map, float32 [h, w] over the feature map.

    cross_attention: decoder ``layer`` (0-based; None = the last), ``head`` (None = the mean of heads), from the
    stored run (``model`` unused). relevance: `detr_relevance` of the row's query, target its class logit
    (target="class", the run's label) or one coordinate of its box (target="box", box_coordinate cx|cy|w|h).
    """
    _check(run, row, method, target, box_coordinate)
    query = int(run.query_index[row])
    if method == "cross_attention":
        layer = run.num_decoder_layers - 1 if layer is None else int(layer)
        if not 0 <= layer < run.num_decoder_layers:
            raise ValueError(f"decoder layer {layer} out of range: this model has {run.num_decoder_layers}")
        if head is not None and not 0 <= head < run.num_heads:
            raise ValueError(f"head {head} out of range: this model has {run.num_heads} heads")
        att = torch.from_numpy(run.cross_attentions[layer][None].astype(np.float32))  # (1, heads, Q, HW)
        return query_attention_map(att, run.feature_size, query, head)[0].numpy()
    if model is None:
        raise ValueError("the relevance needs the model")
    out = detr_relevance(model, model_pixels(model, run), query, target=target, target_class=int(run.labels[row]),
                         box_coordinate=box_coordinate if target == "box" else None)
    return out["image"][0].detach().float().cpu().numpy()


def _steps_and_seeds(steps: int | None, seeds: tuple[int, ...] | None) -> tuple[int, tuple[int, ...]]:
    return (STEPS if steps is None else int(steps)), (RANDOM_SEEDS if seeds is None else tuple(seeds))


def faithfulness_model_runs(steps: int | None = None, seeds: tuple[int, ...] | None = None) -> int:
    """Forwards of the model that `measure_faithfulness` spends: (steps + 1) per curve, the random map's curves
    once per seed (None: `STEPS`, `RANDOM_SEEDS`)."""
    steps, seeds = _steps_and_seeds(steps, seeds)
    return (steps + 1) * (2 + 2 * len(seeds))


def faithfulness_seconds(run: DetectionRun, steps: int | None = None, seeds: tuple[int, ...] | None = None) -> float:
    """Estimated time of `measure_faithfulness` on this run's model and image: its forwards times the run's own
    forward (`run.model_ms`; batched forwards are usually somewhat faster)."""
    return faithfulness_model_runs(steps, seeds) * float(run.model_ms) / 1000.0


def measures_at_once(run: DetectionRun, steps: int | None = None) -> bool:
    """Whether the curves are cheap enough (`MEASURE_AT_ONCE_SECONDS`) to measure with every map."""
    return faithfulness_seconds(run, steps) <= MEASURE_AT_ONCE_SECONDS


def measure_faithfulness(model: torch.nn.Module, run: DetectionRun, row: int, feature_map: np.ndarray,
                         steps: int | None = None, seeds: tuple[int, ...] | None = None) -> dict:
    """Deletion and insertion curves of ``feature_map`` [h, w] for detection ``row``, and the random map's.

    Returns CURVE_NAMES -> `PerturbationCurve` (blurred baseline). The score is `detr_detection_score` with the
    detection's normalised box and class."""
    if not 0 <= int(row) < len(run.scores):
        raise ValueError(f"detection {row} out of range: this run has {len(run.scores)}")
    steps, seeds = _steps_and_seeds(steps, seeds)
    image = model_pixels(model, run)[0]  # (3, H, W) normalised
    score = EXPLANATIONS.stoppable(
        faithfulness.detr_detection_score(model, detection_box_cxcywh(run, row), int(run.labels[row])))
    heat = torch.as_tensor(np.asarray(feature_map, dtype=np.float32))
    grid = tuple(int(v) for v in heat.shape)
    # a batch of 16 DETR-R50 inputs at 800x1066 would hold gigabytes of activations: fewer images per batch
    batch = max(1, min(16, BATCH_PIXELS // (image.shape[-2] * image.shape[-1])))
    common = {"steps": steps, "batch_size": batch}
    was_training = model.training
    model.eval()
    try:
        with torch.no_grad():
            curves = {"deletion": faithfulness.deletion_curve(score, image, heat, **common),
                      "insertion": faithfulness.insertion_curve(score, image, heat, **common)}
            key = _random_key(model, run, row, grid, steps, seeds)
            random = RANDOM_CURVES.get(run, key)
            if random is None:
                random = {f"random_{kind}": faithfulness.random_curve(score, image, grid, kind=kind, seeds=seeds,
                                                                      **common) for kind in ("deletion", "insertion")}
                RANDOM_CURVES.put(run, key, random)
            return curves | random
    finally:
        model.train(was_training)


def _random_key(model: torch.nn.Module, run: DetectionRun, row: int, grid: tuple, steps: int, seeds: tuple) -> tuple:
    return id(model), id(run), int(row), tuple(grid), int(steps), tuple(seeds)


def explain_detection(model: torch.nn.Module | None, run: DetectionRun, row: int, method: str,
                      layer: int | None = None, head: int | None = None, target: str = "class",
                      box_coordinate: str | None = None, steps: int | None = None, measure: bool = True
                      ) -> DetectionExplanation:
    """Detection ``row``'s map by ``method`` (see `explanation_map`) at the display size, and, when ``measure``,
    its faithfulness curves (`measure_faithfulness` with ``steps``, None = `STEPS`; it needs the model for either
    method)."""
    _check(run, row, method, target, box_coordinate)
    with EXPLANATIONS:
        return _explain(model, run, row, method, layer, head, target, box_coordinate, steps, measure)


def _explain(model: torch.nn.Module | None, run: DetectionRun, row: int, method: str, layer: int | None,
             head: int | None, target: str, box_coordinate: str | None, steps: int | None,
             measure: bool) -> DetectionExplanation:
    start = time.perf_counter()
    feature_map = explanation_map(model, run, row, method, layer, head, target, box_coordinate).astype(np.float32)
    heatmap = upsample_heatmap(feature_map, run.display_size)
    map_seconds = time.perf_counter() - start
    curves, curve_seconds, runs = None, 0.0, 0
    if measure:
        if model is None:
            raise ValueError("measuring faithfulness needs the model")
        steps, seeds = _steps_and_seeds(steps, None)
        random_known = RANDOM_CURVES.get(run, _random_key(model, run, row, feature_map.shape, steps, seeds)) is not None
        start = time.perf_counter()
        curves = measure_faithfulness(model, run, row, feature_map, steps, seeds)
        curve_seconds = time.perf_counter() - start
        runs = faithfulness_model_runs(steps, () if random_known else seeds)
    is_cross = method == "cross_attention"
    logger.debug("%s of detection %d: map %.2f s, curves %.2f s", method, row, map_seconds, curve_seconds)
    return DetectionExplanation(
        method=method, row=int(row), query=int(run.query_index[row]), target_class=int(run.labels[row]),
        target="class" if is_cross else target, box_coordinate=None if is_cross or target != "box" else box_coordinate,
        layer=(run.num_decoder_layers - 1 if layer is None else int(layer)) if is_cross else None,
        head=head if is_cross else None, feature_map=feature_map, heatmap=heatmap, map_seconds=map_seconds,
        curves=curves, curve_seconds=curve_seconds, model_runs=runs)
