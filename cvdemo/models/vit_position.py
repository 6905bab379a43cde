"""A ViT's position tables: the fixed 2-D sin-cos table (MAE), and resampling a learned table to another grid.

Shapes: a 1-D table is ``[1, P + gh * gw, D]`` (P prefix tokens, then the grid row-major); a "learn-2d" axis
table is ``[n, C]`` (the rows or the columns); `sincos_pos_embed_2d` returns ``[gh * gw, D]``.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

__all__ = ["resample_axis_table", "resample_pos_embed", "sincos_pos_embed_2d"]


def sincos_pos_embed_2d(grid_size: tuple[int, int], dim: int) -> torch.Tensor:
    """Fixed 2-D sin-cos position embedding as in MAE: [gh * gw, dim], rows in row-major grid order.

    As MAE's `get_2d_sincos_pos_embed` (its meshgrid puts the column index first): the first
    dim/2 channels encode the column x, the last dim/2 the row y; each half is
    [sin(pos * omega), cos(pos * omega)] with omega_i = 1 / 10000^(i / (dim/4)), i < dim/4.
    """
    gh, gw = grid_size
    quarter = dim // 4
    omega = 1.0 / 10000 ** (torch.arange(quarter, dtype=torch.float64) / quarter)  # (dim/4,)
    ys, xs = torch.meshgrid(torch.arange(gh, dtype=torch.float64), torch.arange(gw, dtype=torch.float64),
                            indexing="ij")  # (gh, gw) each

    def encode(pos: torch.Tensor) -> torch.Tensor:
        out = pos.reshape(-1, 1) * omega  # (gh * gw, dim/4)
        return torch.cat([out.sin(), out.cos()], dim=1)  # (gh * gw, dim/2)

    return torch.cat([encode(xs), encode(ys)], dim=1).float()  # (gh * gw, dim)


def resample_pos_embed(pos_embed: torch.Tensor, old_grid: tuple[int, int], new_grid: tuple[int, int],
                       num_prefix_tokens: int, antialias: bool = True) -> torch.Tensor:
    """Resize a learned table [1, P + gh*gw, D] to a new grid by bicubic interpolation (prefix rows kept).

    `antialias=True` matches timm's `resample_abs_pos_embed`; False matches transformers'
    `interpolate_pos_encoding`. Interpolates in float32 and returns the input dtype.
    """
    if tuple(old_grid) == tuple(new_grid):
        return pos_embed
    prefix, grid = pos_embed[:, :num_prefix_tokens], pos_embed[:, num_prefix_tokens:]
    D = pos_embed.shape[-1]
    grid = grid.float().reshape(1, old_grid[0], old_grid[1], D).permute(0, 3, 1, 2)  # (1, D, gh, gw)
    grid = F.interpolate(grid, size=new_grid, mode="bicubic", align_corners=False, antialias=antialias)
    grid = grid.permute(0, 2, 3, 1).reshape(1, new_grid[0] * new_grid[1], D).to(pos_embed.dtype)
    return torch.cat([prefix, grid], dim=1)


def resample_axis_table(table: torch.Tensor, size: int) -> torch.Tensor:
    """Resize a learned 1-axis table [n, C] (the rows or columns of "learn-2d") to [size, C] by linear
    interpolation along the axis (align_corners=False: cell centres keep their relative places). Interpolates in
    float32 and returns the input dtype."""
    if table.shape[0] == size:
        return table
    line = table.float().T.unsqueeze(0)  # (1, C, n)
    line = F.interpolate(line, size=size, mode="linear", align_corners=False)  # (1, C, size)
    return line[0].T.to(table.dtype)
