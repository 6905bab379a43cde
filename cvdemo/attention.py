"""Attention maps as pictures: ViT attention rollout and DETR attention heatmaps.

Conventions
    ViT:  attentions is a sequence of per-layer [B, heads, T, T] softmax maps (row = query,
          column = key; rows sum to 1), T = num_prefix_tokens + gh * gw, prefix (CLS) tokens
          first, then patch tokens in row-major order over the (gh, gw) patch grid.
    DETR: the feature map (h, w) is flattened row-major, HW = h * w; encoder self-attention
          is [B, heads, HW, HW], decoder cross-attention [B, heads, Q, HW].
    Every map function returns a float tensor [B, h, w] on the input's device; `upsample_heatmap`
    turns one [h, w] map into an [H, W] numpy array in [0, 1] for an overlay.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch
import torch.nn.functional as F

HEAD_FUSIONS = ("mean", "max", "min")


def fuse_heads(attention: torch.Tensor, head_fusion: str = "mean") -> torch.Tensor:
    """[B, heads, N, M] -> [B, N, M] by the mean, max or min over heads ([B, N, M] passes through)."""
    if head_fusion not in HEAD_FUSIONS:
        raise ValueError(f"head_fusion must be one of {HEAD_FUSIONS}, got {head_fusion!r}")
    if attention.ndim == 3:
        return attention
    if attention.ndim != 4:
        raise ValueError(f"expected attention [B, heads, N, M] or [B, N, M], got {tuple(attention.shape)}")
    if head_fusion == "mean":
        return attention.mean(dim=1)
    if head_fusion == "max":
        return attention.amax(dim=1)
    return attention.amin(dim=1)


def _discard_lowest(fused: torch.Tensor, discard_ratio: float, num_prefix_tokens: int) -> torch.Tensor:
    """Zero the lowest `discard_ratio` of each image's weights among patch-to-patch entries.

    fused [B, T, T]. Rows and columns of the prefix (CLS) tokens are never candidates; the number
    discarded is int(discard_ratio * (T - P)^2), chosen separately for every image in the batch.
    """
    B, T, _ = fused.shape
    P = num_prefix_tokens
    k = int(discard_ratio * (T - P) ** 2)
    if k == 0:
        return fused
    protected = torch.zeros(T, T, dtype=torch.bool, device=fused.device)
    protected[:P, :] = True
    protected[:, :P] = True
    candidates = fused.masked_fill(protected, float("inf")).flatten(1)  # (B, T*T); prefix never lowest
    lowest = candidates.topk(k, dim=1, largest=False).indices  # (B, k): per image
    return fused.flatten(1).scatter(1, lowest, 0.0).view(B, T, T)


def attention_rollout(attentions: Sequence[torch.Tensor], head_fusion: str = "mean",
                      discard_ratio: float = 0.0, start_layer: int = 0,
                      num_prefix_tokens: int = 1) -> torch.Tensor:
    """Attention rollout (Abnar & Zuidema, 2020): how much each token draws on each input token.

    attentions: per layer [B, heads, T, T] (or already fused [B, T, T]), in forward order.
    For every layer from `start_layer` on: fuse heads (mean/max/min), zero the lowest
    `discard_ratio` of the patch-to-patch weights of each image (CLS rows/columns are kept),
    A = (fused + I) / 2 with rows renormalised to 1, and rollout = A_L @ ... @ A_start.
    Returns [B, T, T] (float32, or float64 for float64 input); every row sums to 1.
    Read row 0 over the patch columns with `cls_attention_map` for the usual picture.
    num_prefix_tokens: leading tokens (CLS) that discard never touches; 0 for a model without one.
    """
    layers = list(attentions)
    if not layers:
        raise ValueError("attention_rollout needs at least one layer of attention")
    if not 0.0 <= discard_ratio < 1.0:
        raise ValueError(f"discard_ratio must be in [0, 1), got {discard_ratio}")
    if not 0 <= start_layer < len(layers):
        raise ValueError(f"start_layer must be in [0, {len(layers)}), got {start_layer}")
    shape = layers[0].shape
    if any(a.shape != shape for a in layers) or shape[-1] != shape[-2] or layers[0].ndim not in (3, 4):
        shapes = [tuple(a.shape) for a in layers]
        raise ValueError(f"every layer must be [B, heads, T, T] of one shape; got {shapes}")
    B, T = shape[0], shape[-1]
    if not 0 <= num_prefix_tokens < T:
        raise ValueError(f"num_prefix_tokens must be in [0, {T}), got {num_prefix_tokens}")

    dtype = torch.promote_types(layers[0].dtype, torch.float32)
    eye = torch.eye(T, dtype=dtype, device=layers[0].device)
    rollout = eye.expand(B, T, T)
    for attention in layers[start_layer:]:
        fused = fuse_heads(attention.to(dtype), head_fusion)  # (B, T, T)
        if discard_ratio > 0:
            fused = _discard_lowest(fused, discard_ratio, num_prefix_tokens)
        a = (fused + eye) / 2
        a = a / a.sum(dim=-1, keepdim=True)  # keepdim: divide each row by its own sum
        rollout = a @ rollout
    return rollout


def _check_grid(n: int, grid_size: tuple[int, int], what: str) -> tuple[int, int]:
    h, w = int(grid_size[0]), int(grid_size[1])
    if h * w != n:
        raise ValueError(f"{what} has {n} grid positions but grid_size {grid_size} holds {h * w}")
    return h, w


def _select_head(attention: torch.Tensor, head: int | None) -> torch.Tensor:
    """[B, heads, N, M] -> [B, N, M]: one head, or the mean over heads when head is None."""
    if attention.ndim == 3:
        if head is not None:
            raise ValueError("head was given but the attention is already fused ([B, N, M])")
        return attention
    if attention.ndim != 4:
        raise ValueError(f"expected attention [B, heads, N, M] or [B, N, M], got {tuple(attention.shape)}")
    if head is None:
        return attention.mean(dim=1)
    if not -attention.shape[1] <= head < attention.shape[1]:
        raise ValueError(f"head {head} out of range for {attention.shape[1]} heads")
    return attention[:, head]


def cls_attention_map(rollout_or_attention: torch.Tensor, grid_size: tuple[int, int],
                      num_prefix_tokens: int = 1) -> torch.Tensor:
    """[B, T, T] (a rollout, or one layer's fused attention) -> [B, gh, gw]: the CLS row over patch tokens."""
    x = rollout_or_attention
    if x.ndim != 3:
        raise ValueError(f"expected [B, T, T] (fuse heads first, e.g. fuse_heads), got {tuple(x.shape)}")
    if num_prefix_tokens < 1:
        raise ValueError("cls_attention_map needs a CLS token (num_prefix_tokens >= 1)")
    gh, gw = _check_grid(x.shape[-1] - num_prefix_tokens, grid_size, "the attention")
    return x[:, 0, num_prefix_tokens:].reshape(x.shape[0], gh, gw)


def point_to_grid_index(point_yx: tuple[float, float], grid_size: tuple[int, int]) -> tuple[int, int]:
    """Normalised (y, x) in [0, 1] over the feature map's extent -> (row, col) of the cell that holds it."""
    y, x = float(point_yx[0]), float(point_yx[1])
    if not (0.0 <= y <= 1.0 and 0.0 <= x <= 1.0):
        raise ValueError(f"point_yx must be normalised to [0, 1] (y / height, x / width), got {point_yx}")
    h, w = int(grid_size[0]), int(grid_size[1])
    return min(int(y * h), h - 1), min(int(x * w), w - 1)


def encoder_attention_at(attention: torch.Tensor, grid_size: tuple[int, int], point_yx: tuple[float, float],
                         head: int | None = None) -> torch.Tensor:
    """Where the encoder position under a point looks: [B, heads, HW, HW] or [B, HW, HW] -> [B, h, w].

    point_yx: normalised (y, x) in [0, 1] over the area the feature map covers, i.e. the
        (padded) network input: for an unpadded input, (pixel_y / input_height, pixel_x / input_width).
    head: one head's map, or None for the mean over heads.
    """
    att = _select_head(attention, head)
    h, w = _check_grid(att.shape[-1], grid_size, "the encoder attention")
    if att.shape[-2] != h * w:
        raise ValueError(f"encoder self-attention must be square over HW={h * w}, got {tuple(att.shape)}")
    row, col = point_to_grid_index(point_yx, (h, w))
    return att[:, row * w + col, :].reshape(att.shape[0], h, w)


def query_attention_map(cross_attention: torch.Tensor, grid_size: tuple[int, int], query_index: int,
                        head: int | None = None) -> torch.Tensor:
    """Where one object query looks: [B, heads, Q, HW] or [B, Q, HW] -> [B, h, w]."""
    att = _select_head(cross_attention, head)
    h, w = _check_grid(att.shape[-1], grid_size, "the cross-attention")
    if not -att.shape[1] <= query_index < att.shape[1]:
        raise ValueError(f"query_index {query_index} out of range for {att.shape[1]} queries")
    return att[:, query_index, :].reshape(att.shape[0], h, w)


def upsample_heatmap(heatmap: torch.Tensor | np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """[h, w] map -> float32 numpy [H, W] in [0, 1]: bilinear upsampling, then min-max scaling.

    A constant map (up to float round-off) becomes all zeros. NaN or inf raises ValueError.
    """
    m = torch.as_tensor(np.asarray(heatmap) if not isinstance(heatmap, torch.Tensor) else heatmap)
    m = m.detach().to("cpu", torch.float32)
    if m.ndim != 2:
        raise ValueError(f"expected one [h, w] map, got shape {tuple(m.shape)}; index the batch first")
    if not torch.isfinite(m).all():
        raise ValueError("heatmap holds NaN or inf values")
    H, W = int(size[0]), int(size[1])
    up = F.interpolate(m[None, None], size=(H, W), mode="bilinear", align_corners=False)[0, 0]
    lo, hi = up.min(), up.max()
    if hi - lo <= 1e-6 * max(1.0, float(hi.abs())):  # constant up to interpolation round-off
        return np.zeros((H, W), dtype=np.float32)
    return ((up - lo) / (hi - lo)).numpy()
