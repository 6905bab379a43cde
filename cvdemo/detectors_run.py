"""One image through every detector of the app, each kept at its own stages, re-filtered without re-running.

`run_detector(name, model, image)` runs one model once (DETR, or a family of `cvdemo.models.loading.FAMILY_MODULES`:
Faster R-CNN, SSD, RetinaNet, YOLO, R-CNN) and keeps, in plain numpy (cheap to hold for a browser session):

- its **candidates**, what the family looks at before deciding (`Candidates.kind`):
    "queries"        DETR's object queries: one box each, score = its best real class's probability;
    "proposals"      Faster R-CNN's RPN proposals after the RPN's own NMS (the RoIs), score = objectness;
                     ``details["before_nms"]``: how many entered that NMS;
    "default_boxes"  SSD's default boxes of every feature map, score = 1 - P(background); ``group`` = the map;
    "anchors"        RetinaNet's anchors of every pyramid level, score = the best class's sigmoid; ``group`` = level;
    "grid"           YOLO's S x S x B cell boxes, score = confidence x the cell's best class probability;
                     ``group`` = the cell (row * S + col); ``details``: grid_size, cell_size (w, h) in image px,
                     boxes_per_cell;
    "regions"        R-CNN's selective-search regions, score = the classifier's best class probability;
                     ``details["classifier_passes"]``: crops the classifier ran on;
- its **raw detections** (`Detections`): for the CNN families every (box, class) pair above the family's own
  score floor, *before* NMS (``model.inspect(...)["detections_before_nms"]``); for DETR every query's best class;
- ``nms_scale_xy``: network pixels per image pixel on x and y, so that NMS is redone on the boxes the network saw
  (SSD resizes every image to a fixed square: IoU is not kept by such a resize);
- ``max_detections``: the family's cap after NMS; ``model_ms``; ``num_parameters``.

`final_detections(output, nms_iou, score_threshold)` then re-filters: scores above the threshold, per-class NMS at
``nms_iou`` (torchvision's `batched_nms`, as the families do), the cap. For a CNN family at its own NMS IoU it equals
``model.inspect(image, nms_iou)["detections"]`` above the threshold (tested); DETR has no NMS: its final
detections are its raw ones above the threshold, whatever ``nms_iou`` is, and `nms_would_remove` counts what an
NMS would take from it (the duplicates DETR's one-to-one matching should not make).

All boxes are pixel (x0, y0, x1, y1) of the image given; labels are class indices 0..C-1 of ``id2label``.
Nothing here imports gradio or returns text for people.
"""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch
from torch import nn
from torchvision.ops import batched_nms

from cvdemo.detector_comparison import FAMILIES  # config.json's model_type -> the family's short name
from cvdemo.models.detr import DETR
from cvdemo.models.image_processing import prepare_detr_inputs
from cvdemo.models.postprocess import post_process_object_detection

__all__ = ["FAMILIES", "RAW_SCORE_FLOOR", "Candidates", "DetectorOutput", "Detections", "family_of",
           "final_detections", "nms_would_remove", "run_detector", "run_detectors"]

RAW_SCORE_FLOOR = 0.05  # the CNN families' own score floor (torchvision's box_score_thresh): raw detections above it


@dataclass
class Detections:
    """boxes_xyxy float32 [N, 4] pixel; labels int64 [N] (0..C-1); scores float32 [N]; best first."""

    boxes_xyxy: np.ndarray
    labels: np.ndarray
    scores: np.ndarray

    def __len__(self) -> int:
        return len(self.scores)

    def take(self, index: np.ndarray) -> Detections:
        return Detections(self.boxes_xyxy[index], self.labels[index], self.scores[index])

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> Detections:
        """{"boxes", "labels", "scores"} tensors (the family contract) -> numpy, best first."""
        scores = d["scores"].detach().float().cpu().numpy()
        order = np.argsort(-scores, kind="stable")
        return cls(d["boxes"].detach().float().cpu().numpy().reshape(-1, 4)[order],
                   d["labels"].detach().cpu().numpy().astype(np.int64)[order], scores[order])


@dataclass
class Candidates:
    """What a family looks at before its detections (see the module docstring for each kind).

    boxes_xyxy float32 [K, 4] pixel; scores float32 [K] in [0, 1]; group int64 [K] (feature map, level or cell;
    0 where the family has none); details: the family's facts (counts, grid)."""

    kind: str
    boxes_xyxy: np.ndarray
    scores: np.ndarray
    group: np.ndarray
    details: dict[str, Any] = field(default_factory=dict)

    @property
    def total(self) -> int:
        return len(self.scores)

    def top(self, k: int) -> np.ndarray:
        """Indices of the ``k`` best-scoring candidates, best first."""
        return np.argsort(-self.scores, kind="stable")[:k]


@dataclass
class DetectorOutput:
    """One model's run on one image (see the module docstring)."""

    model_name: str
    family: str
    id2label: dict[int, str]
    image_size: tuple[int, int]  # (H, W)
    candidates: Candidates
    raw: Detections
    uses_nms: bool
    nms_iou: float | None  # the family's own NMS IoU (None for DETR)
    nms_scale_xy: tuple[float, float]
    max_detections: int
    model_ms: float
    num_parameters: int


def family_of(model: nn.Module) -> str:
    """"detr", "fasterrcnn", "ssd", "retinanet", "yolo" or "rcnn"; ValueError for another model (a ViT)."""
    if isinstance(model, DETR):
        return "detr"
    model_type = getattr(getattr(model, "config", None), "model_type", None)
    if model_type not in FAMILIES:
        raise ValueError(f"{type(model).__name__} (model_type {model_type!r}) is not a detector; expected one of "
                         f"{sorted(FAMILIES)}")
    return FAMILIES[model_type]


def _as_tensor(image: np.ndarray, device: torch.device) -> torch.Tensor:
    """RGB uint8 [H, W, 3] -> float [3, H, W] in [0, 1] (the families' input)."""
    return torch.from_numpy(np.ascontiguousarray(image)).to(device).permute(2, 0, 1).float().div_(255.0)


def _np(t: torch.Tensor) -> np.ndarray:
    return t.detach().float().cpu().numpy()


def _detr(model: DETR, image: np.ndarray, device: torch.device) -> tuple[Candidates, Detections, dict]:
    inputs = prepare_detr_inputs(image, model.config, device=device)
    out = model(inputs["pixel_values"], None)  # one image: no padding, no mask
    det = post_process_object_detection(out, inputs["original_sizes"])[0]
    raw = Detections.from_dict(det)
    order = det["query_index"].cpu().numpy()
    candidates = Candidates("queries", raw.boxes_xyxy.copy(), raw.scores.copy(), order.astype(np.int64),
                            {"num_queries": int(model.config.num_queries)})
    return candidates, raw, dict(uses_nms=False, nms_iou=None, scale=(1.0, 1.0), cap=int(model.config.num_queries))


def _fasterrcnn(model: nn.Module, r: dict, size: tuple[int, int]) -> tuple[Candidates, dict]:
    proposals = r["proposals"]
    candidates = Candidates("proposals", _np(proposals["boxes"]), _np(proposals["objectness"]),
                            np.zeros(len(proposals["objectness"]), np.int64),
                            {"before_nms": int(len(r["proposals_before_nms"]["objectness"])),
                             "rpn_nms_iou": float(model.config.rpn_nms_thresh)})
    (h, w), (rh, rw) = size, r["resized_size"]
    return candidates, dict(uses_nms=True, nms_iou=float(model.config.box_nms_thresh), scale=(rw / w, rh / h),
                            cap=int(model.config.box_detections_per_img))


def _per_map(kind: str, boxes: Sequence[torch.Tensor], scores: torch.Tensor, sizes: Sequence) -> Candidates:
    group = np.concatenate([np.full(len(b), k, np.int64) for k, b in enumerate(boxes)])
    maps = [(int(h), int(w), len(b) // max(1, int(h) * int(w))) for (h, w), b in zip(sizes, boxes)]
    return Candidates(kind, _np(torch.cat(list(boxes))), _np(scores), group, {"maps": maps})


def _ssd(model: nn.Module, r: dict, size: tuple[int, int]) -> tuple[Candidates, dict]:
    candidates = _per_map("default_boxes", r["default_boxes"], 1.0 - r["class_probs"][:, 0], r["feature_map_sizes"])
    (h, w), (nh, nw) = size, model.config.size
    return candidates, dict(uses_nms=True, nms_iou=float(model.config.nms_thresh), scale=(nw / w, nh / h),
                            cap=int(model.config.detections_per_img))


def _retinanet(model: nn.Module, r: dict, size: tuple[int, int]) -> tuple[Candidates, dict]:
    candidates = _per_map("anchors", r["anchors"], r["class_probs"].max(-1).values, r["feature_map_sizes"])
    (h, w), (rh, rw) = size, r["resized_size"]
    return candidates, dict(uses_nms=True, nms_iou=float(model.config.nms_thresh), scale=(rw / w, rh / h),
                            cap=int(model.config.detections_per_img))


def _yolo(model: nn.Module, r: dict, size: tuple[int, int]) -> tuple[Candidates, dict]:
    s, b = int(r["grid_size"]), int(r["cell_boxes"].shape[2])
    scores = r["cell_confidence"] * r["cell_class_probs"].max(-1).values[..., None]  # (S, S, B)
    candidates = Candidates("grid", _np(r["cell_boxes"].reshape(-1, 4)), _np(scores.reshape(-1)),
                            np.repeat(np.arange(s * s, dtype=np.int64), b),
                            {"grid_size": s, "boxes_per_cell": b,
                             "cell_size": tuple(float(v) for v in r["cell_size"])})
    # YOLO's letterbox keeps the aspect ratio: IoU is the same in image and network pixels
    return candidates, dict(uses_nms=True, nms_iou=float(model.config.nms_iou), scale=(1.0, 1.0),
                            cap=int(model.config.max_detections))


def _rcnn(model: nn.Module, r: dict, size: tuple[int, int]) -> tuple[Candidates, dict]:
    probs = r["proposal_class_probs"]
    scores = probs.max(-1).values if len(probs) else torch.zeros(0)
    candidates = Candidates("regions", _np(r["proposals"]).reshape(-1, 4), _np(scores),
                            np.zeros(len(scores), np.int64),
                            {"classifier_passes": int(r["classifier_passes"]),
                             "timings_ms": {k: float(v) for k, v in r.get("timings_ms", {}).items()}})
    return candidates, dict(uses_nms=True, nms_iou=float(model.config.nms_iou), scale=(1.0, 1.0),
                            cap=int(model.config.max_detections))


_FAMILY_STAGES = {"fasterrcnn": _fasterrcnn, "ssd": _ssd, "retinanet": _retinanet, "yolo": _yolo, "rcnn": _rcnn}


def run_detector(name: str, model: nn.Module, image: np.ndarray) -> DetectorOutput:
    """Run ``model`` (eval mode) once on an RGB uint8 image [H, W, 3] and keep its stages (module docstring)."""
    family = family_of(model)
    device = next(model.parameters()).device
    size = (int(image.shape[0]), int(image.shape[1]))
    with torch.inference_mode():
        start = time.perf_counter()
        if family == "detr":
            candidates, raw, facts = _detr(model, image, device)
        else:
            kwargs = {"nms_iou": 0.5, "score_threshold": RAW_SCORE_FLOOR}
            result = model.inspect([_as_tensor(image, device)], **kwargs)[0]
            candidates, facts = _FAMILY_STAGES[family](model, result, size)
            raw = Detections.from_dict(result["detections_before_nms"])
        if device.type == "cuda":
            torch.cuda.synchronize(device)
        model_ms = (time.perf_counter() - start) * 1000
    return DetectorOutput(model_name=name, family=family, id2label=dict(model.config.id2label), image_size=size,
                          candidates=candidates, raw=raw, uses_nms=facts["uses_nms"], nms_iou=facts["nms_iou"],
                          nms_scale_xy=tuple(float(v) for v in facts["scale"]), max_detections=facts["cap"],
                          model_ms=model_ms, num_parameters=sum(p.numel() for p in model.parameters()))


def run_detectors(models: Mapping[str, nn.Module], image: np.ndarray) -> list[DetectorOutput]:
    """`run_detector` for every (name, model), in order."""
    return [run_detector(name, model, image) for name, model in models.items()]


def _nms_keep(d: Detections, nms_iou: float, scale_xy: tuple[float, float]) -> np.ndarray:
    """Indices (best first) that per-class NMS at ``nms_iou`` keeps, on the boxes in network pixels."""
    if not len(d):
        return np.zeros(0, np.int64)
    sx, sy = scale_xy
    boxes = torch.from_numpy(d.boxes_xyxy * np.array([sx, sy, sx, sy], np.float32))
    keep = batched_nms(boxes, torch.from_numpy(d.scores), torch.from_numpy(d.labels), float(nms_iou))
    return keep.numpy()


def final_detections(output: DetectorOutput, nms_iou: float, score_threshold: float) -> Detections:
    """The detections above ``score_threshold`` after per-class NMS at ``nms_iou`` and the family's cap; for
    DETR (no NMS) the raw ones above the threshold."""
    above = output.raw.take(np.flatnonzero(output.raw.scores > score_threshold))
    if not output.uses_nms:
        return above
    return above.take(_nms_keep(above, nms_iou, output.nms_scale_xy)[:output.max_detections])


def nms_would_remove(output: DetectorOutput, nms_iou: float, score_threshold: float) -> int:
    """How many of the detections above ``score_threshold`` a per-class NMS at ``nms_iou`` would remove: for a
    CNN family what its NMS removes; for DETR the overlapping same-class boxes it made despite one-to-one
    matching."""
    above = output.raw.take(np.flatnonzero(output.raw.scores > score_threshold))
    return len(above) - len(_nms_keep(above, nms_iou, output.nms_scale_xy))
