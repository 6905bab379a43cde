"""How far each ViT head looks: mean attention distance (the ViT paper's Figure 7).

Attention convention as `cvdemo.explain.vit`: per layer [B, heads, T, T], P prefix tokens first,
then the (gh, gw) patch grid row-major.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch


def patch_positions(grid_size: tuple[int, int], patch_size: int) -> torch.Tensor:
    """[gh * gw, 2] (y, x) pixel position of each patch, row-major: (row, col) * patch_size."""
    gh, gw = int(grid_size[0]), int(grid_size[1])
    rows, cols = torch.meshgrid(torch.arange(gh), torch.arange(gw), indexing="ij")  # (gh, gw) each
    return torch.stack([rows.reshape(-1), cols.reshape(-1)], dim=1).double() * float(patch_size)


def mean_attention_distance(attentions: Sequence[torch.Tensor], grid_size: tuple[int, int],
                            patch_size: int, num_prefix_tokens: int) -> torch.Tensor:
    """How far each head looks, in pixels: depth x [B, heads, T, T] -> [layers, heads] (float32).

    As the ViT paper's Figure 7 (Dosovitskiy et al., ICLR 2021): for every layer and head, the
    distance between a patch (query) and each patch it attends to, weighted by the attention,
    summed over keys, then averaged over the query patches and over the batch.
    Positions are (row, col) * patch_size (patch centres differ by the same offset), row-major over
    the (gh, gw) grid, so non-square grids are exact. Prefix tokens (CLS, distillation, registers)
    have no position: their rows and columns are dropped and each patch row is renormalised to sum
    to 1 over the patch keys (a row whose patch weights are all 0 counts as distance 0).
    """
    layers = list(attentions)
    if not layers:
        raise ValueError("mean_attention_distance needs at least one layer of attention")
    P = int(num_prefix_tokens)
    gh, gw = int(grid_size[0]), int(grid_size[1])
    pos = patch_positions((gh, gw), patch_size).to(layers[0].device)  # (N, 2)
    dist = torch.cdist(pos, pos)  # (N, N) float64, Euclidean pixels
    out = []
    for a in layers:
        if a.ndim != 4 or a.shape[-1] != a.shape[-2] or a.shape[-1] - P != gh * gw:
            raise ValueError(f"each layer must be [B, heads, T, T] with T = {P} + {gh}*{gw}, "
                             f"got {tuple(a.shape)}")
        w = a[:, :, P:, P:].double()  # (B, heads, N, N): patch queries, patch keys
        w = w / w.sum(dim=-1, keepdim=True).clamp_min(1e-300)
        per_query = (w * dist).sum(dim=-1)  # (B, heads, N)
        out.append(per_query.mean(dim=(0, 2)))  # (heads,)
    return torch.stack(out).float()  # (layers, heads)
