"""One ViT run on one image, kept as numpy, and the attention maps derived from it without re-running the model.

`run_vit(model, image)` classifies once with attention and keeps (numpy, cheap to hold in a
`cvdemo.session_store.RunStore` for a browser session):

    probs            float32 [num_classes]          softmax of the logits
    attentions       float32 [L, heads, T, T]        T = prefix (CLS) tokens + gh * gw patch tokens
    model_input      uint8 [S, S', 3]                the image as the model saw it (resized, not normalised)
    pos_similarity   float32 [gh, gw, gh, gw] | None cosine similarity of each patch's position embedding to
                                                     every other's (None: the model has no position embedding)

Rollout (`rollout_heatmap`) and the raw attention of a layer/head (`layer_attention_heatmap`) are computed from
these with `cvdemo.attention` as [gh, gw] maps; `display_heatmap` brings such a map to the size the image is drawn
at. The maps are read where the classifier reads: the CLS token's row (global_pool="token"; for a distilled DeiT
the mean of the CLS and distillation tokens' rows, as its logits average the two heads), or, for models that
classify the average of the patch tokens (global_pool="avg", as the shipped vit-shapes, which has no CLS token),
the average of the patch tokens' rows. Register tokens are never read. No text for people here (class names are
the model's `id2label`); nothing here imports gradio.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F

from cvdemo.attention import HEAD_FUSIONS, attention_rollout, fuse_heads, upsample_heatmap
from cvdemo.models.image_processing import keeps_aspect_ratio
from cvdemo.models.vit import ViT
from cvdemo.models.vit_transforms import vit_transform
from cvdemo.visualize import display_scale

__all__ = ["HEAD_FUSIONS", "ClassificationRun", "display_heatmap", "layer_attention_heatmap",
           "position_embedding_similarity", "rollout_heatmap", "run_vit", "top_classes"]


@dataclass
class ClassificationRun:
    """A ViT run on one image (see the module docstring)."""

    model_name: str
    image: np.ndarray
    model_input: np.ndarray
    id2label: dict[int, str]
    probs: np.ndarray
    attentions: np.ndarray
    grid_size: tuple[int, int]
    patch_size: int
    num_prefix_tokens: int
    global_pool: str
    pos_similarity: np.ndarray | None
    model_ms: float
    device: str = "cpu"  # where the model ran ("cpu", "cuda")
    readout_rows: tuple[int, ...] = (0,)  # prefix rows read with global_pool="token" (ViTConfig.readout_rows)

    @property
    def num_layers(self) -> int:
        return int(self.attentions.shape[0])

    @property
    def num_heads(self) -> int:
        return int(self.attentions.shape[1])

    @property
    def input_size(self) -> tuple[int, int]:
        """(h, w) of the image as the model saw it."""
        return int(self.model_input.shape[0]), int(self.model_input.shape[1])

    @property
    def aspect_ratio_kept(self) -> bool:
        """False when the model's input has another shape than the image (a non-square image made square)."""
        return keeps_aspect_ratio(self.image.shape[:2], self.input_size)

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

    def class_name(self, index: int) -> str | None:
        """The model's name of class ``index``, or None when it names none (the UI then says "class k")."""
        return self.id2label.get(int(index))

    def read_out(self, matrix: torch.Tensor) -> np.ndarray:
        """[1, T, T] (a rollout or one layer's attention) -> [gh, gw] over the patches: the CLS token's row (the
        mean of the `readout_rows`: CLS and distillation token for a distilled DeiT), or with average pooling
        the mean of the patch tokens' rows (what the pooled feature draws on)."""
        p = self.num_prefix_tokens
        gh, gw = self.grid_size
        T = matrix.shape[-1]
        if T != p + gh * gw:
            raise ValueError(f"{T} tokens minus {p} prefix tokens is not the grid {gh}x{gw}")
        rows = list(self.readout_rows) if self.global_pool == "token" else list(range(p, T))
        return matrix[0, rows, p:].mean(dim=0).reshape(gh, gw).numpy()


def run_vit(model: ViT, image: np.ndarray, model_name: str = "") -> ClassificationRun:
    """Classify an RGB uint8 image [H, W, 3] (any aspect ratio: it is resized to the model's input size) with
    attention; see the module docstring."""
    cfg = model.config
    device = next(model.parameters()).device
    pixel_values = vit_transform(image, cfg).to(device)  # (1, 3, S, S)
    with torch.inference_mode():
        if device.type == "cuda":
            torch.cuda.synchronize(device)
        start = time.perf_counter()
        out = model(pixel_values, return_attention=True)
        if device.type == "cuda":
            torch.cuda.synchronize(device)
        model_ms = (time.perf_counter() - start) * 1000
        probs = out["logits"][0].float().softmax(-1)
        attentions = torch.stack([a[0] for a in out["attentions"]]).float()  # (L, heads, T, T)
        pos_sim = position_embedding_similarity(model, tuple(out["grid_size"]))
    mean = np.asarray(cfg.image_mean, dtype=np.float32)
    std = np.asarray(cfg.image_std, dtype=np.float32)
    seen = pixel_values[0].permute(1, 2, 0).cpu().numpy() * std + mean  # undo the normalisation
    return ClassificationRun(
        model_name=model_name, image=image, model_input=np.clip(np.rint(seen * 255), 0, 255).astype(np.uint8),
        id2label=dict(cfg.id2label), probs=probs.cpu().numpy(), attentions=attentions.cpu().numpy(),
        grid_size=(int(out["grid_size"][0]), int(out["grid_size"][1])), patch_size=cfg.patch_size,
        num_prefix_tokens=cfg.num_prefix_tokens, global_pool=cfg.global_pool, pos_similarity=pos_sim,
        model_ms=model_ms, device=device.type, readout_rows=tuple(cfg.readout_rows))


def position_embedding_similarity(model: ViT, grid_size: tuple[int, int]) -> np.ndarray | None:
    """Cosine similarity between the position embeddings of every pair of patches: [gh, gw, gh, gw], or None
    for a model without position embedding (pos_embed="none").

    Entry [r, c, i, j] compares patch (r, c) with patch (i, j), as in the ViT paper's figure 7. Learned
    tables ("learn", and the row/column tables of "learn-2d") are read at the model's trained grid (`grid_size`
    is used only for sin-cos embeddings)."""
    cfg = model.config
    gh, gw = grid_size if cfg.pos_embed == "sincos" else cfg.grid_size
    table = model.patch_position_table((gh, gw))  # (gh * gw, D) or None
    if table is None:
        return None
    unit = F.normalize(table.detach().float(), dim=-1)
    return (unit @ unit.T).reshape(gh, gw, gh, gw).cpu().numpy()


def top_classes(run: ClassificationRun, k: int = 5) -> list[tuple[int, float]]:
    """[(class index, probability)] of the k most likely classes, most likely first (ties: lower index)."""
    order = np.argsort(-run.probs, kind="stable")[:k]
    return [(int(i), float(run.probs[i])) for i in order]


def rollout_heatmap(run: ClassificationRun, head_fusion: str = "mean", discard_ratio: float = 0.0,
                    start_layer: int = 0) -> np.ndarray:
    """Attention rollout from layer `start_layer` (0-based), read out where the classifier reads
    (`ClassificationRun.read_out`): float32 [gh, gw]."""
    att = torch.from_numpy(run.attentions)[:, None]  # (L, 1, heads, T, T): one image per layer
    rollout = attention_rollout(list(att), head_fusion=head_fusion, discard_ratio=discard_ratio,
                                start_layer=start_layer, num_prefix_tokens=run.num_prefix_tokens)
    return run.read_out(rollout)


def layer_attention_heatmap(run: ClassificationRun, layer: int, head: int | None) -> np.ndarray:
    """Raw attention of one layer (0-based; one head, or the mean of heads) read out as `read_out`: [gh, gw]."""
    if not 0 <= layer < run.num_layers:
        raise ValueError(f"layer {layer} out of range: this model has {run.num_layers} layers")
    att = torch.from_numpy(run.attentions[layer])[None]  # (1, heads, T, T)
    if head is None:
        fused = fuse_heads(att, "mean")
    elif 0 <= head < run.num_heads:
        fused = att[:, head]
    else:
        raise ValueError(f"head {head} out of range: this model has {run.num_heads} heads")
    return run.read_out(fused)


def display_heatmap(run: ClassificationRun, grid_map: np.ndarray) -> np.ndarray:
    """A [gh, gw] map (`rollout_heatmap`, `layer_attention_heatmap`) -> float32 [H', W'] in [0, 1] at
    `run.display_size`, for an overlay on the image."""
    return upsample_heatmap(grid_map, run.display_size)
