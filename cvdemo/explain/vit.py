"""Explanations of a ViT's decision: gradient-weighted relevance (Chefer) and gradient rollout.

Conventions (as `cvdemo.attention` and `cvdemo.models.vit`)
    attentions  per block [B, heads, T, T] softmax maps (row = query, column = key; rows sum to 1)
    T = P + gh * gw: P prefix tokens first (`model.config.num_prefix_tokens`: CLS, and any
        distillation or register tokens), then the patch tokens in row-major order over the
        (gh, gw) patch grid. Nothing here assumes P == 1 or a square grid.
    Every map function returns a float tensor [B, gh, gw] on the input's device, ready for
    `cvdemo.attention.upsample_heatmap`; a larger value means "more relevant".

How a map is read out of a token-to-token matrix R [B, T, T] (`read_patch_map`): on the rows of the
tokens the classifier reads, over the patch columns only.
    - global_pool "token": the class token's row (row 0);
    - a distilled DeiT (`config.distilled`): the MEAN of rows 0 and 1. Its logits are
      (head(x_cls) + head_dist(x_dist)) / 2, so the class logit draws on the class token AND the
      distillation token with equal weight; reading row 0 alone would explain half of the logit;
    - global_pool "avg": the mean of the patch rows (the pooled feature is that mean);
    - register tokens (`config.reg_tokens`) are prefix tokens no head reads: never a readout row,
      never a column of the map (a path from a patch through a register to the read token is
      already counted in that patch's column: R composes paths across the blocks).
The rows come from `model.config.readout_rows` ((0,), (0, 1), or () for average pooling).

Gradients: the target is the pre-softmax logit of one class per image (`target_class=None`: the
predicted class). The gradient with respect to each block's attention probabilities is taken with
`torch.autograd.grad` on a fresh forward with `return_attention=True`, whose returned
probabilities are the very tensors multiplied with v: parameters keep no `.grad`, and the model's
training flag is restored (the maps are computed in eval mode).
"""

from __future__ import annotations

import logging
from collections.abc import Sequence

import torch

from cvdemo.attention import attention_rollout

logger = logging.getLogger(__name__)


def read_patch_map(matrix: torch.Tensor, grid_size: tuple[int, int], num_prefix_tokens: int,
                   global_pool: str, readout_rows: Sequence[int] = (0,)) -> torch.Tensor:
    """[B, T, T] token-to-token matrix -> [B, gh, gw] map over the patch grid.

    global_pool "token": the mean of the prefix rows `readout_rows` ((0,): the class token; (0, 1): a
    distilled DeiT's class and distillation tokens); "avg": the mean of the patch rows (rows P..T-1;
    `readout_rows` unused). Only the patch columns (P..T-1) are kept, reshaped row-major to (gh, gw).
    """
    if matrix.ndim != 3 or matrix.shape[-1] != matrix.shape[-2]:
        raise ValueError(f"expected a [B, T, T] matrix, got {tuple(matrix.shape)}")
    B, T, _ = matrix.shape
    P = int(num_prefix_tokens)
    gh, gw = int(grid_size[0]), int(grid_size[1])
    if T - P != gh * gw:
        raise ValueError(f"{T} tokens minus {P} prefix tokens is not the grid {gh}x{gw} ({gh * gw} patches)")
    if global_pool == "token":
        if P < 1:
            raise ValueError('global_pool="token" needs a class token (num_prefix_tokens >= 1)')
        read = [int(r) for r in readout_rows]
        if not read or any(not 0 <= r < P for r in read):
            raise ValueError(f"readout_rows must be prefix token indices in [0, {P}), got {list(readout_rows)}")
        rows = matrix[:, read, P:].mean(dim=1)  # (B, gh*gw): mean of the rows the heads read
    elif global_pool == "avg":
        rows = matrix[:, P:, P:].mean(dim=1)  # (B, gh*gw): the pooled feature is the patch mean
    else:
        raise ValueError(f'global_pool must be "token" or "avg", got {global_pool!r}')
    return rows.reshape(B, gh, gw)


def attention_gradients(model: torch.nn.Module, pixel_values: torch.Tensor,
                        target_class: int | Sequence[int] | torch.Tensor | None = None) -> dict:
    """One forward with attention and one backward of the target logits to the attention maps.

    model: a `cvdemo.models.vit.ViT` (any module with the same `return_attention=True` contract).
    pixel_values [B, C, H, W]; target_class: None (each image's predicted class), one int for
    every image, or B ints.
    Returns {"attentions": tuple of depth x [B, heads, T, T], "gradients": the same shapes
    (d sum_b logits[b, target[b]] / d attention; images do not mix, so each image's maps get
    only its own logit's gradient), "logits" [B, num_classes], "target" [B] int64,
    "grid_size" (gh, gw)}; all detached.
    The model's parameters get no `.grad` and its training flag is restored; it runs in eval mode.
    """
    if torch.is_inference_mode_enabled():
        raise RuntimeError("explanations need gradients: call them outside torch.inference_mode()")
    was_training = model.training
    model.eval()
    try:
        with torch.enable_grad():
            # A leaf input that needs a gradient puts the attention maps in the autograd graph even
            # when the parameters are frozen (requires_grad=False).
            x = pixel_values.detach().requires_grad_(True)
            out = model(x, return_attention=True)
            logits, attentions = out["logits"], out["attentions"]
            if logits.ndim != 2:
                raise ValueError(f"expected logits [B, num_classes], got {tuple(logits.shape)}")
            B, C = logits.shape
            target = _targets(target_class, logits.detach(), B, C)
            score = logits.gather(1, target[:, None]).sum()
            gradients = torch.autograd.grad(score, attentions)  # only w.r.t. the maps: no param .grad
    finally:
        model.train(was_training)
    return {"attentions": tuple(a.detach() for a in attentions), "gradients": tuple(gradients),
            "logits": logits.detach(), "target": target, "grid_size": tuple(out["grid_size"])}


def _targets(target_class, logits: torch.Tensor, B: int, C: int) -> torch.Tensor:
    if target_class is None:
        return logits.argmax(dim=1)
    t = torch.as_tensor(target_class, dtype=torch.int64, device=logits.device).reshape(-1)
    if t.numel() == 1:
        t = t.expand(B)
    if t.numel() != B:
        raise ValueError(f"target_class needs one class or {B} (one per image), got {t.numel()}")
    if ((t < 0) | (t >= C)).any():
        raise ValueError(f"target_class must be in [0, {C}), got {t.tolist()}")
    return t.clone()


def _read(model: torch.nn.Module, matrix: torch.Tensor, grid_size: tuple[int, int]) -> torch.Tensor:
    """`read_patch_map` with the model's pooling, prefix count and readout rows."""
    cfg = model.config
    return read_patch_map(matrix, grid_size, int(cfg.num_prefix_tokens), getattr(cfg, "global_pool", "token"),
                          getattr(cfg, "readout_rows", (0,)))


def vit_relevance(model: torch.nn.Module, pixel_values: torch.Tensor,
                  target_class: int | Sequence[int] | torch.Tensor | None = None) -> torch.Tensor:
    """Class-specific relevance of each patch: pixel_values [B, C, H, W] -> [B, gh, gw] (float32, >= 0).

    Chefer, Gur, Wolf, "Transformer Interpretability Beyond Attention Visualization" (CVPR 2021),
    with the generic rule of their follow-up "Generic Attention-model Explainability for
    Interpreting Bi-Modal and Encoder-Decoder Transformers" (ICCV 2021, eqs. 5-6):
        R = I (T x T); for each block in forward order:
            Abar = mean over heads of (grad A ⊙ A)^+     (^+: negatives clamped to 0 before the mean)
            R = R + Abar @ R
    where A is the block's attention probabilities and grad A the gradient of the target class's
    logit with respect to them. Read on the class token's row (the mean of the class and distillation
    tokens' rows for a distilled DeiT), or the mean of the patch rows for a global-average-pooling
    model, over the patch columns (`read_patch_map`).
    target_class: None (each image's predicted class), one int, or one per image.
    """
    g = attention_gradients(model, pixel_values, target_class)
    attentions, gradients = g["attentions"], g["gradients"]
    B, _, T, _ = attentions[0].shape
    R = torch.eye(T, dtype=torch.float32, device=attentions[0].device).expand(B, T, T)
    for a, grad in zip(attentions, gradients):
        cam = (grad.float() * a.float()).clamp(min=0).mean(dim=1)  # (B, T, T)
        R = R + cam @ R
    return _read(model, R, g["grid_size"])


def gradient_rollout(model: torch.nn.Module, pixel_values: torch.Tensor,
                     target_class: int | Sequence[int] | torch.Tensor | None = None,
                     discard_ratio: float = 0.0) -> torch.Tensor:
    """Class-specific attention rollout: pixel_values [B, C, H, W] -> [B, gh, gw] (float32, >= 0).

    The gradient rollout of jacobgil/vit-explain (`grad_rollout.py`), this exact variant:
        for each block in forward order:
            F = max(0, mean over heads of (A ⊙ grad A))   (mean first, then the positive part, as vit-explain)
            optionally zero the lowest `discard_ratio` of F's patch-to-patch weights, per image
            M = (F + I) / 2, each row divided by its own sum
            rollout = M @ rollout   (rollout starts as I)
    computed by `cvdemo.attention.attention_rollout` on the fused maps. It differs from
    vit-explain in three ways, all fixes: rows are renormalised with keepdim (each row by its own
    sum), discard is chosen per image and never touches the prefix tokens' rows or columns, and
    the map is not divided by its maximum (upsample_heatmap rescales for display). Read as
    `vit_relevance` (class token row, with the distillation token's row averaged in for a distilled
    DeiT, or the patch-row mean for average pooling).
    """
    g = attention_gradients(model, pixel_values, target_class)
    P = int(model.config.num_prefix_tokens)
    fused = [(a.float() * grad.float()).mean(dim=1).clamp(min=0) for a, grad in
             zip(g["attentions"], g["gradients"])]  # depth x (B, T, T)
    rollout = attention_rollout(fused, discard_ratio=discard_ratio, num_prefix_tokens=P)
    return _read(model, rollout, g["grid_size"])
