"""Which explanation to trust on a model: every method's pointing game and deletion/insertion AUC over a data set.

One code path for the benchmark (`benchmarks/bench_explain_faithfulness.py`, >= 500 fresh images), the test of
the shipped models and the figures the app's help text quotes.

Methods (each a map over the model's token grid, larger = more relevant):
    ViT   "raw attention"     last block's attention, mean over heads, read where the classifier reads
          "rollout"           attention rollout over all blocks (Abnar & Zuidema 2020), head mean, no discard
          "gradient rollout"  `cvdemo.explain.gradient_rollout`
          "relevance"         `cvdemo.explain.vit_relevance` (Chefer 2021)
          "random"            uniform noise from a generator seeded by the image's index: the baseline
    DETR  "cross-attention"   the detection's query, last decoder layer, mean over heads
          "relevance"         `cvdemo.explain.detr_relevance` (Chefer ICCV 2021), target the class logit
          "random"            as for the ViT
Per explained object: pointing-game hit (the map's maximum inside the right object's ground-truth box,
`faithfulness.pointing_game_hit`), deletion AUC and insertion AUC (`faithfulness`, blurred baseline). The
explained target is the model's own prediction: the ViT's predicted class; each DETR detection above
`score_threshold` that matches a ground-truth object of its class at IoU >= 0.5 (its box is the "right box";
detections matching none are counted, not explained).

Summaries: mean and a 95 % interval (normal approximation, 1.96 standard errors; Wilson for the pointing rate),
and, per method, the paired difference of its deletion AUC minus the random map's on the same objects.
"""

from __future__ import annotations

import json
import logging
import math
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch
from torchvision.ops import box_convert, box_iou

from cvdemo.attention import attention_rollout, query_attention_map
from cvdemo.explain.detr import detr_relevance
from cvdemo.explain.faithfulness import (
    deletion_curve,
    detr_detection_score,
    insertion_curve,
    pointing_game_hit,
    vit_class_score,
)
from cvdemo.explain.vit import gradient_rollout, read_patch_map, vit_relevance

logger = logging.getLogger(__name__)

VIT_METHODS = ("raw attention", "rollout", "gradient rollout", "relevance", "random")
DETR_METHODS = ("cross-attention", "relevance", "random")


@dataclass
class MethodRecord:
    """Per explained object, in order: pointing-game hit, deletion AUC, insertion AUC."""

    hits: list[bool] = field(default_factory=list)
    deletion: list[float] = field(default_factory=list)
    insertion: list[float] = field(default_factory=list)

    def add(self, hit: bool, deletion: float, insertion: float) -> None:
        self.hits.append(bool(hit))
        self.deletion.append(float(deletion))
        self.insertion.append(float(insertion))


def _mean_interval(values: list[float]) -> dict:
    x = np.asarray(values, dtype=np.float64)
    if x.size == 0:
        return {"mean": None, "low": None, "high": None}
    half = 1.96 * x.std(ddof=1) / math.sqrt(x.size) if x.size > 1 else 0.0
    return {"mean": float(x.mean()), "low": float(x.mean() - half), "high": float(x.mean() + half)}


def _wilson(hits: list[bool]) -> dict:
    n = len(hits)
    if n == 0:
        return {"mean": None, "low": None, "high": None}
    p, z = sum(hits) / n, 1.96
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / (1 + z * z / n)
    return {"mean": p, "low": centre - half, "high": centre + half}


def summarize(records: dict[str, MethodRecord]) -> dict[str, dict]:
    """{method: {"objects", "pointing", "deletion_auc", "insertion_auc", "deletion_minus_random"}} (intervals)."""
    random = records.get("random")
    out = {}
    for name, rec in records.items():
        row = {"objects": len(rec.hits), "pointing": _wilson(rec.hits), "deletion_auc": _mean_interval(rec.deletion),
               "insertion_auc": _mean_interval(rec.insertion)}
        if random is not None and name != "random":
            row["deletion_minus_random"] = _mean_interval(
                [d - r for d, r in zip(rec.deletion, random.deletion)])
        out[name] = row
    return out


def _random_map(grid: tuple[int, int], seed: int) -> torch.Tensor:
    return torch.rand(grid, generator=torch.Generator().manual_seed(seed))


def _check_methods(methods: tuple[str, ...], known: tuple[str, ...]) -> tuple[str, ...]:
    unknown = [m for m in methods if m not in known]
    if unknown or not methods:
        raise ValueError(f"methods must be some of {known}, got {list(methods)}")
    return tuple(methods)


def vit_method_maps(model: torch.nn.Module, pixel_values: torch.Tensor, seed: int = 0,
                    methods: tuple[str, ...] = VIT_METHODS) -> tuple[dict, int]:
    """The ViT methods' maps for one image: pixel_values [1, 3, H, W] -> ({method: [gh, gw]}, predicted class)."""
    cfg = model.config
    P, pool = cfg.num_prefix_tokens, cfg.global_pool
    with torch.no_grad():
        out = model(pixel_values, return_attention=True)
    target = int(out["logits"][0].argmax())
    grid = tuple(out["grid_size"])
    attn = out["attentions"]
    make = {
        "raw attention": lambda: read_patch_map(attn[-1].mean(dim=1), grid, P, pool)[0],
        "rollout": lambda: read_patch_map(attention_rollout(attn, num_prefix_tokens=P), grid, P, pool)[0],
        "gradient rollout": lambda: gradient_rollout(model, pixel_values, target)[0],
        "relevance": lambda: vit_relevance(model, pixel_values, target)[0],
        "random": lambda: _random_map(grid, seed),
    }
    return {m: make[m]() for m in _check_methods(methods, VIT_METHODS)}, target


def evaluate_vit(model: torch.nn.Module, samples: Iterable[tuple[torch.Tensor, np.ndarray]], steps: int = 16,
                 baseline: str = "blur", methods: tuple[str, ...] = VIT_METHODS) -> dict[str, MethodRecord]:
    """samples: (pixel_values [1, 3, H, W] normalised, boxes_xyxy [K, 4] pixels of the image's object(s) on that
    input) pairs. Returns {method: MethodRecord} (in `methods` order), one entry per image."""
    model.eval()
    records = {m: MethodRecord() for m in _check_methods(methods, VIT_METHODS)}
    for index, (x, boxes) in enumerate(samples):
        maps, target = vit_method_maps(model, x, seed=index, methods=methods)
        score = vit_class_score(model, target)
        size = tuple(x.shape[-2:])
        for name, heat in maps.items():
            hit = pointing_game_hit(heat, size, boxes)
            d = deletion_curve(score, x[0], heat, steps=steps, baseline=baseline, batch_size=steps + 1).auc
            i = insertion_curve(score, x[0], heat, steps=steps, baseline=baseline, batch_size=steps + 1).auc
            records[name].add(hit, d, i)
    return records


def matched_detections(pred_logits: torch.Tensor, pred_boxes: torch.Tensor, gt_boxes_xyxy: torch.Tensor,
                       gt_labels: torch.Tensor, image_size: tuple[int, int],
                       score_threshold: float = 0.5) -> tuple[list[tuple[int, int, int]], int]:
    """One image's DETR output [Q, C+1], [Q, 4] (normalised cxcywh) against ground truth [K, 4] pixel xyxy, [K].

    Returns ([(query, class, ground-truth index)] for detections above `score_threshold` whose best ground-truth
    box of the same class has IoU >= 0.5, most confident first), and the number of detections above the threshold
    that matched none.
    """
    probs = pred_logits.float().softmax(-1)[:, :-1]
    scores, labels = probs.max(-1)
    H, W = image_size
    scale = torch.tensor([W, H, W, H], dtype=torch.float32)
    boxes = box_convert(pred_boxes.float(), "cxcywh", "xyxy") * scale
    keep = torch.nonzero(scores > score_threshold).flatten()
    keep = keep[scores[keep].argsort(descending=True)]
    matched, unmatched = [], 0
    iou = box_iou(boxes[keep], gt_boxes_xyxy.float()) if len(gt_labels) else torch.zeros(len(keep), 0)
    for row, q in enumerate(keep.tolist()):
        same = gt_labels == labels[q]
        candidates = torch.where(same, iou[row], torch.full_like(iou[row], -1.0)) if len(gt_labels) else iou[row]
        if candidates.numel() and float(candidates.max()) >= 0.5:
            matched.append((q, int(labels[q]), int(candidates.argmax())))
        else:
            unmatched += 1
    return matched, unmatched


def detr_method_maps(model: torch.nn.Module, pixel_values: torch.Tensor, query: int, target_class: int,
                     seed: int = 0, methods: tuple[str, ...] = DETR_METHODS, outputs: dict | None = None) -> dict:
    """The DETR methods' maps for one detection: {method: [h, w]}. ``outputs``: the model's output on
    ``pixel_values`` with ``return_attention=True`` when the caller has it (one forward serves every detection
    of an image); else it is computed here."""
    methods = _check_methods(methods, DETR_METHODS)
    if outputs is None and any(m != "relevance" for m in methods):
        with torch.no_grad():
            outputs = model(pixel_values, return_attention=True)
    maps = {}
    for m in methods:
        if m == "relevance":
            maps[m] = detr_relevance(model, pixel_values, query, target_class=target_class)["image"][0]
        elif m == "cross-attention":
            grid = tuple(outputs["feature_size"])
            maps[m] = query_attention_map(outputs["cross_attentions"][-1], grid, query)[0]
        else:
            maps[m] = _random_map(tuple(outputs["feature_size"]), seed)
    return maps


def evaluate_detr(model: torch.nn.Module, samples: Iterable[tuple[torch.Tensor, torch.Tensor, torch.Tensor]],
                  score_threshold: float = 0.5, steps: int = 16, baseline: str = "blur",
                  methods: tuple[str, ...] = DETR_METHODS) -> tuple[dict, dict]:
    """samples: (pixel_values [1, 3, H, W] normalised, unpadded; gt boxes [K, 4] pixel xyxy on that input; gt
    labels [K]). Returns ({method: MethodRecord}, counts {"images", "detections", "explained", "unmatched"})."""
    model.eval()
    records = {m: MethodRecord() for m in _check_methods(methods, DETR_METHODS)}
    counts = {"images": 0, "detections": 0, "explained": 0, "unmatched": 0}
    for index, (x, gt_boxes, gt_labels) in enumerate(samples):
        size = tuple(x.shape[-2:])
        with torch.no_grad():
            out = model(x, return_attention=True)  # one forward for the detections, their cross-attention, grid
        matched, unmatched = matched_detections(out["pred_logits"][0], out["pred_boxes"][0], gt_boxes, gt_labels,
                                                size, score_threshold)
        counts["images"] += 1
        counts["detections"] += len(matched) + unmatched
        counts["unmatched"] += unmatched
        for k, (q, cls, gt) in enumerate(matched):
            maps = detr_method_maps(model, x, q, cls, seed=index * 1000 + k, methods=methods, outputs=out)
            score = detr_detection_score(model, out["pred_boxes"][0, q], cls)
            for name, heat in maps.items():
                hit = pointing_game_hit(heat, size, gt_boxes[gt:gt + 1])
                d = deletion_curve(score, x[0], heat, steps=steps, baseline=baseline, batch_size=steps + 1).auc
                i = insertion_curve(score, x[0], heat, steps=steps, baseline=baseline, batch_size=steps + 1).auc
                records[name].add(hit, d, i)
            counts["explained"] += 1
    return records, counts


def read_faithfulness_table(path: str | Path) -> dict[str, dict]:
    """The shipped table of `benchmarks/bench_explain_faithfulness.py` (`examples/explain-faithfulness.json`):
    {model name: {"images", "objects", "seed", "steps", "baseline", "machine", "methods": {method: summary}}}.
    A missing file gives {}; a file that is not such a table raises ValueError naming what is wrong."""
    path = Path(path)
    if not path.is_file():
        return {}
    table = json.loads(path.read_text(encoding="utf-8"))
    if not isinstance(table, dict):
        raise ValueError(f"{path}: expected an object of models, got {type(table).__name__}")
    for name, entry in table.items():
        methods = entry.get("methods") if isinstance(entry, dict) else None
        if not isinstance(methods, dict) or "random" not in methods:
            raise ValueError(f"{path}: model {name!r} has no 'methods' with a 'random' baseline")
        for method, row in methods.items():
            missing = [k for k in ("pointing", "deletion_auc", "insertion_auc") if k not in row]
            if missing:
                raise ValueError(f"{path}: {name} / {method} lacks {missing}")
    return table
