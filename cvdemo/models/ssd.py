"""SSD (one-stage detector): torchvision's `SSD` with cvdemo's label convention and `inspect`.

The parts are torchvision's:

    images -> GeneralizedRCNNTransform (resize to the fixed `size`, whatever the aspect ratio; normalise)
           -> backbone: several feature maps, coarser and coarser (VGG-16 + extra layers for SSD300, or ResNet
              stages + extra stride-2 blocks for the small models)
           -> DefaultBoxGenerator: on map k, at every cell, 2 + 2 * len(aspect_ratios[k]) default boxes of scale
              `scales[k]` (and sqrt(scales[k] * scales[k + 1])) and aspect ratios 1, r, 1/r
           -> SSDHead: per default box C+1 class logits and 4 box deltas (3x3 convolutions on each map)
           -> eval: softmax; per class, scores > `score_thresh`, top `topk_candidates`; per-class NMS

State-dict names are torchvision's (`backbone.features.0.weight`, `head.classification_head.module_list.0.weight`,
...), so torchvision's SSD300 checkpoints load without renames.

Labels: cvdemo's classes are 0..C-1; torchvision keeps 0 for background, so class k is torchvision's label k+1.
The model shifts labels on the way in and out.

Contracts (boxes are pixel (x1, y1, x2, y2) of the *input* image):
- training: `model(images, targets) -> {"bbox_regression", "classification"}` (scalars); `images` list of float
  [3, H, W] in [0, 1], any sizes; `targets` list of {"boxes": float [n, 4], "labels": int64 [n] in 0..C-1}.
- eval: `model(images) -> [{"boxes" [N, 4], "labels" [N] in 0..C-1, "scores" [N]}]`, best score first.
- `model.inspect(images, nms_iou, score_threshold)`: every stage, see `SSD.inspect`.
"""

from __future__ import annotations

import functools
from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass, field

import torch
import torch.nn.functional as F
import torchvision
from torch import Tensor, nn
from torchvision.models._utils import IntermediateLayerGetter
from torchvision.models.detection import _utils as det_utils
from torchvision.models.detection import ssd as tv_ssd
from torchvision.models.detection.anchor_utils import DefaultBoxGenerator
from torchvision.models.detection.transform import resize_boxes
from torchvision.ops import batched_nms
from torchvision.ops import boxes as box_ops

from cvdemo.models.config_dict import config_from_dict, config_to_dict

MODEL_TYPE = "cvdemo-ssd"

RESNETS = ("resnet18", "resnet34")
VGG16_OUT_CHANNELS = (512, 1024, 512, 256, 256, 256)  # SSD300's six maps: conv4_3, fc7, conv8_2 .. conv11_2


@dataclass
class SSDConfig:
    """Every size of an SSD. The defaults are torchvision's `ssd300_vgg16` (COCO, 90 classes)."""

    backbone: str = "vgg16"  # vgg16 (torchvision's SSD300 feature extractor) | resnet18 | resnet34
    size: tuple[int, int] = (300, 300)  # (h, w) every image is resized to
    returned_layers: tuple[int, ...] = ()  # ResNet backbones: stages whose maps the head sees (2: stride 8)
    extra_channels: tuple[int, ...] = ()  # ResNet backbones: widths of the extra stride-2 blocks after them
    trainable_backbone_layers: int = 4  # vgg16: VGG stages trained, counted from the top (0..5)
    aspect_ratios: tuple[tuple[int, ...], ...] = ((2,), (2, 3), (2, 3), (2, 3), (2,), (2,))  # per map
    scales: tuple[float, ...] = (0.07, 0.15, 0.33, 0.51, 0.69, 0.87, 1.05)  # default-box size / image, maps + 1
    steps: tuple[int, ...] | None = (8, 16, 32, 64, 100, 300)  # pixels per cell per map; None: from map sizes
    image_mean: tuple[float, float, float] = (0.48235, 0.45882, 0.40784)
    image_std: tuple[float, float, float] = (1.0 / 255.0, 1.0 / 255.0, 1.0 / 255.0)  # VGG: pixels in 0..255
    score_thresh: float = 0.01  # eval: class scores at or below this are dropped
    nms_thresh: float = 0.45  # eval: per-class NMS IoU
    detections_per_img: int = 200
    topk_candidates: int = 400  # eval: best default boxes kept per class before NMS
    iou_thresh: float = 0.5  # training: a default box with IoU >= this to an object is positive
    positive_fraction: float = 0.25  # training: hard negative mining keeps 3 negatives per positive
    num_classes: int = 90  # object classes, background not counted (COCO: class k is category id k+1)
    id2label: dict[int, str] = field(default_factory=dict)

    model_type = MODEL_TYPE

    def to_dict(self) -> dict:
        return config_to_dict(self)

    @classmethod
    def from_dict(cls, d: dict) -> SSDConfig:
        return config_from_dict(cls, d,
                                tuples=("size", "returned_layers", "extra_channels", "scales", "image_mean",
                                        "image_std", "steps"),
                                nested_tuples=("aspect_ratios",))


SSD_PRESETS: dict[str, dict] = {
    # sizes only: num_classes and id2label come from the data (the config's default, 90, is COCO's)
    # torchvision's ssd300_vgg16, for its COCO weights (35.6M weights)
    "ssd300-vgg16": {},
    # trains from scratch on 128 px shapes (objects 0.15-0.6 of the image): ResNet-18 layer2 (16x16 at 128 px)
    # and layer3 (8x8), then extra blocks giving 4x4, 2x2 and 1x1 maps: five scales of default boxes
    "tiny": dict(backbone="resnet18", size=(128, 128), returned_layers=(2, 3), extra_channels=(256, 128, 128),
                 aspect_ratios=((2,), (2, 3), (2, 3), (2,), (2,)), scales=(0.1, 0.2, 0.35, 0.5, 0.7, 0.9),
                 steps=None, image_mean=(0.485, 0.456, 0.406), image_std=(0.229, 0.224, 0.225),
                 detections_per_img=100, topk_candidates=200),
}


def from_config_dict(config: dict) -> SSD:
    """A fresh SSD (random weights) from an `SSDConfig.to_dict()` dict."""
    return SSD(SSDConfig.from_dict(config))


class ResNetSSDFeatures(nn.Module):
    """torchvision ResNet stages (weights=None, BatchNorm2d) + extra blocks (1x1 conv to half width, 3x3 conv
    stride 2), SSD-style.

    pixel_values [B, 3, H, W] -> OrderedDict {"0": map of returned_layers[0], ..., then one per extra block},
    each [B, out_channels[i], h_i, w_i], each extra map half the size of the one before it.
    """

    def __init__(self, name: str, returned_layers: Sequence[int], extra_channels: Sequence[int]):
        super().__init__()
        if name not in RESNETS:
            raise ValueError(f"SSD backbone {name!r} unknown; choose vgg16 or one of {list(RESNETS)}")
        layers = list(returned_layers)
        if not layers or layers != sorted(set(layers)) or layers[0] < 1 or layers[-1] > 4:
            raise ValueError(f"returned_layers must be increasing ResNet stages in 1..4, got {returned_layers}")
        resnet = getattr(torchvision.models, name)(weights=None)
        widths = [resnet.inplanes // 8 * 2 ** (k - 1) for k in layers]  # layer4 is 512 wide, each stage halves
        self.body = IntermediateLayerGetter(resnet, {f"layer{k}": str(i) for i, k in enumerate(layers)})
        blocks, width = [], widths[-1]
        for out in extra_channels:
            blocks.append(nn.Sequential(
                nn.Conv2d(width, out // 2, kernel_size=1, bias=False), nn.BatchNorm2d(out // 2), nn.ReLU(inplace=True),
                nn.Conv2d(out // 2, out, kernel_size=3, stride=2, padding=1, bias=False), nn.BatchNorm2d(out),
                nn.ReLU(inplace=True),
            ))
            width = out
        self.extra = nn.ModuleList(blocks)
        self.out_channels = widths + list(extra_channels)

    def forward(self, x: Tensor) -> OrderedDict[str, Tensor]:
        maps = OrderedDict(self.body(x))
        x = next(reversed(maps.values()))
        for block in self.extra:
            x = block(x)
            maps[str(len(maps))] = x
        return maps


def build_backbone(config: SSDConfig) -> tuple[nn.Module, list[int]]:
    """(feature extractor, channels of each of its maps) for `config.backbone`."""
    if config.backbone == "vgg16":
        vgg = torchvision.models.vgg16(weights=None)
        return tv_ssd._vgg_extractor(vgg, False, config.trainable_backbone_layers), list(VGG16_OUT_CHANNELS)
    backbone = ResNetSSDFeatures(config.backbone, config.returned_layers, config.extra_channels)
    return backbone, backbone.out_channels


def to_torchvision_targets(targets: Sequence[dict[str, Tensor]]) -> list[dict[str, Tensor]]:
    """cvdemo targets (labels 0..C-1) -> torchvision's (labels 1..C, 0 = background)."""
    return [{**t, "labels": t["labels"] + 1} for t in targets]


class SSD(tv_ssd.SSD):
    """torchvision's SSD built from an `SSDConfig`; labels 0..C-1 in and out (see the module docstring)."""

    def __init__(self, config: SSDConfig):
        backbone, channels = build_backbone(config)
        if not len(channels) == len(config.aspect_ratios) == len(config.scales) - 1:
            raise ValueError(f"the backbone gives {len(channels)} feature maps: aspect_ratios needs one entry per "
                             f"map ({len(config.aspect_ratios)} given) and scales one more ({len(config.scales)})")
        if config.steps is not None and len(config.steps) != len(channels):
            raise ValueError(f"steps needs one entry per feature map ({len(channels)}), got {config.steps}")
        anchors = DefaultBoxGenerator([list(r) for r in config.aspect_ratios], scales=list(config.scales),
                                      steps=None if config.steps is None else list(config.steps))
        head = tv_ssd.SSDHead(channels, anchors.num_anchors_per_location(), config.num_classes + 1)
        super().__init__(backbone, anchors, tuple(config.size), config.num_classes + 1,
                         image_mean=list(config.image_mean), image_std=list(config.image_std), head=head,
                         score_thresh=config.score_thresh, nms_thresh=config.nms_thresh,
                         detections_per_img=config.detections_per_img, iou_thresh=config.iou_thresh,
                         topk_candidates=config.topk_candidates, positive_fraction=config.positive_fraction)
        self.config = config

    def forward(self, images: list[Tensor], targets: list[dict[str, Tensor]] | None = None):
        """training: loss dict; eval: detections (labels 0..C-1). See the module docstring."""
        if self.training:
            if targets is None:
                raise ValueError("SSD in training mode needs targets (boxes and labels per image); "
                                 "call model.eval() to detect")
            return super().forward(images, to_torchvision_targets(targets))
        return [{"boxes": d["boxes"], "labels": d["labels"] - 1, "scores": d["scores"]}
                for d in super().forward(images)]

    @torch.no_grad()
    def inspect(self, images: list[Tensor], nms_iou: float = 0.5, score_threshold: float = 0.05) -> list[dict]:
        """Every stage of an eval-mode forward, per image (the model must be in eval mode).

        Runs transform -> backbone -> head -> default boxes -> the post-processing of `SSD.postprocess_detections`
        step by step, so at `nms_iou=config.nms_thresh, score_threshold=config.score_thresh` "detections" equals
        `model(images)`. All boxes are pixel (x1, y1, x2, y2) of the input image (the resize to `size` undone).

        Returns per image (A default boxes in all, C classes):
            "default_boxes": list, one per feature map k, of [h_k * w_k * anchors_k, 4] (cell by cell, row-major,
                the cell's boxes together), centred on the cells; as torchvision's DefaultBoxGenerator makes them,
                widths and heights are at most the image's, but boxes near a border reach past it;
            "feature_map_sizes": list of (h_k, w_k);
            "class_probs" [A, C+1]: softmax of each default box's logits, column 0 background, column k+1 class k;
            "decoded_boxes" [A, 4]: each default box moved by its predicted deltas (clipped);
            "detections_before_nms": {"boxes" [M, 4], "labels" [M] 0..C-1, "scores" [M]}: per class, the default
                boxes with score > `score_threshold` (at most `topk_candidates` each), best first;
            "detections": the same after per-class NMS at `nms_iou` (and the `detections_per_img` cap).
        """
        if self.training:
            raise RuntimeError("inspect() shows inference: call model.eval() first")
        original_sizes = [(int(img.shape[-2]), int(img.shape[-1])) for img in images]
        image_list, _ = self.transform(images)
        maps = list(self.backbone(image_list.tensors).values())
        head_outputs = self.head(maps)
        anchors = self.anchor_generator(image_list, maps)
        probs = F.softmax(head_outputs["cls_logits"], dim=-1)
        per_location = self.anchor_generator.num_anchors_per_location()
        per_map = [m.shape[-2] * m.shape[-1] * n for m, n in zip(maps, per_location)]  # default boxes per map
        results = []
        for deltas, scores, defaults, size, original in zip(head_outputs["bbox_regression"], probs, anchors,
                                                            image_list.image_sizes, original_sizes):
            back = functools.partial(resize_boxes, original_size=size, new_size=original)
            boxes = box_ops.clip_boxes_to_image(self.box_coder.decode_single(deltas, defaults), size)
            candidates = self._detection_candidates(boxes, scores, score_threshold)
            keep = batched_nms(candidates["boxes"], candidates["scores"], candidates["labels"], nms_iou)
            keep = keep[:self.detections_per_img]
            order = candidates["scores"].argsort(descending=True, stable=True)
            results.append({
                "default_boxes": [back(b) for b in defaults.split(per_map)],
                "feature_map_sizes": [tuple(m.shape[-2:]) for m in maps],
                "class_probs": scores,
                "decoded_boxes": back(boxes),
                "detections_before_nms": {"boxes": back(candidates["boxes"][order]),
                                          "labels": candidates["labels"][order] - 1,
                                          "scores": candidates["scores"][order]},
                "detections": {"boxes": back(candidates["boxes"][keep]), "labels": candidates["labels"][keep] - 1,
                               "scores": candidates["scores"][keep]},
            })
        return results

    def _detection_candidates(self, boxes: Tensor, scores: Tensor, score_threshold: float) -> dict[str, Tensor]:
        """(default box, class) pairs as `SSD.postprocess_detections` forms them before its NMS.

        boxes [A, 4] decoded and clipped, scores [A, C+1] -> {"boxes" [M, 4], "scores" [M], "labels" [M] 1..C}."""
        kept_boxes, kept_scores, kept_labels = [], [], []
        for label in range(1, scores.shape[-1]):
            score = scores[:, label]
            keep = score > score_threshold
            score, box = score[keep], boxes[keep]
            score, idxs = score.topk(det_utils._topk_min(score, self.topk_candidates, 0))
            kept_boxes.append(box[idxs])
            kept_scores.append(score)
            kept_labels.append(torch.full_like(score, fill_value=label, dtype=torch.int64))
        return {"boxes": torch.cat(kept_boxes), "scores": torch.cat(kept_scores), "labels": torch.cat(kept_labels)}
