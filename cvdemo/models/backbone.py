"""ResNet backbone for DETR, built from torchvision with frozen batch norm.

The backbone maps images to the last ResNet stage (stride 32, or 16 with dilation):

    pixel_values [B, 3, H, W] -> features [B, C, H/32, W/32]   (C = 2048 for resnet50/101, 512 for 18/34)

Parameter names are torchvision's (`body.conv1`, `body.layer1.0.conv1`, ...), which are also timm's and
the original DETR's, so foreign checkpoints load with a prefix rename only.
"""

from __future__ import annotations

import torch
import torchvision
from torch import nn

RESNET_CHANNELS = {"resnet18": 512, "resnet34": 512, "resnet50": 2048, "resnet101": 2048}


class FrozenBatchNorm2d(nn.Module):
    """BatchNorm2d with fixed statistics and affine parameters (buffers, never trained).

    Identical to DETR's and transformers' version, including eps=1e-5 added before rsqrt.
    """

    def __init__(self, num_features: int, eps: float = 1e-5):
        super().__init__()
        self.eps = eps
        self.register_buffer("weight", torch.ones(num_features))
        self.register_buffer("bias", torch.zeros(num_features))
        self.register_buffer("running_mean", torch.zeros(num_features))
        self.register_buffer("running_var", torch.ones(num_features))

    def _load_from_state_dict(self, state_dict, prefix, *args, **kwargs):
        # torchvision/timm checkpoints carry a counter that frozen BN has no use for.
        state_dict.pop(prefix + "num_batches_tracked", None)
        super()._load_from_state_dict(state_dict, prefix, *args, **kwargs)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        scale = self.weight * (self.running_var + self.eps).rsqrt()
        shift = self.bias - self.running_mean * scale
        return x * scale[None, :, None, None] + shift[None, :, None, None]

    def extra_repr(self) -> str:
        return f"{self.weight.shape[0]}, eps={self.eps}"


class ResNetBackbone(nn.Module):
    """torchvision ResNet up to `layer4`, without pooling and classifier.

    Args:
        name: "resnet18" | "resnet34" | "resnet50" | "resnet101".
        dilation: replace the stride of the last stage by dilation (DETR-DC5, output stride 16;
            bottleneck ResNets only).
        frozen_batchnorm: FrozenBatchNorm2d as in DETR (for pretrained weights); False gives ordinary
            BatchNorm2d, which a model trained from scratch needs.
    """

    def __init__(self, name: str = "resnet50", *, dilation: bool = False, frozen_batchnorm: bool = True):
        super().__init__()
        if name not in RESNET_CHANNELS:
            raise ValueError(f"Unknown backbone {name!r}; choose one of {sorted(RESNET_CHANNELS)}")
        if dilation and name in ("resnet18", "resnet34"):
            raise ValueError(f"dilation (DC5) needs a bottleneck ResNet (resnet50/101), not {name}")
        norm_layer = FrozenBatchNorm2d if frozen_batchnorm else nn.BatchNorm2d
        resnet = getattr(torchvision.models, name)(
            weights=None, replace_stride_with_dilation=[False, False, dilation], norm_layer=norm_layer
        )
        del resnet.avgpool, resnet.fc
        self.body = resnet
        self.num_channels = RESNET_CHANNELS[name]
        self.stride = 16 if dilation else 32

    def forward(self, pixel_values: torch.Tensor) -> torch.Tensor:
        """pixel_values [B, 3, H, W] -> last-stage features [B, C, ceil(H/stride), ceil(W/stride)]."""
        r = self.body
        x = r.maxpool(r.relu(r.bn1(r.conv1(pixel_values))))
        return r.layer4(r.layer3(r.layer2(r.layer1(x))))
