"""A ResNet image classifier of a chosen size, built from torchvision's `BasicBlock`: the CNN of the notes' claim
"on small data a CNN (ResNet) beats a ViT of the same size" (issue 16).

Layout (torchvision's ResNet-18 names, ``conv1``, ``bn1``, ``layer1`` ... ``fc``): a 3x3 conv-BN-ReLU stem of
width ``widths[0]`` and stride ``stem_stride`` (no max-pool: the inputs are small), then one stage per entry of
``widths``, ``depths[k]`` BasicBlocks each, the first stage at stride 1 and every further one at stride 2, then
global average pooling and a linear head. ``widths = (w, 2w, 4w, 8w)``, ``depths = (2, 2, 2, 2)`` is a ResNet-18
of base width w (torchvision's has w = 64 and a 7x7 stride-2 stem with a max-pool).

`matched_resnet_config(vit_config)` picks the widths round(w * 2 ** k) whose parameter count is closest to a given
ViT's: within 0.3 % for the training presets' ViTs (tiny: 248,449 vs 249,126 weights with widths (10, 19, 38, 76);
small: 829,105 vs 827,014 with (17, 35, 70, 139); tests/test_cnn_classifiers.py checks 10 %).

Tensor contract of `ResNetClassifier.forward(pixel_values [B, in_chans, H, W])` (any H, W >= 1), as the ViT's
for what `cvdemo.training.classification.ClassificationTask` reads:
    logits       [B, num_classes]   (pre_logits when num_classes == 0)
    pre_logits   [B, D]             globally average-pooled last feature map, D = widths[-1]
    feature_map  [B, D, h, w]       the last stage's output, h = ceil(H / config.stride), the same for w
"""

from __future__ import annotations

from dataclasses import dataclass, field

import torch
from torch import nn
from torchvision.models.resnet import BasicBlock, conv1x1

from cvdemo.models.config_dict import config_from_dict, config_to_dict
from cvdemo.models.image_input import ImageInput

__all__ = ["MODEL_TYPE", "ResNetClassifier", "ResNetClassifierConfig", "from_config_dict", "init_conv_weights",
           "make_basic_stage", "matched_resnet_config", "resnet_parameter_count"]


@dataclass
class ResNetClassifierConfig(ImageInput):
    """Sizes of a `ResNetClassifier` (see the module docstring). Defaults: a ResNet-18 of base width 16 for
    64 px images."""

    model_type = "cvdemo-resnet-classifier"

    image_size: int | tuple[int, int] = 64  # the input side (or (H, W)) images are resized to before the model
    in_chans: int = 3
    num_classes: int = 1000  # 0 = no head (logits are the pooled features)
    widths: tuple[int, ...] = (16, 32, 64, 128)  # channels of each stage; the stem has widths[0]
    depths: tuple[int, ...] = (2, 2, 2, 2)  # BasicBlocks per stage
    stem_stride: int = 2  # stride of the 3x3 stem conv (1: CIFAR's ResNet, for tiny inputs)
    image_mean: tuple[float, ...] = (0.5, 0.5, 0.5)  # per-channel normalisation of [0, 1] pixels
    image_std: tuple[float, ...] = (0.5, 0.5, 0.5)
    id2label: dict[int, str] = field(default_factory=dict)  # class index -> name

    def __post_init__(self) -> None:
        self.normalise_image_fields()
        self.widths = tuple(int(w) for w in self.widths)
        self.depths = tuple(int(d) for d in self.depths)
        problems = []
        if not self.widths or len(self.widths) != len(self.depths):
            problems.append(f"widths {self.widths} and depths {self.depths} need one entry per stage each")
        if min((*self.widths, *self.depths, self.stem_stride, self.in_chans, *self.image_hw), default=0) < 1:
            problems.append("sizes must be positive")
        problems += self.image_problems()
        if self.num_classes < 0:
            problems.append(f"num_classes must be >= 0, got {self.num_classes}")
        if problems:
            raise ValueError("invalid ResNetClassifierConfig: " + "; ".join(problems))

    @property
    def patch_size(self) -> int:
        """The input size must be a multiple of this (`vit_transform` checks it): 1, a ResNet takes any size."""
        return 1

    @property
    def stride(self) -> int:
        """Output stride of the last feature map."""
        return self.stem_stride * 2 ** (len(self.widths) - 1)

    def to_dict(self) -> dict:
        """JSON-able dict with ``"model_type": "cvdemo-resnet-classifier"``."""
        d = config_to_dict(self)
        d["image_size"] = list(self.image_size) if isinstance(self.image_size, tuple) else self.image_size
        return d

    @classmethod
    def from_dict(cls, d: dict) -> ResNetClassifierConfig:
        """Inverse of `to_dict`; unknown keys raise ValueError naming them."""
        if d.get("model_type", cls.model_type) != cls.model_type:
            raise ValueError(f"not a ResNet classifier config: model_type={d.get('model_type')!r}")
        return config_from_dict(cls, d, tuples=("image_mean", "image_std", "widths", "depths"))


MODEL_TYPE = ResNetClassifierConfig.model_type


def make_basic_stage(in_channels: int, out_channels: int, depth: int, stride: int) -> nn.Sequential:
    """``depth`` torchvision BasicBlocks, the first at ``stride`` (with a 1x1 conv + BN shortcut when the shape
    changes, as torchvision's `ResNet._make_layer`): [B, in, H, W] -> [B, out, ceil(H / stride), ...]."""
    downsample = None
    if stride != 1 or in_channels != out_channels:
        downsample = nn.Sequential(conv1x1(in_channels, out_channels, stride), nn.BatchNorm2d(out_channels))
    blocks = [BasicBlock(in_channels, out_channels, stride=stride, downsample=downsample)]
    blocks += [BasicBlock(out_channels, out_channels) for _ in range(depth - 1)]
    return nn.Sequential(*blocks)


def init_conv_weights(module: nn.Module) -> None:
    """torchvision's ResNet init: Kaiming-normal (fan-out, ReLU) convolutions, BatchNorm weight 1 and bias 0."""
    for m in module.modules():
        if isinstance(m, nn.Conv2d):
            nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")
        elif isinstance(m, nn.BatchNorm2d):
            nn.init.ones_(m.weight)
            nn.init.zeros_(m.bias)


class ResNetClassifier(nn.Module):
    """A ResNet classifier; see the module docstring for the layout and the forward contract."""

    def __init__(self, config: ResNetClassifierConfig) -> None:
        super().__init__()
        self.config = config
        w = config.widths
        self.conv1 = nn.Conv2d(config.in_chans, w[0], kernel_size=3, stride=config.stem_stride, padding=1,
                               bias=False)
        self.bn1 = nn.BatchNorm2d(w[0])
        self.relu = nn.ReLU(inplace=True)
        self.layers = nn.ModuleList(
            make_basic_stage(w[max(k - 1, 0)], w[k], config.depths[k], 1 if k == 0 else 2) for k in range(len(w)))
        self.fc = nn.Linear(w[-1], config.num_classes) if config.num_classes > 0 else nn.Identity()
        init_conv_weights(self)

    def forward(self, pixel_values: torch.Tensor) -> dict:
        """pixel_values [B, in_chans, H, W] -> {"logits", "pre_logits", "feature_map"} (module docstring)."""
        cfg = self.config
        if pixel_values.ndim != 4 or pixel_values.shape[1] != cfg.in_chans:
            raise ValueError(f"expected pixel_values [B, {cfg.in_chans}, H, W], got {tuple(pixel_values.shape)}")
        x = self.relu(self.bn1(self.conv1(pixel_values)))  # (B, w0, H / s, W / s)
        for layer in self.layers:
            x = layer(x)
        pooled = x.mean(dim=(2, 3))  # (B, D)
        return {"logits": self.fc(pooled), "pre_logits": pooled, "feature_map": x}

    @property
    def num_params(self) -> int:
        return sum(p.numel() for p in self.parameters())


def from_config_dict(config: dict) -> ResNetClassifier:
    """config.json's dict (``model_type`` "cvdemo-resnet-classifier") -> a fresh, randomly initialised model."""
    return ResNetClassifier(ResNetClassifierConfig.from_dict(config))


def _count_parameters(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())


def matched_resnet_config(vit_config, depths: tuple[int, ...] = (2, 2, 2, 2), stem_stride: int = 2,
                          max_base_width: float = 256.0) -> ResNetClassifierConfig:
    """The ResNet of ``depths`` with widths round(w * 2 ** k) whose parameter count is closest to that of a
    `cvdemo.models.vit.ViT` built from ``vit_config`` (same input size, classes, labels and normalisation); w runs
    in steps of 0.1, so the counts differ by about 1 % at most for w >= 5."""
    from cvdemo.models.vit import ViT

    with torch.device("meta"):  # count without drawing from the random generator
        target = _count_parameters(ViT(vit_config))
    common = dict(image_size=vit_config.image_size, in_chans=vit_config.in_chans, num_classes=vit_config.num_classes,
                  depths=tuple(depths), stem_stride=stem_stride, image_mean=vit_config.image_mean,
                  image_std=vit_config.image_std, id2label=dict(vit_config.id2label))
    best, best_gap = None, None
    for tenths in range(10, int(max_base_width * 10) + 1):
        widths = tuple(max(1, round(tenths / 10 * 2 ** k)) for k in range(len(depths)))
        config = ResNetClassifierConfig(widths=widths, **common)
        count = resnet_parameter_count(config)
        gap = abs(count - target)
        if best_gap is None or gap < best_gap:
            best, best_gap = config, gap
        if count > target:
            break
    return best


def resnet_parameter_count(config: ResNetClassifierConfig) -> int:
    """The number of parameters of ``ResNetClassifier(config)``, without building it."""
    w, c = config.widths, config.in_chans

    def conv_bn(cin: int, cout: int, k: int) -> int:
        return cin * cout * k * k + 2 * cout

    total = conv_bn(c, w[0], 3)
    for k, (width, depth) in enumerate(zip(w, config.depths)):
        cin = w[max(k - 1, 0)]
        total += conv_bn(cin, width, 3) + conv_bn(width, width, 3)
        if k > 0 or cin != width:
            total += conv_bn(cin, width, 1)
        total += (depth - 1) * 2 * conv_bn(width, width, 3)
    if config.num_classes > 0:
        total += (w[-1] + 1) * config.num_classes
    return total
