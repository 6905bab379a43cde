"""DETR's encoder-decoder transformer (post-norm, as in the paper), batch-first.

Shapes (B batch, HW flattened feature map in row-major order, Q queries, d d_model, h heads):

    src        [B, HW, d]  projected backbone features
    pos        [B, HW, d]  2-D position encoding, added to queries and keys (never to values)
    pad_mask   [B, HW]     True on *padding* positions (keys that must not be attended to)
    query_pos  [Q, d]      learned object queries; the decoder input itself starts at zeros

Attention weights are only computed when asked (`need_weights=True`); otherwise the fused
`scaled_dot_product_attention` runs and no `[B, h, L, S]` probability tensor is materialised.
"""

from __future__ import annotations

from typing import NamedTuple

import torch
import torch.nn.functional as F
from torch import nn


class MultiheadAttention(nn.Module):
    """Multi-head attention with separate q/k/v projections (so q and k can carry position encodings)."""

    def __init__(self, d_model: int, num_heads: int, dropout: float = 0.0):
        super().__init__()
        if d_model % num_heads:
            raise ValueError(f"d_model={d_model} is not divisible by num_heads={num_heads}")
        self.num_heads = num_heads
        self.head_dim = d_model // num_heads
        self.dropout = dropout
        self.q_proj = nn.Linear(d_model, d_model)
        self.k_proj = nn.Linear(d_model, d_model)
        self.v_proj = nn.Linear(d_model, d_model)
        self.out_proj = nn.Linear(d_model, d_model)

    def forward(self, query: torch.Tensor, key: torch.Tensor, value: torch.Tensor,
                key_padding_mask: torch.Tensor | None = None, need_weights: bool = False,
                ) -> tuple[torch.Tensor, torch.Tensor | None]:
        """query [B, L, d], key/value [B, S, d], key_padding_mask [B, S] (True = ignore).

        Returns (output [B, L, d], weights [B, h, L, S] softmax probabilities or None).
        """
        b, n_q, d = query.shape
        n_k = key.shape[1]
        q = self.q_proj(query).view(b, n_q, self.num_heads, self.head_dim).transpose(1, 2)  # (B, h, L, hd)
        k = self.k_proj(key).view(b, n_k, self.num_heads, self.head_dim).transpose(1, 2)  # (B, h, S, hd)
        v = self.v_proj(value).view(b, n_k, self.num_heads, self.head_dim).transpose(1, 2)
        p = self.dropout if self.training else 0.0
        weights = None
        if need_weights:
            scores = torch.matmul(q, k.transpose(-2, -1)) * self.head_dim**-0.5  # (B, h, L, S)
            if key_padding_mask is not None:
                scores = scores.masked_fill(key_padding_mask[:, None, None, :], float("-inf"))
            weights = scores.softmax(dim=-1)
            if torch.is_grad_enabled() and not weights.requires_grad:
                # a map computed only from frozen tensors (the first decoder layer's self-attention reads only the
                # learned queries) is outside the graph, yet the output still depends on it through v: a leaf
                # that needs a gradient lets explanations (`cvdemo.explain.detr`) take d output / d weights
                weights.requires_grad_(True)
            out = torch.matmul(F.dropout(weights, p, self.training), v)
        else:
            attn_mask = None if key_padding_mask is None else ~key_padding_mask[:, None, None, :]
            out = F.scaled_dot_product_attention(q, k, v, attn_mask=attn_mask, dropout_p=p)
        out = out.transpose(1, 2).reshape(b, n_q, d)
        return self.out_proj(out), weights


class EncoderLayer(nn.Module):
    def __init__(self, d_model: int, num_heads: int, dim_feedforward: int, dropout: float):
        super().__init__()
        self.self_attn = MultiheadAttention(d_model, num_heads, dropout)
        self.linear1 = nn.Linear(d_model, dim_feedforward)
        self.linear2 = nn.Linear(dim_feedforward, d_model)
        self.norm1 = nn.LayerNorm(d_model)
        self.norm2 = nn.LayerNorm(d_model)
        self.dropout = nn.Dropout(dropout)

    def forward(self, src, pos, pad_mask, need_weights=False):
        q = k = src + pos
        attn, weights = self.self_attn(q, k, src, pad_mask, need_weights)
        src = self.norm1(src + self.dropout(attn))
        ffn = self.linear2(self.dropout(F.relu(self.linear1(src))))
        return self.norm2(src + self.dropout(ffn)), weights


class DecoderLayer(nn.Module):
    def __init__(self, d_model: int, num_heads: int, dim_feedforward: int, dropout: float):
        super().__init__()
        self.self_attn = MultiheadAttention(d_model, num_heads, dropout)
        self.cross_attn = MultiheadAttention(d_model, num_heads, dropout)
        self.linear1 = nn.Linear(d_model, dim_feedforward)
        self.linear2 = nn.Linear(dim_feedforward, d_model)
        self.norm1 = nn.LayerNorm(d_model)
        self.norm2 = nn.LayerNorm(d_model)
        self.norm3 = nn.LayerNorm(d_model)
        self.dropout = nn.Dropout(dropout)

    def forward(self, tgt, memory, pos, query_pos, pad_mask, need_weights=False):
        q = k = tgt + query_pos
        attn, self_weights = self.self_attn(q, k, tgt, None, need_weights)
        tgt = self.norm1(tgt + self.dropout(attn))
        attn, cross_weights = self.cross_attn(tgt + query_pos, memory + pos, memory, pad_mask, need_weights)
        tgt = self.norm2(tgt + self.dropout(attn))
        ffn = self.linear2(self.dropout(F.relu(self.linear1(tgt))))
        return self.norm3(tgt + self.dropout(ffn)), self_weights, cross_weights


class TransformerOutput(NamedTuple):
    decoder_states: torch.Tensor  # [num_decoder_layers, B, Q, d], each normalised by decoder.norm
    memory: torch.Tensor  # [B, HW, d]
    encoder_attentions: tuple[torch.Tensor, ...] | None  # each [B, h, HW, HW]
    decoder_attentions: tuple[torch.Tensor, ...] | None  # each [B, h, Q, Q]
    cross_attentions: tuple[torch.Tensor, ...] | None  # each [B, h, Q, HW]


class TransformerEncoder(nn.Module):
    def __init__(self, num_layers: int, **layer_kwargs):
        super().__init__()
        self.layers = nn.ModuleList(EncoderLayer(**layer_kwargs) for _ in range(num_layers))


class TransformerDecoder(nn.Module):
    def __init__(self, num_layers: int, d_model: int, **layer_kwargs):
        super().__init__()
        self.layers = nn.ModuleList(DecoderLayer(d_model=d_model, **layer_kwargs) for _ in range(num_layers))
        self.norm = nn.LayerNorm(d_model)  # applied to every layer's output (aux heads) as in DETR


class Transformer(nn.Module):
    def __init__(self, d_model: int = 256, num_heads: int = 8, num_encoder_layers: int = 6,
                 num_decoder_layers: int = 6, dim_feedforward: int = 2048, dropout: float = 0.1):
        super().__init__()
        kw = dict(num_heads=num_heads, dim_feedforward=dim_feedforward, dropout=dropout)
        self.encoder = TransformerEncoder(num_encoder_layers, d_model=d_model, **kw)
        self.decoder = TransformerDecoder(num_decoder_layers, d_model, **kw)
        self.d_model = d_model
        for p in self.parameters():
            if p.dim() > 1:
                nn.init.xavier_uniform_(p)

    def forward(self, src, pos, pad_mask, query_pos, need_weights: bool = False) -> TransformerOutput:
        """src/pos [B, HW, d], pad_mask [B, HW] or None, query_pos [Q, d]."""
        enc_w, dec_w, cross_w = [], [], []
        memory = src
        for layer in self.encoder.layers:
            memory, w = layer(memory, pos, pad_mask, need_weights)
            enc_w.append(w)
        query_pos = query_pos.unsqueeze(0).expand(src.shape[0], -1, -1)
        tgt = torch.zeros_like(query_pos)
        states = []
        for layer in self.decoder.layers:
            tgt, sw, cw = layer(tgt, memory, pos, query_pos, pad_mask, need_weights)
            states.append(self.decoder.norm(tgt))
            dec_w.append(sw)
            cross_w.append(cw)
        if not need_weights:
            return TransformerOutput(torch.stack(states), memory, None, None, None)
        return TransformerOutput(torch.stack(states), memory, tuple(enc_w), tuple(dec_w), tuple(cross_w))
