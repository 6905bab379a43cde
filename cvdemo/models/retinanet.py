"""RetinaNet (one-stage, focal loss): torchvision's `RetinaNet` with cvdemo's label convention and `inspect`.

The parts are torchvision's, composed as its `retinanet_resnet50_fpn` builder composes them:

    images -> GeneralizedRCNNTransform (resize so the short side is `min_size`, long side <= `max_size`; normalise)
           -> ResNet + FPN on `returned_layers`, plus P6 and P7 (LastLevelP6P7) on top
           -> AnchorGenerator (several sizes x aspect ratios per level)
           -> RetinaNetHead: per anchor, one sigmoid score per class (no softmax, no background logit: the focal
              loss pushes every class towards 0 on background anchors) and 4 box deltas
           -> eval: per level, scores > `score_thresh`, top `topk_candidates`; per-class NMS over all levels

State-dict names are torchvision's, so its RetinaNet checkpoints load without renames.

Labels: cvdemo's classes are 0..C-1 and torchvision's class column k+1 is class k; column 0 is torchvision's
"__background__" entry (its COCO weights have 91 columns), never a training target. Detections of column 0 are
dropped, so `model(images)` equals torchvision's output without its label-0 detections.

Contracts (boxes are pixel (x1, y1, x2, y2) of the *input* image):
- training: `model(images, targets) -> {"classification", "bbox_regression"}` (scalars); `images` list of float
  [3, H, W] in [0, 1], any sizes; `targets` list of {"boxes": float [n, 4], "labels": int64 [n] in 0..C-1}.
- eval: `model(images) -> [{"boxes" [N, 4], "labels" [N] in 0..C-1, "scores" [N]}]`, best score first.
- `model.inspect(images, nms_iou, score_threshold)`: every stage, see `RetinaNet.inspect`.
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from dataclasses import dataclass, field

import torch
from torch import Tensor
from torchvision.models.detection import _utils as det_utils
from torchvision.models.detection import retinanet as tv_retinanet
from torchvision.models.detection.anchor_utils import AnchorGenerator
from torchvision.models.detection.transform import resize_boxes
from torchvision.ops import batched_nms
from torchvision.ops import boxes as box_ops
from torchvision.ops.feature_pyramid_network import LastLevelP6P7

from cvdemo.models.config_dict import config_from_dict, config_to_dict
from cvdemo.models.faster_rcnn import build_resnet_fpn
from cvdemo.models.image_processing import IMAGENET_MEAN, IMAGENET_STD

MODEL_TYPE = "cvdemo-retinanet"


def _coco_anchor_sizes() -> tuple[tuple[int, ...], ...]:
    """torchvision's RetinaNet anchors: on each level three sizes x, x*2^(1/3), x*2^(2/3), x = 32 .. 512."""
    return tuple((x, int(x * 2 ** (1.0 / 3)), int(x * 2 ** (2.0 / 3))) for x in (32, 64, 128, 256, 512))


@dataclass
class RetinaNetConfig:
    """Every size of a RetinaNet. The defaults are torchvision's `retinanet_resnet50_fpn` (COCO, 90 classes)."""

    backbone: str = "resnet50"  # a torchvision ResNet, built with weights=None
    returned_layers: tuple[int, ...] = (2, 3, 4)  # ResNet stages feeding the FPN; P6, P7 are added on top
    fpn_channels: int = 256
    frozen_batchnorm: bool = True  # FrozenBatchNorm2d as torchvision's COCO models; False: BatchNorm2d (scratch)
    frozen_batchnorm_eps: float = 1e-5  # torchvision's COCO_V1 weights need 0.0
    trainable_backbone_layers: int = 3  # 0..5 ResNet parts trained, counted from layer4
    anchor_sizes: tuple[tuple[int, ...], ...] = field(default_factory=_coco_anchor_sizes)  # pixels, per level
    aspect_ratios: tuple[float, ...] = (0.5, 1.0, 2.0)  # the same on every level
    min_size: int = 800
    max_size: int = 1333
    image_mean: tuple[float, float, float] = IMAGENET_MEAN
    image_std: tuple[float, float, float] = IMAGENET_STD
    score_thresh: float = 0.05  # eval: sigmoid scores at or below this are dropped
    nms_thresh: float = 0.5  # eval: per-class NMS IoU
    detections_per_img: int = 300
    topk_candidates: int = 1000  # eval: best (anchor, class) pairs kept per level before NMS
    fg_iou_thresh: float = 0.5  # training: anchors with IoU >= this to an object are positive ...
    bg_iou_thresh: float = 0.4  # ... and below this negative (in between: ignored)
    num_classes: int = 90  # object classes (COCO: class k is category id k+1)
    id2label: dict[int, str] = field(default_factory=dict)

    model_type = MODEL_TYPE

    def to_dict(self) -> dict:
        return config_to_dict(self)

    @classmethod
    def from_dict(cls, d: dict) -> RetinaNetConfig:
        return config_from_dict(cls, d,
                                tuples=("returned_layers", "aspect_ratios", "image_mean", "image_std"),
                                nested_tuples=("anchor_sizes",))


RETINANET_PRESETS: dict[str, dict] = {
    # sizes only: num_classes and id2label come from the data (the config's default, 90, is COCO's)
    # torchvision's retinanet_resnet50_fpn, for its COCO weights (34.0M weights)
    "r50-fpn": {},
    # trains from scratch on 128 px shapes (objects 19-77 px): ResNet-18 layer2 and layer3 with a 64-channel FPN,
    # P5' and P6' on top: maps 16x16, 8x8, 4x4, 2x2 at 128 px, three anchor sizes per level
    "tiny": dict(backbone="resnet18", returned_layers=(2, 3), fpn_channels=64, frozen_batchnorm=False,
                 trainable_backbone_layers=5, anchor_sizes=((16, 20, 25), (32, 40, 50), (64, 80, 101),
                                                            (128, 161, 203)),
                 min_size=128, max_size=213, detections_per_img=100, topk_candidates=300),
}


def from_config_dict(config: dict) -> RetinaNet:
    """A fresh RetinaNet (random weights) from a `RetinaNetConfig.to_dict()` dict."""
    return RetinaNet(RetinaNetConfig.from_dict(config))


def to_torchvision_targets(targets: Sequence[dict[str, Tensor]]) -> list[dict[str, Tensor]]:
    """cvdemo targets (labels 0..C-1) -> torchvision's (labels 1..C; column 0 is never a target)."""
    return [{**t, "labels": t["labels"] + 1} for t in targets]


def from_torchvision_detections(detections: Sequence[dict[str, Tensor]]) -> list[dict[str, Tensor]]:
    """torchvision's detections -> cvdemo's (labels 0..C-1), without those of the background column 0."""
    out = []
    for d in detections:
        real = d["labels"] > 0
        out.append({"boxes": d["boxes"][real], "labels": d["labels"][real] - 1, "scores": d["scores"][real]})
    return out


class RetinaNet(tv_retinanet.RetinaNet):
    """torchvision's RetinaNet built from a `RetinaNetConfig`; labels 0..C-1 in and out."""

    def __init__(self, config: RetinaNetConfig):
        num_levels = len(config.returned_layers) + 2  # P6 and P7
        if len(config.anchor_sizes) != num_levels:
            raise ValueError(f"anchor_sizes needs one tuple per FPN level ({num_levels}: returned_layers "
                             f"{config.returned_layers} + P6, P7), got {len(config.anchor_sizes)}")
        if len({len(sizes) for sizes in config.anchor_sizes}) != 1:
            raise ValueError(f"every level needs as many anchor sizes (one head serves all levels), "
                             f"got {config.anchor_sizes}")
        backbone = build_resnet_fpn(config.backbone, returned_layers=config.returned_layers,
                                    fpn_channels=config.fpn_channels, frozen_batchnorm=config.frozen_batchnorm,
                                    frozen_batchnorm_eps=config.frozen_batchnorm_eps,
                                    trainable_layers=config.trainable_backbone_layers,
                                    extra_blocks=LastLevelP6P7(config.fpn_channels, config.fpn_channels))
        anchors = AnchorGenerator(config.anchor_sizes, (config.aspect_ratios,) * num_levels)
        super().__init__(backbone, config.num_classes + 1, min_size=config.min_size, max_size=config.max_size,
                         image_mean=list(config.image_mean), image_std=list(config.image_std),
                         anchor_generator=anchors, score_thresh=config.score_thresh, nms_thresh=config.nms_thresh,
                         detections_per_img=config.detections_per_img, fg_iou_thresh=config.fg_iou_thresh,
                         bg_iou_thresh=config.bg_iou_thresh, topk_candidates=config.topk_candidates)
        self.config = config

    def forward(self, images: list[Tensor], targets: list[dict[str, Tensor]] | None = None):
        """training: loss dict; eval: detections (labels 0..C-1). See the module docstring."""
        if self.training:
            if targets is None:
                raise ValueError("RetinaNet in training mode needs targets (boxes and labels per image); "
                                 "call model.eval() to detect")
            return super().forward(images, to_torchvision_targets(targets))
        return from_torchvision_detections(super().forward(images))

    @torch.no_grad()
    def inspect(self, images: list[Tensor], nms_iou: float = 0.5, score_threshold: float = 0.05) -> list[dict]:
        """Every stage of an eval-mode forward, per image (the model must be in eval mode).

        Runs transform -> backbone -> head -> anchors -> `RetinaNet.postprocess_detections` step by step, so at
        `nms_iou=config.nms_thresh, score_threshold=config.score_thresh` "detections" equals `model(images)`.
        All boxes are pixel (x1, y1, x2, y2) of the input image (the transform's resize undone).

        Returns per image (A anchors in all, C classes):
            "resized_size": (h, w) the network saw;
            "anchors": list, one per pyramid level, of [h_l * w_l * anchors_per_cell, 4] (cell by cell, row-major);
            "feature_map_sizes": list of (h_l, w_l);
            "class_probs" [A, C]: sigmoid score of every class for every anchor (column k: class k);
            "detections_before_nms": {"boxes" [M, 4], "labels" [M] 0..C-1, "scores" [M]}: per level the (anchor,
                class) pairs with score > `score_threshold`, at most `topk_candidates` per level, best first;
            "detections": the same after per-class NMS at `nms_iou` (and the `detections_per_img` cap).
        """
        if self.training:
            raise RuntimeError("inspect() shows inference: call model.eval() first")
        original_sizes = [(int(img.shape[-2]), int(img.shape[-1])) for img in images]
        image_list, _ = self.transform(images)
        maps = list(self.backbone(image_list.tensors).values())
        head_outputs = self.head(maps)
        anchors = self.anchor_generator(image_list, maps)
        per_cell = self.anchor_generator.num_anchors_per_location()[0]
        per_level = [m.shape[-2] * m.shape[-1] * per_cell for m in maps]
        results = []
        for i, (size, original) in enumerate(zip(image_list.image_sizes, original_sizes)):
            back = functools.partial(resize_boxes, original_size=size, new_size=original)
            logits = head_outputs["cls_logits"][i]  # (A, C+1)
            candidates = self._detection_candidates(head_outputs["bbox_regression"][i].split(per_level),
                                                    logits.split(per_level), anchors[i].split(per_level), size,
                                                    score_threshold)
            keep = batched_nms(candidates["boxes"], candidates["scores"], candidates["labels"], nms_iou)
            keep = keep[:self.detections_per_img]
            keep = keep[candidates["labels"][keep] > 0]
            real = torch.where(candidates["labels"] > 0)[0]
            order = real[candidates["scores"][real].argsort(descending=True, stable=True)]
            results.append({
                "resized_size": tuple(size),
                "anchors": [back(a) for a in anchors[i].split(per_level)],
                "feature_map_sizes": [tuple(m.shape[-2:]) for m in maps],
                "class_probs": torch.sigmoid(logits[:, 1:]),
                "detections_before_nms": {"boxes": back(candidates["boxes"][order]),
                                          "labels": candidates["labels"][order] - 1,
                                          "scores": candidates["scores"][order]},
                "detections": {"boxes": back(candidates["boxes"][keep]), "labels": candidates["labels"][keep] - 1,
                               "scores": candidates["scores"][keep]},
            })
        return results

    def _detection_candidates(self, deltas: Sequence[Tensor], logits: Sequence[Tensor], anchors: Sequence[Tensor],
                              size: tuple[int, int], score_threshold: float) -> dict[str, Tensor]:
        """(anchor, class column) pairs as `RetinaNet.postprocess_detections` forms them before its NMS, from one
        image's per-level deltas [A_l, 4], logits [A_l, C+1] and anchors [A_l, 4] ->
        {"boxes" [M, 4] (resized pixels, clipped), "scores" [M], "labels" [M] torchvision columns 0..C}."""
        boxes, scores, labels = [], [], []
        for deltas_l, logits_l, anchors_l in zip(deltas, logits, anchors):
            num_columns = logits_l.shape[-1]
            scores_l = torch.sigmoid(logits_l).flatten()
            keep = scores_l > score_threshold
            scores_l, index = scores_l[keep], torch.where(keep)[0]
            scores_l, top = scores_l.topk(det_utils._topk_min(index, self.topk_candidates, 0))
            index = index[top]
            anchor_index = torch.div(index, num_columns, rounding_mode="floor")
            decoded = self.box_coder.decode_single(deltas_l[anchor_index], anchors_l[anchor_index])
            boxes.append(box_ops.clip_boxes_to_image(decoded, size))
            scores.append(scores_l)
            labels.append(index % num_columns)
        return {"boxes": torch.cat(boxes), "scores": torch.cat(scores), "labels": torch.cat(labels)}
