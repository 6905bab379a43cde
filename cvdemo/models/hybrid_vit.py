"""A hybrid ViT (Dosovitskiy et al. 2021, §3.1 "Hybrid Architecture"): a small CNN stem turns the image into a
feature map of stride = the patch size, and each cell of that map, projected to the token width by a 1x1 "patch"
(the paper's patches of spatial size 1x1), becomes a token of an ordinary ViT.

Composition, not a copy: `HybridViT` holds a ``stem`` (a 3x3 conv-BN-ReLU of stride 2 to ``stem_widths[0]``, then
one stage of ``stem_depth`` torchvision BasicBlocks of stride 2 per further width, `make_basic_stage`; total stride
2 ** len(stem_widths)) and ``vit``, a `cvdemo.models.vit.ViT` with ``patch_size`` 1 over the stem's channels
(`HybridViTConfig.token_config`). Every ViT option (position embedding, pooling, heads, and whatever
`ViTConfig` gains later) is a key of ``HybridViTConfig.transformer``, passed to that ViT as it is.

Tensor contract of `HybridViT.forward(pixel_values [B, in_chans, H, W], return_attention=False)` (H, W multiples of
``config.patch_size``), the ViT's (`cvdemo.models.vit`), with the stem's stride as the patch size:
    logits       [B, num_classes]
    pre_logits   [B, D]
    features     [B, T, D]   all tokens after the transformer, T = num_prefix_tokens + gh * gw
    grid_size    (gh, gw)    = (H // patch_size, W // patch_size): one token per stem cell, row-major
    feature_map  [B, C, gh, gw]  the stem's output (C = stem_widths[-1])
    attentions   tuple of depth x [B, heads, T, T]   only with return_attention=True
so the ViT explanations (`cvdemo.explain.vit`, which read ``config.num_prefix_tokens`` / ``readout_rows``) and
the feature hint (`cvdemo.training.feature_hint`, which hooks ``model.blocks``) work on it unchanged.

`matched_hybrid_config(vit_config)` keeps the ViT's transformer and picks the stem's widths so that the hybrid has
about the ViT's parameter count (the stem and the 1x1 projection replace the ViT's patch embedding).
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any

import torch
from torch import nn

from cvdemo.models.config_dict import config_from_dict, config_to_dict
from cvdemo.models.image_input import ImageInput
from cvdemo.models.resnet_classifier import init_conv_weights, make_basic_stage
from cvdemo.models.vit import ViT, ViTConfig

__all__ = ["MODEL_TYPE", "HybridViT", "HybridViTConfig", "from_config_dict", "matched_hybrid_config"]

# ViTConfig fields the hybrid sets itself (the token transformer's input is the stem's map, not pixels)
_OWN_FIELDS = ("image_size", "patch_size", "in_chans", "num_classes", "image_mean", "image_std", "id2label")


@dataclass
class HybridViTConfig(ImageInput):
    """Sizes of a `HybridViT` (module docstring). Defaults: a stride-8 stem (16, 32, 64) and the tiny training
    preset's transformer (2 blocks of width 96, 3 heads, average pooling) for 64 px images."""

    model_type = "cvdemo-hybrid-vit"

    image_size: int | tuple[int, int] = 64  # trained input side (or (H, W)); fixes the position table's grid
    in_chans: int = 3
    num_classes: int = 1000
    stem_widths: tuple[int, ...] = (16, 32, 64)  # stem conv, then one stride-2 stage per further width
    stem_depth: int = 1  # BasicBlocks per stem stage
    transformer: dict[str, Any] = field(default_factory=lambda: dict(
        embed_dim=96, depth=2, num_heads=3, global_pool="avg", class_token=False))  # further ViTConfig fields
    image_mean: tuple[float, ...] = (0.5, 0.5, 0.5)  # per-channel normalisation of [0, 1] pixels
    image_std: tuple[float, ...] = (0.5, 0.5, 0.5)
    id2label: dict[int, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.normalise_image_fields()
        self.stem_widths = tuple(int(w) for w in self.stem_widths)
        self.transformer = dict(self.transformer)
        problems = []
        if not self.stem_widths or min(self.stem_widths) < 1 or self.stem_depth < 1:
            problems.append(f"stem_widths {self.stem_widths} and stem_depth {self.stem_depth} must be positive")
        own = sorted(set(_OWN_FIELDS) & set(self.transformer))
        if own:
            problems.append(f"transformer may not set {own}: the hybrid sets them (give them as its own fields)")
        problems += self.image_problems(stride_name="the stem's stride")
        if problems:
            raise ValueError("invalid HybridViTConfig: " + "; ".join(problems))
        self.token_config()  # the transformer's own checks (unknown keys, heads dividing the width, ...)

    @property
    def patch_size(self) -> int:
        """The stem's stride: each token covers patch_size x patch_size pixels, as a ViT patch."""
        return 2 ** len(self.stem_widths)

    def token_config(self) -> ViTConfig:
        """The token transformer's `ViTConfig`: 1x1 patches over the stem's map (its normalisation is the
        identity: the stem's output is fed as it is)."""
        channels = self.stem_widths[-1]
        try:
            return ViTConfig(**self.transformer, image_size=self.grid_size, patch_size=1, in_chans=channels,
                             num_classes=self.num_classes, image_mean=(0.0,) * channels, image_std=(1.0,) * channels,
                             id2label=self.id2label)
        except TypeError as e:  # an unknown key
            known = sorted({f.name for f in dataclasses.fields(ViTConfig)} - set(_OWN_FIELDS))
            raise ValueError(f"invalid HybridViTConfig.transformer {self.transformer}: {e}; keys: {known}") from e

    # what the ViT explanations read from a config
    @property
    def num_prefix_tokens(self) -> int:
        return self.token_config().num_prefix_tokens

    @property
    def readout_rows(self) -> tuple[int, ...]:
        return self.token_config().readout_rows

    @property
    def distilled(self) -> bool:
        return self.token_config().distilled

    @property
    def reg_tokens(self) -> int:
        return self.token_config().reg_tokens

    @property
    def embed_dim(self) -> int:
        return self.token_config().embed_dim

    def to_dict(self) -> dict:
        """JSON-able dict with ``"model_type": "cvdemo-hybrid-vit"``."""
        d = config_to_dict(self)
        d["image_size"] = list(self.image_size) if isinstance(self.image_size, tuple) else self.image_size
        d["transformer"] = {k: list(v) if isinstance(v, tuple) else v for k, v in self.transformer.items()}
        return d

    @classmethod
    def from_dict(cls, d: dict) -> HybridViTConfig:
        """Inverse of `to_dict`; unknown keys raise ValueError naming them."""
        if d.get("model_type", cls.model_type) != cls.model_type:
            raise ValueError(f"not a hybrid ViT config: model_type={d.get('model_type')!r}")
        return config_from_dict(cls, d, tuples=("image_mean", "image_std", "stem_widths"))


MODEL_TYPE = HybridViTConfig.model_type


def _stem(config: HybridViTConfig) -> nn.Sequential:
    """[B, in_chans, H, W] -> [B, stem_widths[-1], H / patch_size, W / patch_size]."""
    w = config.stem_widths
    layers: list[nn.Module] = [nn.Conv2d(config.in_chans, w[0], kernel_size=3, stride=2, padding=1, bias=False),
                               nn.BatchNorm2d(w[0]), nn.ReLU(inplace=True)]
    layers += [make_basic_stage(w[k - 1], w[k], config.stem_depth, stride=2) for k in range(1, len(w))]
    return nn.Sequential(*layers)


class HybridViT(nn.Module):
    """A CNN stem whose feature map gives the tokens of a ViT; see the module docstring."""

    def __init__(self, config: HybridViTConfig) -> None:
        super().__init__()
        self.config = config
        self.stem = _stem(config)
        init_conv_weights(self.stem)
        self.vit = ViT(config.token_config())

    @property
    def blocks(self) -> nn.ModuleList:
        """The transformer blocks (as `ViT.blocks`: the feature hint and attention hooks find them here)."""
        return self.vit.blocks

    def forward(self, pixel_values: torch.Tensor, return_attention: bool = False) -> dict:
        """pixel_values [B, in_chans, H, W] -> dict (module docstring)."""
        cfg = self.config
        if pixel_values.ndim != 4 or pixel_values.shape[1] != cfg.in_chans:
            raise ValueError(f"expected pixel_values [B, {cfg.in_chans}, H, W], got {tuple(pixel_values.shape)}")
        H, W = pixel_values.shape[-2:]
        if H % cfg.patch_size or W % cfg.patch_size:
            raise ValueError(f"input size {H}x{W} is not a multiple of the stem's stride {cfg.patch_size}; "
                             f"resize it (e.g. to {cfg.image_hw[0]}x{cfg.image_hw[1]})")
        feature_map = self.stem(pixel_values)  # (B, C, H / p, W / p)
        out = self.vit(feature_map, return_attention=return_attention)
        out["feature_map"] = feature_map
        return out

    @property
    def num_params(self) -> int:
        return sum(p.numel() for p in self.parameters())


def from_config_dict(config: dict) -> HybridViT:
    """config.json's dict (``model_type`` "cvdemo-hybrid-vit") -> a fresh, randomly initialised model."""
    return HybridViT(HybridViTConfig.from_dict(config))


def _transformer_fields(vit_config: ViTConfig) -> dict[str, Any]:
    """The ViT's transformer options that differ from ViTConfig's defaults, plus its sizes."""
    defaults = ViTConfig()
    sized = ("embed_dim", "depth", "num_heads", "mlp_ratio", "global_pool", "class_token")
    out = {}
    for f in dataclasses.fields(ViTConfig):
        if f.name in _OWN_FIELDS:
            continue
        value = getattr(vit_config, f.name)
        if f.name in sized or value != getattr(defaults, f.name):
            out[f.name] = value
    return out


def matched_hybrid_config(vit_config: ViTConfig, stem_depth: int = 1, max_base_width: float = 128.0
                          ) -> HybridViTConfig:
    """A hybrid with ``vit_config``'s transformer (every option of it), input size, classes, labels and
    normalisation, and a stem of stride ``vit_config.patch_size`` (a power of 2) with widths round(w * 2 ** k),
    w in steps of 0.1, whose parameter count is closest to that of ``ViT(vit_config)`` (counted on the meta device:
    the random generator is left as it is). Raises ValueError for a patch size that is no power of 2 (>= 2)."""
    p = vit_config.patch_size
    if p < 2 or p & (p - 1):
        raise ValueError(f"a hybrid's stem halves the size at each stage: the patch size {p} must be a power of 2")
    stages = p.bit_length() - 1
    with torch.device("meta"):  # count without drawing from the random generator
        reference = ViT(vit_config)
    target = sum(t.numel() for t in reference.parameters())
    common = dict(image_size=vit_config.image_size, in_chans=vit_config.in_chans, num_classes=vit_config.num_classes,
                  stem_depth=stem_depth, transformer=_transformer_fields(vit_config),
                  image_mean=vit_config.image_mean, image_std=vit_config.image_std, id2label=dict(vit_config.id2label))
    # the count is the ViT's minus its patch embedding plus the stem and the 1x1 projection: only the stem varies
    transformer = target - sum(t.numel() for t in reference.patch_embed.parameters())
    best, best_gap = None, None
    for tenths in range(10, int(max_base_width * 10) + 1):
        config = HybridViTConfig(stem_widths=tuple(max(1, round(tenths / 10 * 2 ** k)) for k in range(stages)),
                                 **common)
        with torch.device("meta"):
            stem = sum(t.numel() for t in _stem(config).parameters())
        count = transformer + stem + (config.stem_widths[-1] + 1) * vit_config.embed_dim
        gap = abs(count - target)
        if best_gap is None or gap < best_gap:
            best, best_gap = config, gap
        if count > target:
            break
    return best
