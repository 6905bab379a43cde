"""One DETR run kept for a browser session, and the views the Detect tab derives from it without re-running.

`run_detr(model, image)` runs the model once with attention and keeps, in plain numpy (cheap to hold in a
`gr.State`): the per-query class probabilities, the post-processed detections and the attention maps.
Moving the score threshold, picking another detection, layer or head, or clicking a point then only
reads these arrays. Nothing here imports gradio.

Contract of `DetectionRun` (Q queries, C classes + no-object, L decoder / E encoder layers, (h, w) the
feature map, HW = h * w, image [H, W, 3]):
    probs              float32 [Q, C+1]   softmax over classes per query; the last column is "no object"
    scores, labels     [Q]               best real class per query (sorted by descending score), as
    boxes_xyxy         float32 [Q, 4]    `post_process_object_detection`: pixel (x0, y0, x1, y1) on `image`
    query_index        int64 [Q]         which query produced each row
    cross_attentions   float16 [L, heads, Q, HW]
    encoder_attentions float16 [E, heads or 1, HW, HW]  (the mean over heads only, when per-head maps of a
                                         large feature map would not fit `ENCODER_BUDGET` elements)
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np
import torch

from cvdemo.attention import encoder_attention_at, query_attention_map, upsample_heatmap
from cvdemo.models.detr import DETR
from cvdemo.models.image_processing import prepare_detr_inputs
from cvdemo.models.postprocess import post_process_object_detection
from cvdemo.ui.i18n import DEFAULT_LOCALE
from cvdemo.ui.texts.detect import T
from cvdemo.visualize import class_color, display_scale, draw_boxes_xyxy, draw_marker_xy, enlarge_for_display

ENCODER_BUDGET = 16_000_000  # float16 elements (32 MB) of encoder attention kept per session at most


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
    def encoder_per_head(self) -> bool:
        return self.encoder_attentions.shape[1] > 1

    @property
    def display_scale(self) -> float:
        return display_scale(*self.image.shape[:2])

    def label_name(self, label: int, locale: str = DEFAULT_LOCALE) -> str:
        """The model's name of class ``label`` ("class k" in ``locale`` when the model names none)."""
        name = self.id2label.get(int(label))
        return T.text("class_n", locale, k=int(label)) if name is None else name

    def kept(self, threshold: float) -> np.ndarray:
        """Row indices (into scores/labels/boxes) of the detections with score > threshold, best first."""
        return np.flatnonzero(self.scores > threshold)


def run_detr(model: DETR, image: np.ndarray, model_name: str = "") -> DetectionRun:
    """Run `model` on an RGB uint8 image [H, W, 3] with attention and keep everything the tab shows."""
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
        encoder_attentions=encoder.to(torch.float16).cpu().numpy(), model_ms=model_ms)


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def detection_rows(run: DetectionRun, threshold: float, locale: str = DEFAULT_LOCALE) -> list[list]:
    """Table rows [rank, query, label, score, x0, y0, x1, y1] of the detections above `threshold`."""
    rows = []
    for rank, i in enumerate(run.kept(threshold), start=1):
        x0, y0, x1, y1 = (round(float(v), 1) for v in run.boxes_xyxy[i])
        rows.append([rank, int(run.query_index[i]), run.label_name(run.labels[i], locale),
                     round(float(run.scores[i]), 3), x0, y0, x1, y1])
    return rows


def draw_detections(run: DetectionRun, threshold: float, selected: int | None = None,
                    base: np.ndarray | None = None) -> np.ndarray:
    """The image (enlarged for display) with every detection above `threshold` boxed and captioned.

    selected: rank (0-based, among the kept detections) to highlight. base: an image of the display size
    to draw on instead of the plain image (e.g. an attention overlay). Captions stay in English: the
    image font has no Chinese glyphs."""
    scale = run.display_scale
    canvas = enlarge_for_display(run.image, scale) if base is None else base
    kept = run.kept(threshold)
    captions = [f"{run.label_name(run.labels[i])} {run.scores[i]:.2f}" for i in kept]
    colors = [class_color(run.labels[i]) for i in kept]
    highlight = selected if selected is not None and 0 <= selected < len(kept) else None
    return draw_boxes_xyxy(canvas, run.boxes_xyxy[kept], captions, colors, scale=scale, highlight=highlight)


def _head(head: int | None, available: int) -> int | None:
    if head is None:
        return None
    if not 0 <= head < available:
        raise ValueError(f"head {head} out of range: this model has {available} heads")
    return head


def cross_attention_heatmap(run: DetectionRun, row: int, layer: int, head: int | None) -> np.ndarray:
    """Where the query behind detection `row` looks in decoder `layer` (one head, or the mean if None):
    float [H', W'] in [0, 1] at the display size."""
    if not 0 <= layer < run.num_decoder_layers:
        raise ValueError(f"decoder layer {layer} out of range: this model has {run.num_decoder_layers}")
    att = torch.from_numpy(run.cross_attentions[layer][None].astype(np.float32))  # (1, heads, Q, HW)
    m = query_attention_map(att, run.feature_size, int(run.query_index[row]), _head(head, run.num_heads))[0]
    return upsample_heatmap(m, _display_size(run))


def encoder_attention_heatmap(run: DetectionRun, point_xy: tuple[float, float], layer: int,
                              head: int | None) -> np.ndarray:
    """Where the encoder position under pixel (x, y) of `run.image` looks in encoder `layer`:
    float [H', W'] in [0, 1] at the display size. head: one head (if kept) or None for the mean."""
    if not 0 <= layer < run.num_encoder_layers:
        raise ValueError(f"encoder layer {layer} out of range: this model has {run.num_encoder_layers}")
    h, w = run.image.shape[:2]
    point_yx = (min(max(point_xy[1] / h, 0.0), 1.0), min(max(point_xy[0] / w, 0.0), 1.0))
    att = torch.from_numpy(run.encoder_attentions[layer][None].astype(np.float32))  # (1, heads|1, HW, HW)
    if not run.encoder_per_head:
        head = None
    m = encoder_attention_at(att, run.feature_size, point_yx, _head(head, att.shape[1]))[0]
    return upsample_heatmap(m, _display_size(run))


def mark_point(image: np.ndarray, run: DetectionRun, point_xy: tuple[float, float]) -> np.ndarray:
    """Draw the clicked point (pixel (x, y) of `run.image`) on a display-size image."""
    s = run.display_scale
    return draw_marker_xy(image, (point_xy[0] * s, point_xy[1] * s))


def _display_size(run: DetectionRun) -> tuple[int, int]:
    h, w = run.image.shape[:2]
    s = run.display_scale
    return (round(h * s), round(w * s)) if s > 1 else (h, w)
