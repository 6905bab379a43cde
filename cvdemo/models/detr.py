"""DETR: a ResNet backbone, a transformer encoder-decoder and set-prediction heads.

Output contract of `DETR.forward` (B images, Q queries, C classes; the last logit is "no object"):

    pred_logits  [B, Q, C+1]
    pred_boxes   [B, Q, 4]    normalised (cx, cy, w, h) in [0, 1], relative to the *unpadded* image
    aux_outputs  list of {"pred_logits", "pred_boxes"} for decoder layers 0 .. L-2 (the last layer is the
                 main output), each head applied after the shared decoder norm, as in DETR
    feature_size (h, w) of the backbone feature map; HW = h*w tokens in row-major order
    feature_mask [B, h, w] bool, True on real (unpadded) feature positions

and with `return_attention=True` also

    encoder_attentions  tuple (one per encoder layer) of [B, heads, HW, HW]
    decoder_attentions  tuple (one per decoder layer) of [B, heads, Q, Q]
    cross_attentions    tuple (one per decoder layer) of [B, heads, Q, HW]
"""

from __future__ import annotations

from dataclasses import dataclass, field

import torch
import torch.nn.functional as F
from torch import nn

from cvdemo.models.backbone import ResNetBackbone
from cvdemo.models.config_dict import config_from_dict, config_to_dict
from cvdemo.models.image_processing import IMAGENET_MEAN, IMAGENET_STD
from cvdemo.models.position_encoding import build_position_encoding
from cvdemo.models.transformer import Transformer


@dataclass
class DETRConfig:
    """Every size of a DETR. The defaults are DETR-R50 (facebook/detr-resnet-50)."""

    backbone: str = "resnet50"  # resnet18 | resnet34 | resnet50 | resnet101
    dilation: bool = False  # DC5: dilate the last stage (output stride 16)
    backbone_stages: int = 4  # 2 or 3: stop after layer2/layer3 (stride 8/16, fewer weights), small models
    frozen_batchnorm: bool = True  # frozen BN for pretrained backbones; False to train from scratch
    position_embedding: str = "sine"  # sine | learned
    d_model: int = 256  # transformer width
    num_heads: int = 8
    encoder_layers: int = 6
    decoder_layers: int = 6
    dim_feedforward: int = 2048
    dropout: float = 0.1  # used in training only
    num_queries: int = 100
    num_classes: int = 91  # COCO ids 0..90 (some unused); the no-object logit is index num_classes
    image_mean: tuple[float, float, float] = IMAGENET_MEAN
    image_std: tuple[float, float, float] = IMAGENET_STD
    shortest_edge: int = 800  # preprocessing: resize the short side to this ...
    longest_edge: int = 1333  # ... unless the long side would exceed this
    id2label: dict[int, str] = field(default_factory=dict)

    model_type = "cvdemo-detr"

    def to_dict(self) -> dict:
        return config_to_dict(self)

    @classmethod
    def from_dict(cls, d: dict) -> DETRConfig:
        return config_from_dict(cls, d)


DETR_PRESETS: dict[str, dict] = {
    "detr-resnet-50": {},
    "detr-resnet-101": {"backbone": "resnet101"},
    # a small DETR that trains from scratch on synthetic shapes: resnet18 up to layer2 (stride 8, so a
    # 128 px image gives a 16x16 feature map), 1.7M weights (6.6 MB in fp32)
    "detr-tiny": dict(backbone="resnet18", backbone_stages=2, frozen_batchnorm=False, d_model=128, num_heads=4,
                      encoder_layers=2, decoder_layers=2, dim_feedforward=512, num_queries=10,
                      shortest_edge=128, longest_edge=128),
}


class MLP(nn.Module):
    """A few fully connected layers with ReLU between them (DETR's box head)."""

    def __init__(self, input_dim: int, hidden_dim: int, output_dim: int, num_layers: int):
        super().__init__()
        dims = [input_dim] + [hidden_dim] * (num_layers - 1)
        self.layers = nn.ModuleList(nn.Linear(i, o) for i, o in zip(dims, dims[1:] + [output_dim]))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        for i, layer in enumerate(self.layers):
            x = layer(x) if i == len(self.layers) - 1 else F.relu(layer(x))
        return x


class DETR(nn.Module):
    def __init__(self, config: DETRConfig):
        super().__init__()
        self.config = config
        self.backbone = ResNetBackbone(config.backbone, dilation=config.dilation,
                                       frozen_batchnorm=config.frozen_batchnorm,
                                       num_stages=config.backbone_stages)
        self.position_embedding = build_position_encoding(config.position_embedding, config.d_model)
        self.input_proj = nn.Conv2d(self.backbone.num_channels, config.d_model, kernel_size=1)
        self.query_embed = nn.Embedding(config.num_queries, config.d_model)
        self.transformer = Transformer(config.d_model, config.num_heads, config.encoder_layers,
                                       config.decoder_layers, config.dim_feedforward, config.dropout)
        self.class_embed = nn.Linear(config.d_model, config.num_classes + 1)
        self.bbox_embed = MLP(config.d_model, config.d_model, 4, 3)

    def forward(self, pixel_values: torch.Tensor, pixel_mask: torch.Tensor | None = None,
                return_attention: bool = False) -> dict:
        """pixel_values [B, 3, H, W] normalised; pixel_mask [B, H, W], 1 on real pixels, 0 on padding
        (as in transformers; None = no padding). See the module docstring for the returned dict."""
        b, _, height, width = pixel_values.shape
        features = self.backbone(pixel_values)  # (B, C, h, w)
        h, w = features.shape[-2:]
        if pixel_mask is None:
            mask = torch.ones(b, h, w, dtype=torch.bool, device=pixel_values.device)
        else:
            # nearest-neighbour downsampling of the pixel mask, as DETR does
            mask = F.interpolate(pixel_mask[None].float(), size=(h, w)).to(torch.bool)[0]
        pos = self.position_embedding(mask).to(features.dtype).flatten(2).transpose(1, 2)  # (B, HW, d)
        src = self.input_proj(features).flatten(2).transpose(1, 2)  # (B, HW, d)
        pad_mask = None if pixel_mask is None else ~mask.flatten(1)
        out = self.transformer(src, pos, pad_mask, self.query_embed.weight, need_weights=return_attention)

        logits = self.class_embed(out.decoder_states)  # (L, B, Q, C+1)
        boxes = self.bbox_embed(out.decoder_states).sigmoid()  # (L, B, Q, 4)
        result = {
            "pred_logits": logits[-1],
            "pred_boxes": boxes[-1],
            "aux_outputs": [{"pred_logits": lg, "pred_boxes": bx} for lg, bx in zip(logits[:-1], boxes[:-1])],
            "feature_size": (h, w),
            "feature_mask": mask,
        }
        if return_attention:
            result["encoder_attentions"] = out.encoder_attentions
            result["decoder_attentions"] = out.decoder_attentions
            result["cross_attentions"] = out.cross_attentions
        return result

    def optimize_for_inference(self) -> DETR:
        """Faster inference (in place): the backbone folds its frozen BN into its convolutions and runs
        channels_last, ~2x faster on CPU. Outputs equal the plain model's to fp32 rounding amplified by the
        network (~1e-5 relative on features); the plain model is what parity tests compare bit-for-bit
        against transformers. State-dict names are unchanged, so the model still saves and trains."""
        self.backbone.optimize_for_inference()
        return self

    @property
    def id2label(self) -> dict[int, str]:
        return self.config.id2label
