"""One ViT run kept for a browser session, and the Attention tab's views of it without re-running the model.

`run_vit(model, image)` classifies once with attention and keeps (numpy, for a `gr.State`):

    probs            float32 [num_classes]          softmax of the logits
    attentions       float32 [L, heads, T, T]        T = prefix (CLS) tokens + gh * gw patch tokens
    model_input      uint8 [S, S', 3]                the image as the model saw it (resized, not normalised)
    pos_similarity   float32 [gh, gw, gh, gw] | None cosine similarity of each patch's position embedding to
                                                     every other's (None: the model has no CLS/grid embedding)

Rollout, the raw attention of a layer/head, the patch grid and the position-embedding picture are then
computed from these with `cvdemo.attention`. The maps are read where the classifier reads: the CLS token's
row (global_pool="token"), or, for models that classify the average of the patch tokens (global_pool="avg",
as the shipped vit-shapes, which has no CLS token), the average of the patch tokens' rows.
Nothing here imports gradio.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F

from cvdemo.attention import attention_rollout, cls_attention_map, fuse_heads, upsample_heatmap
from cvdemo.models.vit import ViT, sincos_pos_embed_2d
from cvdemo.models.vit_transforms import vit_transform
from cvdemo.ui.i18n import DEFAULT_LOCALE
from cvdemo.ui.texts.attention import T
from cvdemo.visualize import display_scale, draw_grid, enlarge_for_display, label_cells, tile_maps


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

    @property
    def num_layers(self) -> int:
        return int(self.attentions.shape[0])

    @property
    def num_heads(self) -> int:
        return int(self.attentions.shape[1])

    def readout(self, locale: str = DEFAULT_LOCALE) -> str:
        """Where the classifier reads the tokens, in words ("classified from the CLS token"), in ``locale``."""
        return T.text("readout_cls" if self.global_pool == "token" else "readout_avg", locale)

    def read_out(self, matrix: torch.Tensor) -> np.ndarray:
        """[1, T, T] (a rollout or one layer's attention) -> [gh, gw] over the patches: the CLS token's row,
        or with average pooling the mean of the patch tokens' rows (what the pooled feature draws on)."""
        if self.global_pool == "token":
            return cls_attention_map(matrix, self.grid_size, self.num_prefix_tokens)[0].numpy()
        p = self.num_prefix_tokens
        return matrix[0, p:, p:].mean(dim=0).reshape(self.grid_size).numpy()


def run_vit(model: ViT, image: np.ndarray, model_name: str = "") -> ClassificationRun:
    """Classify an RGB uint8 image [H, W, 3] with attention; see the module docstring."""
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
        model_ms=model_ms)


def position_embedding_similarity(model: ViT, grid_size: tuple[int, int]) -> np.ndarray | None:
    """Cosine similarity between the position embeddings of every pair of patches: [gh, gw, gh, gw].

    Entry [r, c, i, j] compares patch (r, c) with patch (i, j), as in the ViT paper's figure 7. Learned
    tables are read at the model's trained grid (`grid_size` is used only for sin-cos embeddings)."""
    cfg = model.config
    if model.pos_embed is not None:
        table = model.pos_embed[0, cfg.num_prefix_tokens:].float()  # (gh * gw, D)
        gh, gw = cfg.grid_size
    else:
        gh, gw = grid_size
        table = sincos_pos_embed_2d((gh, gw), cfg.embed_dim)
    unit = F.normalize(table, dim=-1)
    return (unit @ unit.T).reshape(gh, gw, gh, gw).cpu().numpy()


def top_classes(run: ClassificationRun, k: int = 5, locale: str = DEFAULT_LOCALE) -> dict[str, float]:
    """{label: probability} of the k most likely classes (for gr.Label); the model's class names, or
    "class i" in ``locale`` for a class it does not name."""
    order = np.argsort(-run.probs, kind="stable")[:k]
    names = [run.id2label.get(int(i)) for i in order]
    return {T.text("class_n", locale, k=int(i)) if name is None else name: float(run.probs[i])
            for i, name in zip(order, names)}


def rollout_heatmap(run: ClassificationRun, head_fusion: str = "mean", discard_ratio: float = 0.0,
                    start_layer: int = 0) -> np.ndarray:
    """Attention rollout, read out where the classifier reads (`ClassificationRun.read_out`): [gh, gw]."""
    att = torch.from_numpy(run.attentions)[:, None]  # (L, 1, heads, T, T): one image per layer
    rollout = attention_rollout(list(att), head_fusion=head_fusion, discard_ratio=discard_ratio,
                                start_layer=start_layer, num_prefix_tokens=run.num_prefix_tokens)
    return run.read_out(rollout)


def layer_attention_heatmap(run: ClassificationRun, layer: int, head: int | None) -> np.ndarray:
    """Raw attention of one layer (one head, or the mean of heads) read out as `read_out`: [gh, gw]."""
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


def heatmap_overlay_size(run: ClassificationRun) -> tuple[int, int]:
    """(H, W) at which overlays on `run.image` are drawn (small images enlarged)."""
    h, w = run.image.shape[:2]
    s = display_scale(h, w)
    return (round(h * s), round(w * s)) if s > 1 else (h, w)


def display_image(run: ClassificationRun) -> np.ndarray:
    return enlarge_for_display(run.image, display_scale(*run.image.shape[:2]))


def upsample_to_display(run: ClassificationRun, grid_map: np.ndarray) -> np.ndarray:
    return upsample_heatmap(grid_map, heatmap_overlay_size(run))


def patch_grid_view(run: ClassificationRun, side: int = 448,
                    locale: str = DEFAULT_LOCALE) -> tuple[np.ndarray, str]:
    """The model's input cut into its patches, with token numbers, and a sentence (in ``locale``) saying how
    many tokens."""
    gh, gw = run.grid_size
    h, w = run.model_input.shape[:2]
    scale = max(1, side // max(h, w))
    big = np.repeat(np.repeat(run.model_input, scale, axis=0), scale, axis=1)  # nearest: the pixels it saw
    big = draw_grid(big, gh, gw, color=(255, 255, 255))
    labels = [str(k + run.num_prefix_tokens) if gh * gw <= 256 else "" for k in range(gh * gw)]
    big = label_cells(big, gh, gw, labels)
    prefix = (T.text("prefix_cls", locale) if run.num_prefix_tokens == 1 else
              T.text("prefix_tokens", locale, n=run.num_prefix_tokens) if run.num_prefix_tokens else "")
    text = T.text("grid_caption", locale, h=h, w=w, gh=gh, gw=gw, patches=gh * gw, p=run.patch_size,
                  prefix=prefix, tokens=gh * gw + run.num_prefix_tokens)
    return big, text


def position_similarity_view(run: ClassificationRun, max_side: int = 560) -> np.ndarray | None:
    """Tiles: tile (r, c) shows how similar patch (r, c)'s position embedding is to every patch's."""
    if run.pos_similarity is None:
        return None
    gh, gw = run.pos_similarity.shape[:2]
    cells = run.pos_similarity.shape[2]
    tile = cells * max(1, (max_side // max(gh, gw) - 2) // cells)  # whole pixels per embedding entry
    return tile_maps(run.pos_similarity, tile_px=tile, gap_px=2, vmin=-1.0, vmax=1.0, colormap="viridis")
