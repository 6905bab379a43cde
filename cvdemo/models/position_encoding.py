"""2-D position encodings for DETR's feature map.

Both return `[B, d_model, h, w]` for a feature map of size (h, w); the first half of the channels
encodes one axis and the second half the other.

- `PositionEmbeddingSine` (DETR's default): sine/cosine of the cumulative count of *real* (unpadded)
  positions along y then x, normalised to [0, 2*pi]; channels = [pos_y, pos_x].
- `PositionEmbeddingLearned`: one learned row and one learned column embedding (at most 50 each);
  channels = [col (x), row (y)], as in DETR.

`sine_position_encoding_2d(rows, cols, d_model)` is DETR's sine encoding of an unpadded grid as a numpy array
(for figures and other code that does no tensor work).
"""

from __future__ import annotations

import math

import numpy as np
import torch
from torch import nn


class PositionEmbeddingSine(nn.Module):
    """Sine encoding of Attention-Is-All-You-Need, generalised to images (DETR's `normalize=True`)."""

    def __init__(self, num_pos_feats: int = 128, temperature: float = 10000.0, normalize: bool = True,
                 scale: float = 2 * math.pi):
        super().__init__()
        self.num_pos_feats = num_pos_feats
        self.temperature = temperature
        self.normalize = normalize
        self.scale = scale

    def forward(self, mask: torch.Tensor) -> torch.Tensor:
        """mask [B, h, w] bool, True on real (unpadded) positions -> pos [B, 2*num_pos_feats, h, w] float32."""
        not_pad = mask.to(torch.float32)
        y_embed = not_pad.cumsum(1)
        x_embed = not_pad.cumsum(2)
        if self.normalize:
            eps = 1e-6
            y_embed = y_embed / (y_embed[:, -1:, :] + eps) * self.scale
            x_embed = x_embed / (x_embed[:, :, -1:] + eps) * self.scale
        dim_t = torch.arange(self.num_pos_feats, dtype=torch.float32, device=mask.device)
        dim_t = self.temperature ** (2 * torch.div(dim_t, 2, rounding_mode="floor") / self.num_pos_feats)
        pos_x = x_embed[:, :, :, None] / dim_t  # (B, h, w, F)
        pos_y = y_embed[:, :, :, None] / dim_t
        pos_x = torch.stack((pos_x[..., 0::2].sin(), pos_x[..., 1::2].cos()), dim=4).flatten(3)
        pos_y = torch.stack((pos_y[..., 0::2].sin(), pos_y[..., 1::2].cos()), dim=4).flatten(3)
        return torch.cat((pos_y, pos_x), dim=3).permute(0, 3, 1, 2)


class PositionEmbeddingLearned(nn.Module):
    """Learned absolute encoding: `row_embed` (y) and `col_embed` (x), up to 50 positions each."""

    max_positions = 50

    def __init__(self, num_pos_feats: int = 128):
        super().__init__()
        self.row_embed = nn.Embedding(self.max_positions, num_pos_feats)
        self.col_embed = nn.Embedding(self.max_positions, num_pos_feats)
        nn.init.uniform_(self.row_embed.weight)
        nn.init.uniform_(self.col_embed.weight)

    def forward(self, mask: torch.Tensor) -> torch.Tensor:
        """mask [B, h, w] (only its shape is used) -> pos [B, 2*num_pos_feats, h, w]."""
        b, h, w = mask.shape
        if h > self.max_positions or w > self.max_positions:
            raise ValueError(
                f"Feature map {h}x{w} is larger than the learned position embedding "
                f"({self.max_positions}x{self.max_positions}); use a smaller input image."
            )
        x_emb = self.col_embed(torch.arange(w, device=mask.device))  # (w, F)
        y_emb = self.row_embed(torch.arange(h, device=mask.device))  # (h, F)
        pos = torch.cat([x_emb.unsqueeze(0).expand(h, w, -1), y_emb.unsqueeze(1).expand(h, w, -1)], dim=-1)
        return pos.permute(2, 0, 1).unsqueeze(0).expand(b, -1, -1, -1)


def sine_position_encoding_2d(rows: int, cols: int, d_model: int) -> np.ndarray:
    """DETR's sine encoding (`PositionEmbeddingSine(d_model // 2, normalize=True)`) of an unpadded rows x cols
    grid: float64 [d_model, rows, cols], channels [pos_y, pos_x]."""
    if rows < 1 or cols < 1 or d_model < 4 or d_model % 4:
        raise ValueError(f"need rows, cols >= 1 and d_model a multiple of 4, got {rows}, {cols}, {d_model}")
    mask = torch.ones(1, rows, cols, dtype=torch.bool)
    return PositionEmbeddingSine(d_model // 2, normalize=True)(mask)[0].double().numpy()


def build_position_encoding(kind: str, d_model: int) -> nn.Module:
    """kind: "sine" | "learned"; each axis gets d_model // 2 channels."""
    if kind == "sine":
        return PositionEmbeddingSine(d_model // 2, normalize=True)
    if kind == "learned":
        return PositionEmbeddingLearned(d_model // 2)
    raise ValueError(f"Unknown position embedding {kind!r}; choose 'sine' or 'learned'")
