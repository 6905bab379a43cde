"""One DETR run on one image, kept as numpy, and the attention maps derived from it without re-running the model.

`run_detr(model, image)` runs the model once with attention and keeps, in plain numpy (cheap to hold in a
`cvdemo.session_store.RunStore` for a browser session): the per-query class probabilities, the post-processed
detections and the attention maps. Moving the score threshold, picking another detection, layer or head, or
clicking a point then only reads these arrays: `cross_attention_heatmap` and `encoder_attention_heatmap` hand back
numpy maps at the display size (`DetectionRun.display_size`). No text for people here: class names are the
model's `id2label` (the UI words a class it does not name); nothing here imports gradio.

Contract of `DetectionRun` (Q queries, C classes + no-object, L decoder / E encoder layers, (h, w) the
feature map, HW = h * w, image [H, W, 3]):
    probs              float32 [Q, C+1]   softmax over classes per query; the last column is "no object"
    scores, labels     [Q]               best real class per query (sorted by descending score), as
    boxes_xyxy         float32 [Q, 4]    `post_process_object_detection`: pixel (x0, y0, x1, y1) on `image`
    query_index        int64 [Q]         which query produced each row
    cross_attentions   float16 [L, heads, Q, HW]
    encoder_attentions float16 [E, heads or 1, HW, HW]  (the mean over heads only, when per-head maps of a
                                         large feature map would not fit `ENCODER_BUDGET` elements)
    input_size         (h, w) of the image as the model saw it (resized, unpadded)
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np
import torch

from cvdemo.attention import encoder_attention_at, query_attention_map, upsample_heatmap
from cvdemo.models.detr import DETR
from cvdemo.models.image_processing import keeps_aspect_ratio, prepare_detr_inputs
from cvdemo.models.postprocess import post_process_object_detection
from cvdemo.visualize import display_scale

__all__ = ["ENCODER_BUDGET", "DetectionRun", "cross_attention_heatmap", "encoder_attention_heatmap", "run_detr"]

ENCODER_BUDGET = 16_000_000  # float16 elements (32 MB) of encoder attention kept per run at most


@dataclass
class DetectionRun:
    """A DETR run on one image (see the module docstring for the arrays)."""

    model_name: str
    image: np.ndarray
    id2label: dict[int, str]
    probs: np.ndarray
    scores: np.ndarray
    labels: np.ndarray
    boxes_xyxy: np.ndarray
    query_index: np.ndarray
    feature_size: tuple[int, int]
    input_size: tuple[int, int]
    cross_attentions: np.ndarray
    encoder_attentions: np.ndarray
    model_ms: float
    device: str = "cpu"  # where the model ran ("cpu", "cuda")

    @property
    def num_decoder_layers(self) -> int:
        return int(self.cross_attentions.shape[0])

    @property
    def num_encoder_layers(self) -> int:
        return int(self.encoder_attentions.shape[0])

    @property
    def num_heads(self) -> int:
        return int(self.cross_attentions.shape[1])

    @property
    def num_classes(self) -> int:
        """Real classes (the "no object" column of `probs` not counted)."""
        return int(self.probs.shape[1]) - 1

    @property
    def encoder_per_head(self) -> bool:
        return self.encoder_attentions.shape[1] > 1

    @property
    def display_scale(self) -> float:
        """Factor the image is drawn at (`cvdemo.visualize.display_scale`: small images enlarged)."""
        return display_scale(*self.image.shape[:2])

    @property
    def display_size(self) -> tuple[int, int]:
        """(H, W) at which the image and its attention overlays are drawn."""
        h, w = self.image.shape[:2]
        s = self.display_scale
        return (round(h * s), round(w * s)) if s > 1 else (h, w)

    @property
    def aspect_ratio_kept(self) -> bool:
        """False when the model's input has another shape than the image (a side clamped to 1 pixel)."""
        return keeps_aspect_ratio(self.image.shape[:2], self.input_size)

    def class_name(self, label: int) -> str | None:
        """The model's name of class ``label``, or None when it names none (the UI then says "class k")."""
        return self.id2label.get(int(label))

    def kept(self, threshold: float) -> np.ndarray:
        """Row indices (into scores/labels/boxes) of the detections with score > threshold, best first."""
        return np.flatnonzero(self.scores > threshold)


def run_detr(model: DETR, image: np.ndarray, model_name: str = "") -> DetectionRun:
    """Run `model` on an RGB uint8 image [H, W, 3] (any aspect ratio) with attention and keep what the views
    need (see the module docstring)."""
    device = next(model.parameters()).device
    inputs = prepare_detr_inputs(image, model.config, device=device)
    with torch.inference_mode():
        _sync(device)
        start = time.perf_counter()
        # one image: no padding, so no pixel mask (the model then skips key-padding masks)
        out = model(inputs["pixel_values"], None, return_attention=True)
        _sync(device)
        model_ms = (time.perf_counter() - start) * 1000
        det = post_process_object_detection(out, inputs["original_sizes"])[0]
        probs = out["pred_logits"][0].float().softmax(-1)
        cross = torch.stack([a[0] for a in out["cross_attentions"]])  # (L, heads, Q, HW)
        per_head = sum(a[0].numel() for a in out["encoder_attentions"]) <= ENCODER_BUDGET
        encoder = torch.stack([a[0] if per_head else a[0].mean(dim=0, keepdim=True)
                               for a in out["encoder_attentions"]])  # (E, heads or 1, HW, HW)
    return DetectionRun(
        model_name=model_name, image=image, id2label=dict(model.config.id2label),
        probs=probs.cpu().numpy(), scores=det["scores"].cpu().numpy(), labels=det["labels"].cpu().numpy(),
        boxes_xyxy=det["boxes"].cpu().numpy(), query_index=det["query_index"].cpu().numpy(),
        feature_size=tuple(int(v) for v in out["feature_size"]),
        input_size=tuple(int(v) for v in inputs["resized_sizes"][0]),
        cross_attentions=cross.to(torch.float16).cpu().numpy(),
        encoder_attentions=encoder.to(torch.float16).cpu().numpy(), model_ms=model_ms, device=device.type)


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def _head(head: int | None, available: int) -> int | None:
    if head is None:
        return None
    if not 0 <= head < available:
        raise ValueError(f"head {head} out of range: this model has {available} heads")
    return head


def cross_attention_heatmap(run: DetectionRun, row: int, layer: int, head: int | None) -> np.ndarray:
    """Where the query behind detection `row` looks in decoder `layer` (0-based; one head, or the mean if None):
    float32 [H', W'] in [0, 1] at `run.display_size`."""
    if not 0 <= layer < run.num_decoder_layers:
        raise ValueError(f"decoder layer {layer} out of range: this model has {run.num_decoder_layers}")
    if not 0 <= row < len(run.scores):
        raise ValueError(f"detection {row} out of range: this run has {len(run.scores)}")
    att = torch.from_numpy(run.cross_attentions[layer][None].astype(np.float32))  # (1, heads, Q, HW)
    m = query_attention_map(att, run.feature_size, int(run.query_index[row]), _head(head, run.num_heads))[0]
    return upsample_heatmap(m, run.display_size)


def encoder_attention_heatmap(run: DetectionRun, point_xy: tuple[float, float], layer: int,
                              head: int | None) -> np.ndarray:
    """Where the encoder position under pixel (x, y) of `run.image` looks in encoder `layer` (0-based):
    float32 [H', W'] in [0, 1] at `run.display_size`. head: one head (if kept) or None for the mean; a point
    outside the image is moved to its nearest edge."""
    if not 0 <= layer < run.num_encoder_layers:
        raise ValueError(f"encoder layer {layer} out of range: this model has {run.num_encoder_layers}")
    h, w = run.image.shape[:2]
    point_yx = (min(max(point_xy[1] / h, 0.0), 1.0), min(max(point_xy[0] / w, 0.0), 1.0))
    att = torch.from_numpy(run.encoder_attentions[layer][None].astype(np.float32))  # (1, heads|1, HW, HW)
    if not run.encoder_per_head:
        head = None
    m = encoder_attention_at(att, run.feature_size, point_yx, _head(head, att.shape[1]))[0]
    return upsample_heatmap(m, run.display_size)
