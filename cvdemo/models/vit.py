"""Vision Transformer (ViT, DeiT) with timm's parameter names.

Building blocks in dependency order: `Mlp -> Attention -> Block -> PatchEmbed -> ViT`.
The parameter names are timm's (`patch_embed.proj`, `cls_token`, `dist_token`, `reg_token`, `pos_embed`,
`blocks.N.norm1`, `blocks.N.attn.qkv`, `blocks.N.attn.proj`, `blocks.N.norm2`,
`blocks.N.mlp.fc1`, `blocks.N.mlp.fc2`, `norm`, `fc_norm`, `head`, `head_dist`), so timm checkpoints
load as they are and transformers checkpoints after a short rename
(`cvdemo.models.convert_vit`).

Tensor contract of `ViT.forward(pixel_values [B, C, H, W], return_attention=False)`:
    logits      [B, num_classes]   (pre_logits when num_classes == 0); a distilled DeiT gives
                                   (head(x[:, 0]) + head_dist(x[:, 1])) / 2 in training and eval alike
                                   (timm's `VisionTransformerDistilled` at inference)
    pre_logits  [B, D]             pooled features (CLS token or patch mean), after fc_norm
                                   (distilled: the mean of the CLS and distillation tokens, as timm)
    features    [B, T, D]          all tokens after `norm` (Identity with global_pool="avg", as timm)
    grid_size   (gh, gw)           patch grid of this input, H // patch_size, W // patch_size
    attentions  tuple of depth x [B, heads, T, T]   only with return_attention=True;
                                   softmax(q k^T * scale), rows sum to 1
where T = num_prefix_tokens + gh * gw and patch tokens are in row-major order over the grid.
The prefix tokens come first, in timm's order: the class token (`cls_token`, if any), DeiT's
distillation token (`dist_token`, Touvron et al. 2021, with `distilled=True`), then `reg_tokens`
register tokens (`reg_token`, Darcet et al. 2023, "Vision Transformers Need Registers").

Position embedding (`pos_embed` [1, E, D]), as timm's `_pos_embed`: by default (`no_embed_class=False`,
original ViT / DeiT) E = num_prefix_tokens + gh * gw and the table is added after the prefix tokens are
concatenated, so every prefix token has its own row; with `no_embed_class=True` (DeiT III, and every
timm `vit_*_reg*` model) E = gh * gw: the table is added to the patch tokens only, then the prefix
tokens are put in front with no position embedding.

Model options beyond timm's (issue 16's controlled experiments; the defaults are timm's ViT and keep its parity):
- `pos_embed`: "learn" (timm's 1-D learned table, one row per token), "learn-2d" (the ViT paper's 2-D variant:
  a learned row table `pos_embed_row` [gh, D/2] and column table `pos_embed_col` [gw, D/2]; patch (r, c) gets
  concat(pos_embed_row[r], pos_embed_col[c]); at another grid each table is resampled by linear interpolation along
  its own axis), "sincos" (fixed 2-D sin-cos, MAE's) and "none" (no position information at all). With "learn-2d"
  and "sincos" the prefix tokens get no position embedding (zeros): they are learned vectors already, so a learned
  prefix row would add nothing.
- `act_layer`: the MLP's activation, "gelu" (exact erf) or "relu".
- `norm_layer`: every norm (`blocks.N.norm1/norm2`, `norm`, `fc_norm`), "layernorm" or "batchnorm":
  `TokenBatchNorm`, a `nn.BatchNorm1d(D)` over the (B * T, D) tokens, i.e. per-channel statistics over the batch
  and all tokens (the opposite axis to LayerNorm's per-token statistics over the channels); running statistics in
  eval mode, stored as buffers (`running_mean`, `running_var`, `num_batches_tracked`). Both use `layer_norm_eps`.
"""

from __future__ import annotations

import logging
from dataclasses import asdict, dataclass, field, fields

import torch
import torch.nn.functional as F
from torch import nn

from cvdemo.models.image_input import ImageInput
from cvdemo.models.image_processing import IMAGENET_MEAN, IMAGENET_STD
from cvdemo.models.vit_position import resample_axis_table, resample_pos_embed, sincos_pos_embed_2d

logger = logging.getLogger(__name__)

INCEPTION_MEAN = (0.5, 0.5, 0.5)  # timm's augreg / original JAX ViT weights and transformers' ViT
INCEPTION_STD = (0.5, 0.5, 0.5)

MODEL_TYPE = "cvdemo-vit"
GLOBAL_POOLS = ("token", "avg")
POS_EMBEDS = ("learn", "learn-2d", "sincos", "none")
ACT_LAYERS = ("gelu", "relu")
NORM_LAYERS = ("layernorm", "batchnorm")


@dataclass
class ViTConfig(ImageInput):
    """Sizes and conventions of a ViT. Defaults are ViT-B/16 at 224 (timm `vit_base_patch16_224`)."""

    image_size: int | tuple[int, int] = 224  # trained input side (or (H, W)); fixes the pos_embed grid
    patch_size: int = 16  # square patches, stride = size
    in_chans: int = 3  # input channels
    num_classes: int = 1000  # classifier outputs; 0 = no head (logits are the pooled features)
    embed_dim: int = 768  # token width D
    depth: int = 12  # number of transformer blocks
    num_heads: int = 12  # attention heads per block; D must divide evenly
    mlp_ratio: float = 4.0  # MLP hidden width = int(D * mlp_ratio) unless mlp_dim is given
    mlp_dim: int | None = None  # explicit MLP hidden width (transformers' intermediate_size)
    qkv_bias: bool = True  # bias on the fused q/k/v projection
    class_token: bool = True  # prepend a learned CLS token
    distilled: bool = False  # DeiT: a distillation token after the CLS token, read by a second head head_dist
    reg_tokens: int = 0  # learned register tokens after the CLS (and distillation) token, never read by a head
    no_embed_class: bool = False  # True: pos_embed covers the patches only (timm's register models, DeiT III)
    global_pool: str = "token"  # "token": classify the CLS token; "avg": mean of patch tokens (+ fc_norm)
    pos_embed: str = "learn"  # "learn": learned 1-D table; "learn-2d": learned row + column tables; "sincos":
    #                           fixed 2-D sin-cos (MAE), no parameters; "none": no position embedding
    pos_embed_antialias: bool = True  # resampling: timm uses antialiased bicubic, transformers plain bicubic
    layer_norm_eps: float = 1e-6  # timm 1e-6; transformers' ViT 1e-12 (also BatchNorm's eps with "batchnorm")
    act_layer: str = "gelu"  # MLP activation: "gelu" (exact erf, timm's) or "relu"
    norm_layer: str = "layernorm"  # every norm: "layernorm" (timm's) or "batchnorm" (TokenBatchNorm)
    init_values: float | None = None  # LayerScale (CaiT, DINOv2, timm's register models): a learned per-channel
    #                                   scale on each residual branch, initialised to this; None: no LayerScale
    image_mean: tuple[float, ...] = IMAGENET_MEAN  # per-channel normalisation of [0, 1] pixels
    image_std: tuple[float, ...] = IMAGENET_STD
    id2label: dict[int, str] = field(default_factory=dict)  # class index -> name

    def __post_init__(self) -> None:
        self.normalise_image_fields()
        h, w = self.image_hw
        if min(h, w, self.patch_size, self.in_chans, self.embed_dim, self.depth, self.num_heads) <= 0:
            raise ValueError(f"ViTConfig sizes must be positive: {self}")
        if problems := self.image_problems():
            raise ValueError("; ".join(problems))
        if self.embed_dim % self.num_heads:
            raise ValueError(f"embed_dim {self.embed_dim} is not divisible by num_heads {self.num_heads}")
        if self.global_pool not in GLOBAL_POOLS:
            raise ValueError(f"global_pool must be one of {GLOBAL_POOLS}, got {self.global_pool!r}")
        if self.global_pool == "token" and not self.class_token:
            raise ValueError('global_pool="token" needs class_token=True; use global_pool="avg" without one')
        if self.distilled and not (self.class_token and self.global_pool == "token"):
            raise ValueError('distilled=True (DeiT) needs class_token=True and global_pool="token": the '
                             "logits average the heads on the class and distillation tokens")
        if self.reg_tokens < 0:
            raise ValueError(f"reg_tokens must be >= 0, got {self.reg_tokens}")
        if self.pos_embed not in POS_EMBEDS:
            raise ValueError(f"pos_embed must be one of {POS_EMBEDS}, got {self.pos_embed!r}")
        if self.pos_embed == "sincos" and self.embed_dim % 4:
            raise ValueError(f"sincos position embedding needs embed_dim % 4 == 0, got {self.embed_dim}")
        if self.pos_embed == "learn-2d" and self.embed_dim % 2:
            raise ValueError(f"learn-2d position embedding needs an even embed_dim (row and column halves), "
                             f"got {self.embed_dim}")
        if self.act_layer not in ACT_LAYERS:
            raise ValueError(f"act_layer must be one of {ACT_LAYERS}, got {self.act_layer!r}")
        if self.norm_layer not in NORM_LAYERS:
            raise ValueError(f"norm_layer must be one of {NORM_LAYERS}, got {self.norm_layer!r}")
        if self.num_classes < 0:
            raise ValueError(f"num_classes must be >= 0, got {self.num_classes}")
        if self.init_values is not None and not self.init_values > 0:
            raise ValueError(f"init_values (LayerScale) must be None or > 0, got {self.init_values}")

    @property
    def num_prefix_tokens(self) -> int:
        """Tokens before the patch tokens: the CLS token, the distillation token, the register tokens."""
        return int(self.class_token) + int(self.distilled) + self.reg_tokens

    @property
    def num_pos_embed_prefix_tokens(self) -> int:
        """Rows of `pos_embed` before the patch rows: num_prefix_tokens, or 0 with no_embed_class."""
        return 0 if self.no_embed_class else self.num_prefix_tokens

    @property
    def readout_rows(self) -> tuple[int, ...]:
        """Prefix tokens the classifier reads (global_pool "token"): (0,) the CLS token, or (0, 1) for a
        distilled DeiT (CLS and distillation token, averaged); () with average pooling (the patch tokens)."""
        if self.global_pool != "token":
            return ()
        return (0, 1) if self.distilled else (0,)

    @property
    def hidden_dim(self) -> int:
        """Width of the MLP hidden layer."""
        return self.mlp_dim if self.mlp_dim is not None else int(self.embed_dim * self.mlp_ratio)

    def to_dict(self) -> dict:
        """JSON-able dict (tuples as lists, id2label keys as strings) with `"model_type": "cvdemo-vit"`."""
        d = asdict(self)
        d["image_size"] = list(self.image_size) if isinstance(self.image_size, tuple) else self.image_size
        d["image_mean"] = list(self.image_mean)
        d["image_std"] = list(self.image_std)
        d["id2label"] = {str(k): v for k, v in self.id2label.items()}
        return {"model_type": MODEL_TYPE, **d}

    @classmethod
    def from_dict(cls, d: dict) -> ViTConfig:
        """Inverse of `to_dict`. Unknown keys raise ValueError naming them (`model_type` is allowed)."""
        d = dict(d)
        model_type = d.pop("model_type", MODEL_TYPE)
        if model_type != MODEL_TYPE:
            raise ValueError(f"not a cvdemo ViT config: model_type={model_type!r}, expected {MODEL_TYPE!r}")
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(d) - known)
        if unknown:
            raise ValueError(f"unknown ViTConfig keys {unknown}; known keys are {sorted(known)}")
        return cls(**d)


# Standard timm architecture names -> ViTConfig fields (mean/std of timm's default pretrained tag).
_AUGREG = {"image_mean": INCEPTION_MEAN, "image_std": INCEPTION_STD}
_DEIT = {"image_mean": IMAGENET_MEAN, "image_std": IMAGENET_STD}
_TINY = {"embed_dim": 192, "depth": 12, "num_heads": 3}
_SMALL = {"embed_dim": 384, "depth": 12, "num_heads": 6}
_BASE = {"embed_dim": 768, "depth": 12, "num_heads": 12}
_LARGE = {"embed_dim": 1024, "depth": 24, "num_heads": 16}
_HUGE = {"embed_dim": 1280, "depth": 32, "num_heads": 16}
_MEDIUM = {"embed_dim": 512, "depth": 12, "num_heads": 8}
_BETWIXT = {"embed_dim": 640, "depth": 12, "num_heads": 10}
_DINOV2_REG = {"init_values": 1e-5, "reg_tokens": 4, "no_embed_class": True, "num_classes": 0}
_GAP_REG = {"reg_tokens": 4, "no_embed_class": True, "class_token": False, "global_pool": "avg"}


def _preset(size: dict, patch: int, image: int, norm: dict) -> dict:
    return {**size, "patch_size": patch, "image_size": image, **norm}


VIT_PRESETS: dict[str, dict] = {
    "vit_tiny_patch16_224": _preset(_TINY, 16, 224, _AUGREG),
    "vit_tiny_patch16_384": _preset(_TINY, 16, 384, _AUGREG),
    "vit_small_patch32_224": _preset(_SMALL, 32, 224, _AUGREG),
    "vit_small_patch32_384": _preset(_SMALL, 32, 384, _AUGREG),
    "vit_small_patch16_224": _preset(_SMALL, 16, 224, _AUGREG),
    "vit_small_patch16_384": _preset(_SMALL, 16, 384, _AUGREG),
    "vit_small_patch8_224": _preset(_SMALL, 8, 224, _DEIT),  # DINO weights use ImageNet stats
    "vit_base_patch32_224": _preset(_BASE, 32, 224, _AUGREG),
    "vit_base_patch32_384": _preset(_BASE, 32, 384, _AUGREG),
    "vit_base_patch16_224": _preset(_BASE, 16, 224, _AUGREG),
    "vit_base_patch16_384": _preset(_BASE, 16, 384, _AUGREG),
    "vit_base_patch8_224": _preset(_BASE, 8, 224, _AUGREG),
    "vit_large_patch32_224": _preset(_LARGE, 32, 224, _AUGREG),
    "vit_large_patch32_384": _preset(_LARGE, 32, 384, _AUGREG),
    "vit_large_patch16_224": _preset(_LARGE, 16, 224, _AUGREG),
    "vit_large_patch16_384": _preset(_LARGE, 16, 384, _AUGREG),
    "vit_huge_patch14_224": _preset(_HUGE, 14, 224, _AUGREG),
    "deit_tiny_patch16_224": _preset(_TINY, 16, 224, _DEIT),
    "deit_small_patch16_224": _preset(_SMALL, 16, 224, _DEIT),
    "deit_base_patch16_224": _preset(_BASE, 16, 224, _DEIT),
    "deit_base_patch16_384": _preset(_BASE, 16, 384, _DEIT),
    "deit_tiny_distilled_patch16_224": {**_preset(_TINY, 16, 224, _DEIT), "distilled": True},
    "deit_small_distilled_patch16_224": {**_preset(_SMALL, 16, 224, _DEIT), "distilled": True},
    "deit_base_distilled_patch16_224": {**_preset(_BASE, 16, 224, _DEIT), "distilled": True},
    "deit_base_distilled_patch16_384": {**_preset(_BASE, 16, 384, _DEIT), "distilled": True},
    # register models (Darcet et al. 2024): DINOv2's (LayerScale, CLS + 4 registers, no head) and timm's GAP ones
    **{f"vit_{size}_patch14_reg4_dinov2": {**_preset(dims, 14, 518, _DEIT), **_DINOV2_REG}
       for size, dims in (("small", _SMALL), ("base", _BASE), ("large", _LARGE))},
    "vit_medium_patch16_reg4_gap_256": {**_preset(_MEDIUM, 16, 256, _AUGREG), **_GAP_REG, "init_values": 1e-5},
    "vit_betwixt_patch16_reg4_gap_256": {**_preset(_BETWIXT, 16, 256, _AUGREG), **_GAP_REG, "init_values": 1e-5},
    "vit_base_patch16_reg4_gap_256": {**_preset(_BASE, 16, 256, _AUGREG), **_GAP_REG},
}
# Not here: timm models with SwiGLU MLPs (the giant DINOv2), MAP pooling, or differential / parallel blocks.


class TokenBatchNorm(nn.BatchNorm1d):
    """BatchNorm over the channels of tokens: [..., D] -> [..., D], statistics per channel over every other axis.

    The input is viewed as (N, D) rows (N = B * T for tokens [B, T, D], B for pooled features [B, D]), so in
    training each channel is normalised with the mean/variance of the whole batch and all its tokens, and in eval
    mode with the running statistics. Parameter and buffer names are `nn.BatchNorm1d`'s (weight, bias,
    running_mean, running_var, num_batches_tracked). Training needs more than one row (a single pooled feature
    cannot be normalised).
    """

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        shape = x.shape
        return super().forward(x.reshape(-1, shape[-1])).reshape(shape)  # (N, D) rows, back to [..., D]


def make_norm(kind: str, dim: int, eps: float) -> nn.Module:
    """The norm of `ViTConfig.norm_layer`: "layernorm" -> nn.LayerNorm(dim), "batchnorm" -> TokenBatchNorm(dim)."""
    if kind == "layernorm":
        return nn.LayerNorm(dim, eps=eps)
    if kind == "batchnorm":
        return TokenBatchNorm(dim, eps=eps)
    raise ValueError(f"norm_layer must be one of {NORM_LAYERS}, got {kind!r}")


def make_activation(kind: str) -> nn.Module:
    """The MLP activation of `ViTConfig.act_layer`: "gelu" (exact erf, as timm and transformers' "gelu") or
    "relu"."""
    if kind == "gelu":
        return nn.GELU()
    if kind == "relu":
        return nn.ReLU()
    raise ValueError(f"act_layer must be one of {ACT_LAYERS}, got {kind!r}")


class Mlp(nn.Module):
    """Two-layer MLP, fc1 -> activation (exact GELU by default) -> fc2: [B, T, D] -> [B, T, D]."""

    def __init__(self, dim: int, hidden_dim: int, act_layer: str = "gelu") -> None:
        super().__init__()
        self.fc1 = nn.Linear(dim, hidden_dim)
        self.act = make_activation(act_layer)
        self.fc2 = nn.Linear(hidden_dim, dim)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc2(self.act(self.fc1(x)))


class Attention(nn.Module):
    """Multi-head self-attention with a fused q/k/v projection (timm's layout: rows q, then k, then v).

    forward(x [B, T, D], return_attention) -> (out [B, T, D], attn [B, heads, T, T] or None).
    Without return_attention it runs `F.scaled_dot_product_attention` and materialises nothing.
    """

    def __init__(self, dim: int, num_heads: int, qkv_bias: bool = True) -> None:
        super().__init__()
        self.num_heads = num_heads
        self.head_dim = dim // num_heads
        self.scale = self.head_dim**-0.5
        self.qkv = nn.Linear(dim, dim * 3, bias=qkv_bias)
        self.proj = nn.Linear(dim, dim)

    def forward(self, x: torch.Tensor,
                return_attention: bool = False) -> tuple[torch.Tensor, torch.Tensor | None]:
        B, T, D = x.shape
        qkv = self.qkv(x).reshape(B, T, 3, self.num_heads, self.head_dim)
        qkv = qkv.permute(2, 0, 3, 1, 4)  # (3, B, nh, T, hd)
        q, k, v = qkv.unbind(0)
        if return_attention:
            attn = ((q * self.scale) @ k.transpose(-2, -1)).softmax(dim=-1)  # (B, nh, T, T)
            x = attn @ v
        else:
            attn = None
            x = F.scaled_dot_product_attention(q, k, v)
        x = x.transpose(1, 2).reshape(B, T, D)  # (B, T, nh * hd)
        return self.proj(x), attn


class LayerScale(nn.Module):
    """A learned per-channel scale ``gamma`` [D] of a residual branch (CaiT), timm's ``ls1`` / ``ls2``."""

    def __init__(self, dim: int, init_values: float) -> None:
        super().__init__()
        self.gamma = nn.Parameter(torch.full((dim,), float(init_values)))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x * self.gamma


class Block(nn.Module):
    """Pre-norm transformer block: x + ls1(attn(norm1(x))), then x + ls2(mlp(norm2(x))); ls1/ls2 are `LayerScale`
    with ``init_values``, else the identity (no parameters)."""

    def __init__(self, dim: int, num_heads: int, hidden_dim: int, qkv_bias: bool, eps: float,
                 act_layer: str = "gelu", norm_layer: str = "layernorm", init_values: float | None = None) -> None:
        super().__init__()
        self.norm1 = make_norm(norm_layer, dim, eps)
        self.attn = Attention(dim, num_heads, qkv_bias=qkv_bias)
        self.ls1 = LayerScale(dim, init_values) if init_values is not None else nn.Identity()
        self.norm2 = make_norm(norm_layer, dim, eps)
        self.mlp = Mlp(dim, hidden_dim, act_layer)
        self.ls2 = LayerScale(dim, init_values) if init_values is not None else nn.Identity()

    def forward(self, x: torch.Tensor,
                return_attention: bool = False) -> tuple[torch.Tensor, torch.Tensor | None]:
        y, attn = self.attn(self.norm1(x), return_attention)
        x = x + self.ls1(y)
        x = x + self.ls2(self.mlp(self.norm2(x)))
        return x, attn


class PatchEmbed(nn.Module):
    """Non-overlapping patches by a strided conv: [B, C, H, W] -> [B, D, H / p, W / p]."""

    def __init__(self, patch_size: int, in_chans: int, dim: int) -> None:
        super().__init__()
        self.proj = nn.Conv2d(in_chans, dim, kernel_size=patch_size, stride=patch_size)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.proj(x)


class ViT(nn.Module):
    """Vision Transformer classifier. See the module docstring for the forward contract."""

    def __init__(self, config: ViTConfig) -> None:
        super().__init__()
        self.config = config
        D = config.embed_dim
        self.patch_embed = PatchEmbed(config.patch_size, config.in_chans, D)
        self.cls_token = nn.Parameter(torch.zeros(1, 1, D)) if config.class_token else None
        self.dist_token = nn.Parameter(torch.zeros(1, 1, D)) if config.distilled else None
        self.reg_token = nn.Parameter(torch.zeros(1, config.reg_tokens, D)) if config.reg_tokens else None
        gh, gw = config.grid_size
        self.pos_embed = self.pos_embed_row = self.pos_embed_col = None  # sincos, none: nothing to learn or store
        if config.pos_embed == "learn":
            self.pos_embed = nn.Parameter(torch.zeros(1, config.num_pos_embed_prefix_tokens + gh * gw, D))
        elif config.pos_embed == "learn-2d":
            self.pos_embed_row = nn.Parameter(torch.zeros(gh, D // 2))  # row r -> the first D/2 channels
            self.pos_embed_col = nn.Parameter(torch.zeros(gw, D // 2))  # column c -> the last D/2 channels
        self.blocks = nn.ModuleList(
            Block(D, config.num_heads, config.hidden_dim, config.qkv_bias, config.layer_norm_eps,
                  config.act_layer, config.norm_layer, config.init_values)
            for _ in range(config.depth)
        )
        avg = config.global_pool == "avg"  # as timm: with avg pooling the final norm moves after the pool
        eps, kind = config.layer_norm_eps, config.norm_layer
        self.norm = nn.Identity() if avg else make_norm(kind, D, eps)
        self.fc_norm = make_norm(kind, D, eps) if avg else nn.Identity()
        self.head = nn.Linear(D, config.num_classes) if config.num_classes > 0 else nn.Identity()
        if config.distilled:
            self.head_dist = nn.Linear(D, config.num_classes) if config.num_classes > 0 else nn.Identity()
        self._init_weights()

    def _init_weights(self) -> None:
        """timm's default init: trunc-normal(0.02) linears, pos_embed and dist_token, tiny CLS and register
        tokens, zero biases."""
        for m in self.modules():
            if isinstance(m, nn.Linear):
                nn.init.trunc_normal_(m.weight, std=0.02)
                if m.bias is not None:
                    nn.init.zeros_(m.bias)
        for table in (self.pos_embed, self.pos_embed_row, self.pos_embed_col):
            if table is not None:
                nn.init.trunc_normal_(table, std=0.02)
        if self.cls_token is not None:
            nn.init.normal_(self.cls_token, std=1e-6)
        if self.dist_token is not None:
            nn.init.trunc_normal_(self.dist_token, std=0.02)
        if self.reg_token is not None:
            nn.init.normal_(self.reg_token, std=1e-6)

    def patch_position_table(self, grid: tuple[int, int] | None = None) -> torch.Tensor | None:
        """The position embedding of the patch tokens at `grid` (default: the trained grid): [gh * gw, D] in
        row-major grid order, or None with pos_embed="none". Learned tables are resampled to `grid`
        (bicubic for "learn", linear per axis for "learn-2d")."""
        cfg = self.config
        grid = tuple(grid) if grid is not None else cfg.grid_size
        if cfg.pos_embed == "none":
            return None
        if cfg.pos_embed == "sincos":
            return sincos_pos_embed_2d(grid, cfg.embed_dim)
        if cfg.pos_embed == "learn":
            p = cfg.num_pos_embed_prefix_tokens
            return resample_pos_embed(self.pos_embed, cfg.grid_size, grid, p, antialias=cfg.pos_embed_antialias)[0, p:]
        gh, gw = grid
        rows = resample_axis_table(self.pos_embed_row, gh)  # (gh, D/2)
        cols = resample_axis_table(self.pos_embed_col, gw)  # (gw, D/2)
        return torch.cat([rows[:, None].expand(gh, gw, -1), cols[None].expand(gh, gw, -1)],
                         dim=-1).reshape(gh * gw, -1)  # (gh * gw, D): patch (r, c) = [row r, column c]

    def _position_embedding(self, grid: tuple[int, int], like: torch.Tensor) -> torch.Tensor | None:
        """Position embedding for `grid`: [1, E, D], E = num_pos_embed_prefix_tokens + gh * gw (zeros at the
        prefix positions for sincos and learn-2d, as MAE), or None with pos_embed="none"."""
        cfg = self.config
        if grid != cfg.grid_size and cfg.pos_embed in ("learn", "learn-2d"):
            logger.debug("resampling the learned position embedding from grid %s to %s", cfg.grid_size, grid)
        if cfg.pos_embed == "learn":
            return resample_pos_embed(self.pos_embed, cfg.grid_size, grid, cfg.num_pos_embed_prefix_tokens,
                                      antialias=cfg.pos_embed_antialias)
        pe = self.patch_position_table(grid)
        if pe is None:
            return None
        pe = pe.to(device=like.device, dtype=like.dtype)
        if cfg.num_pos_embed_prefix_tokens:
            pe = torch.cat([pe.new_zeros(cfg.num_pos_embed_prefix_tokens, cfg.embed_dim), pe], dim=0)
        return pe.unsqueeze(0)

    def _prefix_tokens(self, batch: int) -> list[torch.Tensor]:
        """The learned prefix tokens in timm's order (CLS, distillation, registers), each [B, n, D]."""
        tokens = (self.cls_token, self.dist_token, self.reg_token)
        return [t.expand(batch, -1, -1) for t in tokens if t is not None]

    def forward(self, pixel_values: torch.Tensor, return_attention: bool = False) -> dict:
        """pixel_values [B, in_chans, H, W] (H, W multiples of patch_size) -> dict (module docstring)."""
        cfg = self.config
        if pixel_values.ndim != 4 or pixel_values.shape[1] != cfg.in_chans:
            raise ValueError(f"expected pixel_values [B, {cfg.in_chans}, H, W], "
                             f"got {tuple(pixel_values.shape)}")
        H, W = pixel_values.shape[-2:]
        if H % cfg.patch_size or W % cfg.patch_size:
            raise ValueError(f"input size {H}x{W} is not a multiple of patch_size {cfg.patch_size}; "
                             f"resize it (e.g. to {cfg.image_hw[0]}x{cfg.image_hw[1]})")
        x = self.patch_embed(pixel_values)  # (B, D, gh, gw)
        grid = (x.shape[-2], x.shape[-1])
        x = x.flatten(2).transpose(1, 2)  # (B, gh * gw, D), row-major over the grid
        prefix = self._prefix_tokens(x.shape[0])
        pe = self._position_embedding(grid, x)  # (1, E, D) or None ("none")
        if cfg.no_embed_class:  # timm's no_embed_class: add to the patches, then put the prefix in front
            x = torch.cat([*prefix, x if pe is None else x + pe], dim=1)  # (B, T, D)
        else:  # original ViT / DeiT: every token has a row of the table
            x = torch.cat([*prefix, x], dim=1)  # (B, T, D)
            x = x if pe is None else x + pe

        attentions = []
        for block in self.blocks:
            x, attn = block(x, return_attention)
            if return_attention:
                attentions.append(attn)
        x = self.norm(x)

        if cfg.distilled:  # DeiT: both heads, averaged (timm's inference path, which we use in training too)
            pooled = (x[:, 0] + x[:, 1]) / 2
            logits = (self.head(x[:, 0]) + self.head_dist(x[:, 1])) / 2
        else:
            pooled = x[:, 0] if cfg.global_pool == "token" else x[:, cfg.num_prefix_tokens:].mean(dim=1)
            pooled = self.fc_norm(pooled)
            logits = self.head(pooled)
        out = {"logits": logits, "pre_logits": pooled, "features": x, "grid_size": grid}
        if return_attention:
            out["attentions"] = tuple(attentions)
        return out

    @property
    def num_params(self) -> int:
        """Number of parameters."""
        return sum(p.numel() for p in self.parameters())

