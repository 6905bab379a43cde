"""Explanations of one ViT run (`cvdemo.vit_run.ClassificationRun`) for a chosen class, and how far each can be
trusted.

`explain_vit(model, run, method, target_class=None, ...)` computes one map over the patch grid with one of
`METHODS` and, unless asked not to, its faithfulness curves (`faithfulness_curves`):

    "attention"         one layer's raw attention (one head, or the mean of heads), from the kept run
                        (`cvdemo.vit_run.layer_attention_heatmap`): class-agnostic, no model run
    "rollout"           attention rollout (Abnar & Zuidema 2020) from the kept run (`rollout_heatmap`):
                        class-agnostic, no model run
    "gradient_rollout"  class-specific rollout of the gradient-weighted attention (jacobgil/vit-explain;
                        `cvdemo.explain.gradient_rollout`): one forward and one backward
    "relevance"         Chefer et al. 2021, gradient x attention through every layer (`cvdemo.explain.vit_relevance`):
                        one forward and one backward

The gradient methods re-run the model on the run's stored input (`run.model_input`, uint8, through the same
`vit_transform` as `run_vit`), with gradients. The curves remove (deletion) or add (insertion) the map's most
relevant patches first and score the target class's probability after each step
(`cvdemo.explain.faithfulness`); a random order of patches is the baseline. A map earns trust when its
deletion AUC is below the random order's (`ViTExplanation.beats_random`). The random order's curves do not
depend on the map: they are kept per model, input and class (`RandomCurveCache`) and shared by every method.

`attention_distance(run) -> [layers, heads]` is the mean attention distance in pixels (ViT paper, Figure 7).
No gradio and no text for people here: the tab words the method names, the target and the verdicts.
"""

from __future__ import annotations

import hashlib
import logging
import time
from dataclasses import dataclass, field

import numpy as np
import torch

from cvdemo.explain import faithfulness, gradient_rollout, mean_attention_distance, vit_relevance
from cvdemo.explain.curve_cache import RandomCurveCache
from cvdemo.explain.in_flight import EXPLANATIONS
from cvdemo.models.vit import ViT
from cvdemo.models.vit_transforms import vit_transform
from cvdemo.vit_run import ClassificationRun, display_heatmap, layer_attention_heatmap, rollout_heatmap

logger = logging.getLogger(__name__)

__all__ = ["AUC_MARGIN", "CLASS_SPECIFIC", "CURVE_NAMES", "INCONCLUSIVE_DROP", "METHODS", "RANDOM_CURVES",
           "RANDOM_CURVE_NAMES", "RANDOM_SEEDS", "RUNNING", "RandomCurveCache", "ViTExplanation", "attention_distance",
           "curve_model_runs", "estimated_curve_seconds", "explain_vit", "faithfulness_curves", "grid_map",
           "measure_faithfulness", "model_pixels"]

METHODS = ("attention", "rollout", "gradient_rollout", "relevance")
CLASS_SPECIFIC = frozenset({"gradient_rollout", "relevance"})  # the map changes with the target class
CURVE_NAMES = ("deletion", "insertion", "random_deletion", "random_insertion")
RANDOM_CURVE_NAMES = ("random_deletion", "random_insertion")  # the map's curves' baselines: the same for every map
RANDOM_SEEDS = (0, 1, 2)  # random orders averaged for the baseline curves
BASELINE = "blur"  # what a removed patch becomes (and what the insertion curve starts from)
AUC_MARGIN = 0.01  # a deletion AUC must be this much below the random order's to count as lower (not a tie)
INCONCLUSIVE_DROP = 0.05  # a score that never falls this much under deletion tells the orders nothing apart


@dataclass
class ViTExplanation:
    """One map of one run, for one class, and its faithfulness.

    method        one of `METHODS`
    target_class  the class the map (gradient methods) and the curves' score are for
    predicted     whether target_class is the run's most likely class
    grid_map      float32 [gh, gw], larger = more relevant (any scale)
    heatmap       float32 [H', W'] in [0, 1] at `run.display_size` (`cvdemo.vit_run.display_heatmap`)
    curves        {name in CURVE_NAMES: `cvdemo.explain.faithfulness.PerturbationCurve`}; empty when not measured
    map_seconds   time to compute the map; curve_seconds: time of the curves (0 when not measured)
    curve_runs    model runs (images scored) that the curves took or would take (fewer when the random curves
                  were kept from an earlier map of the same class: `RandomCurveCache`)
    estimated_seconds  what the curves were estimated to take (`estimated_curve_seconds`)
    """

    method: str
    target_class: int
    predicted: bool
    grid_map: np.ndarray
    heatmap: np.ndarray
    curves: dict = field(default_factory=dict)
    map_seconds: float = 0.0
    curve_seconds: float = 0.0
    curve_runs: int = 0
    estimated_seconds: float = 0.0

    @property
    def measured(self) -> bool:
        return bool(self.curves)

    def auc(self, name: str) -> float | None:
        """The AUC of curve ``name`` (`CURVE_NAMES`), None when not measured."""
        curve = self.curves.get(name)
        return None if curve is None else float(curve.auc)

    @property
    def beats_random(self) -> bool | None:
        """True when the map's deletion AUC is below the random order's by more than `AUC_MARGIN` (removing its
        top patches first hurts the class's score sooner than removing patches at random); None when not
        measured."""
        ours, rand = self.auc("deletion"), self.auc("random_deletion")
        return None if ours is None or rand is None else ours < rand - AUC_MARGIN

    @property
    def verdict(self) -> str | None:
        """What the deletion test says of this map (None when not measured):
        "inconclusive"  neither the map's order nor the random one ever lowers the score by `INCONCLUSIVE_DROP`
                        (blurring patches barely changes it): the test cannot tell the orders apart
        "beats_random"  the deletion AUC is below the random order's (`beats_random`)
        "not_better"    it is not: by this test the map is no better than chance at showing what the score uses
        """
        if not self.measured:
            return None
        deletion, rand = self.curves["deletion"], self.curves["random_deletion"]
        lowest = min(float(np.min(deletion.scores)), float(np.min(rand.scores)))
        if float(deletion.scores[0]) - lowest < INCONCLUSIVE_DROP:
            return "inconclusive"
        return "beats_random" if self.beats_random else "not_better"


def model_pixels(model: ViT, run: ClassificationRun) -> torch.Tensor:
    """The run's input as the model saw it: `run.model_input` (uint8 [S, S', 3]) through `vit_transform` at that
    size -> normalised [1, 3, S, S'] on the model's device."""
    device = next(model.parameters()).device
    return vit_transform(run.model_input, model.config, size=run.input_size).to(device)


def _target(run: ClassificationRun, target_class: int | None) -> int:
    num_classes = int(run.probs.shape[0])
    if target_class is None:
        return int(np.argmax(run.probs))
    target = int(target_class)
    if not 0 <= target < num_classes:
        raise ValueError(f"target_class must be in [0, {num_classes}), got {target_class}")
    return target


def grid_map(model: ViT, run: ClassificationRun, method: str, target_class: int, *, layer: int | None = None,
             head: int | None = None, head_fusion: str = "mean", discard_ratio: float = 0.0,
             start_layer: int = 0) -> np.ndarray:
    """The map of ``method`` over the patch grid: float32 [gh, gw]. layer (0-based, default the last) and head
    (0-based, None = mean of heads) for "attention"; head_fusion, discard_ratio, start_layer for "rollout";
    discard_ratio for "gradient_rollout"; target_class for the gradient methods."""
    if method == "attention":
        return layer_attention_heatmap(run, run.num_layers - 1 if layer is None else layer, head).astype(np.float32)
    if method == "rollout":
        return rollout_heatmap(run, head_fusion, discard_ratio, start_layer).astype(np.float32)
    if method not in CLASS_SPECIFIC:
        raise ValueError(f"method must be one of {METHODS}, got {method!r}")
    pixels = model_pixels(model, run)
    if method == "relevance":
        out = vit_relevance(model, pixels, target_class)
    else:
        out = gradient_rollout(model, pixels, target_class, discard_ratio=discard_ratio)
    return out[0].detach().float().cpu().numpy()


RUNNING = EXPLANATIONS  # the explanations in flight, waited for at exit (`cvdemo.explain.in_flight`)


def _random_key(model: torch.nn.Module, run: ClassificationRun, target_class: int, steps: int,
                seeds: tuple[int, ...]) -> tuple:
    """What the random curves depend on: the model, the input (a digest of its bytes), class, steps and seeds."""
    digest = hashlib.blake2b(np.ascontiguousarray(run.model_input).tobytes(), digest_size=16).hexdigest()
    return id(model), digest, run.model_input.shape, int(target_class), int(steps), tuple(seeds)


RANDOM_CURVES = RandomCurveCache()  # the app's: every session's runs share it (entries are tiny: 4 x 17 floats)


def curve_model_runs(steps: int = 16, seeds: tuple[int, ...] = RANDOM_SEEDS, with_random: bool = True) -> int:
    """Images scored by `faithfulness_curves`: (steps + 1) for the deletion and for the insertion curve, and
    (with_random) as many for each random order of each."""
    return 2 * (steps + 1) * (1 + (len(seeds) if with_random else 0))


def estimated_curve_seconds(run: ClassificationRun, steps: int = 16, seeds: tuple[int, ...] = RANDOM_SEEDS,
                            with_random: bool = True) -> float:
    """The curves' cost estimated from the run's own forward time (`run.model_ms`, one image)."""
    return curve_model_runs(steps, seeds, with_random) * run.model_ms / 1000.0


def faithfulness_curves(model: ViT, run: ClassificationRun, grid: np.ndarray, target_class: int, *,
                        steps: int = 16, seeds: tuple[int, ...] = RANDOM_SEEDS, random: dict | None = None) -> dict:
    """{"deletion", "insertion", "random_deletion", "random_insertion"} -> `PerturbationCurve`: the target class's
    softmax probability as the map's patches (grid [gh, gw], most relevant first) or random patches are removed
    from / added to the run's input (blurred baseline), over steps + 1 points. ``random``: the random curves
    already measured for this model, input, class, steps and seeds (`RandomCurveCache`), reused as they are."""
    score = RUNNING.stoppable(faithfulness.vit_class_score(model, int(target_class)))
    image = model_pixels(model, run)[0]  # (3, S, S')
    heat = torch.as_tensor(np.asarray(grid, dtype=np.float32))
    curves = {"deletion": faithfulness.deletion_curve(score, image, heat, steps=steps, baseline=BASELINE),
              "insertion": faithfulness.insertion_curve(score, image, heat, steps=steps, baseline=BASELINE)}
    if random is None:
        random = {name: faithfulness.random_curve(score, image, tuple(grid.shape), kind=name.removeprefix("random_"),
                                                  steps=steps, baseline=BASELINE, seeds=seeds)
                  for name in RANDOM_CURVE_NAMES}
    return {**curves, **{name: random[name] for name in RANDOM_CURVE_NAMES}}


def explain_vit(model: ViT, run: ClassificationRun, method: str, target_class: int | None = None, *,
                layer: int | None = None, head: int | None = None, head_fusion: str = "mean",
                discard_ratio: float = 0.0, start_layer: int = 0, steps: int = 16, measure: bool | None = True,
                budget_seconds: float = float("inf"), seeds: tuple[int, ...] = RANDOM_SEEDS,
                cache: RandomCurveCache | None = RANDOM_CURVES) -> ViTExplanation:
    """The map of ``method`` (`METHODS`) for ``target_class`` (None: the run's predicted class) and its
    faithfulness curves (`faithfulness_curves`): measure True (always), False (never: the explanation says what
    they would cost) or None (when the estimate, `estimated_curve_seconds`, is at most ``budget_seconds``).
    The random curves come from ``cache`` when it has them (and go into it). See `grid_map` for the other
    settings. Must be called outside `torch.inference_mode()` for the gradient methods. Counted in `RUNNING`
    (the interpreter waits for it at exit)."""
    with RUNNING:
        if method not in METHODS:
            raise ValueError(f"method must be one of {METHODS}, got {method!r}")
        target = _target(run, target_class)
        start = time.perf_counter()
        grid = grid_map(model, run, method, target, layer=layer, head=head, head_fusion=head_fusion,
                        discard_ratio=discard_ratio, start_layer=start_layer)
        map_seconds = time.perf_counter() - start
        key = None if cache is None else _random_key(model, run, target, steps, seeds)
        random = None if cache is None else cache.get(model, key)
        predicted = target == int(np.argmax(run.probs))
        explanation = ViTExplanation(method=method, target_class=target, predicted=predicted, grid_map=grid,
                                     heatmap=display_heatmap(run, grid), map_seconds=map_seconds,
                                     curve_runs=curve_model_runs(steps, seeds, random is None),
                                     estimated_seconds=estimated_curve_seconds(run, steps, seeds, random is None))
        if measure or (measure is None and explanation.estimated_seconds <= budget_seconds):
            measure_faithfulness(model, run, explanation, steps=steps, seeds=seeds, random=random)
            if cache is not None and random is None:
                cache.put(model, key, {name: explanation.curves[name] for name in RANDOM_CURVE_NAMES})
        return explanation


def measure_faithfulness(model: ViT, run: ClassificationRun, explanation: ViTExplanation, *, steps: int = 16,
                         seeds: tuple[int, ...] = RANDOM_SEEDS, random: dict | None = None) -> ViTExplanation:
    """Fill ``explanation.curves`` (and its timing and model runs) for its map and target; returns it. ``random``:
    the random curves already measured (`faithfulness_curves`)."""
    start = time.perf_counter()
    explanation.curves = faithfulness_curves(model, run, explanation.grid_map, explanation.target_class,
                                             steps=steps, seeds=seeds, random=random)
    explanation.curve_seconds = time.perf_counter() - start
    explanation.curve_runs = curve_model_runs(steps, seeds, random is None)
    logger.debug("%s curves for class %d: %.2f s (%d model runs)", explanation.method, explanation.target_class,
                 explanation.curve_seconds, explanation.curve_runs)
    return explanation


def attention_distance(run: ClassificationRun) -> np.ndarray:
    """Mean attention distance of every layer and head of the run, in pixels of the model's input:
    float32 [layers, heads] (`cvdemo.explain.mean_attention_distance`)."""
    layers = [torch.from_numpy(a)[None] for a in run.attentions]  # depth x (1, heads, T, T)
    return mean_attention_distance(layers, run.grid_size, run.patch_size, run.num_prefix_tokens).numpy()
