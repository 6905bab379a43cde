"""Faster R-CNN (two-stage detector): torchvision's `FasterRCNN` with cvdemo's label convention and `inspect`.

The parts are torchvision's, composed as its `fasterrcnn_resnet50_fpn` builder composes them:

    images -> GeneralizedRCNNTransform (resize so the short side is `min_size`, long side <= `max_size`; normalise)
           -> ResNet + FPN (BackboneWithFPN: one map per ResNet stage in `returned_layers`, plus a max-pooled level)
           -> RPN (AnchorGenerator + RPNHead: objectness and box deltas per anchor; top-k per level, NMS)
           -> RoI heads (MultiScaleRoIAlign 7x7 -> TwoMLPHead -> FastRCNNPredictor: C+1 class logits and
              per-class box deltas per proposal; score threshold, per-class NMS)

State-dict names are torchvision's (`backbone.body.layer1.0.conv1.weight`, `rpn.head.conv.0.0.weight`,
`roi_heads.box_predictor.cls_score.weight`, ...), so torchvision's checkpoints load without renames.

Labels: cvdemo's classes are 0..C-1 (as DETR's `id2label`); torchvision keeps 0 for background, so class k is
torchvision's label k+1. The model shifts labels on the way in and out: callers never see the background index.

Contracts (B images, any sizes; boxes are pixel (x1, y1, x2, y2) of the *input* image):
- training: `model(images, targets) -> {"loss_classifier", "loss_box_reg", "loss_objectness",
  "loss_rpn_box_reg"}` (scalars); `images` list of float [3, H, W] in [0, 1]; `targets` list of
  {"boxes": float [n, 4], "labels": int64 [n] in 0..C-1}.
- eval: `model(images) -> [{"boxes" [N, 4], "labels" [N] in 0..C-1, "scores" [N]}]`, best score first.
- `model.inspect(images, nms_iou, score_threshold)`: every stage, see `FasterRCNN.inspect`.
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from dataclasses import dataclass, field

import torch
import torch.nn.functional as F
import torchvision
from torch import Tensor, nn
from torchvision.models.detection import faster_rcnn as tv_faster_rcnn
from torchvision.models.detection.anchor_utils import AnchorGenerator
from torchvision.models.detection.backbone_utils import BackboneWithFPN
from torchvision.models.detection.rpn import RPNHead, concat_box_prediction_layers
from torchvision.models.detection.transform import resize_boxes
from torchvision.ops import MultiScaleRoIAlign, batched_nms
from torchvision.ops import boxes as box_ops
from torchvision.ops.feature_pyramid_network import ExtraFPNBlock
from torchvision.ops.misc import FrozenBatchNorm2d

from cvdemo.models.config_dict import config_from_dict, config_to_dict
from cvdemo.models.image_processing import IMAGENET_MEAN, IMAGENET_STD

MODEL_TYPE = "cvdemo-faster-rcnn"

RESNETS = ("resnet18", "resnet34", "resnet50", "resnet101")


@dataclass
class FasterRCNNConfig:
    """Every size of a Faster R-CNN. The defaults are torchvision's `fasterrcnn_resnet50_fpn` (COCO, 90 classes)."""

    backbone: str = "resnet50"  # a torchvision ResNet, built with weights=None
    returned_layers: tuple[int, ...] = (1, 2, 3, 4)  # ResNet stages feeding the FPN (strides 4, 8, 16, 32)
    fpn_channels: int = 256  # channels of every FPN level (RPN and RoI heads see these)
    frozen_batchnorm: bool = True  # FrozenBatchNorm2d as torchvision's COCO models; False: BatchNorm2d (scratch)
    frozen_batchnorm_eps: float = 1e-5  # torchvision's COCO_V1 weights need 0.0 (its `overwrite_eps`)
    trainable_backbone_layers: int = 3  # 0..5 ResNet parts trained, counted from layer4 (5 = all, bn1 too)
    anchor_sizes: tuple[tuple[int, ...], ...] = ((32,), (64,), (128,), (256,), (512,))  # pixels, per FPN level
    aspect_ratios: tuple[float, ...] = (0.5, 1.0, 2.0)  # anchor h/w ratios, the same on every level
    roi_output_size: int = 7  # MultiScaleRoIAlign's output (7x7)
    representation_size: int = 1024  # width of the box head's two fully connected layers
    min_size: int = 800  # the transform resizes the short side to this ...
    max_size: int = 1333  # ... unless the long side would exceed this
    image_mean: tuple[float, float, float] = IMAGENET_MEAN
    image_std: tuple[float, float, float] = IMAGENET_STD
    rpn_pre_nms_top_n_train: int = 2000  # proposals kept per FPN level before the RPN's NMS
    rpn_pre_nms_top_n_test: int = 1000
    rpn_post_nms_top_n_train: int = 2000  # proposals kept per image after it
    rpn_post_nms_top_n_test: int = 1000
    rpn_nms_thresh: float = 0.7
    rpn_batch_size_per_image: int = 256  # anchors sampled for the RPN loss
    box_score_thresh: float = 0.05  # eval: class scores at or below this are dropped
    box_nms_thresh: float = 0.5  # eval: per-class NMS IoU
    box_detections_per_img: int = 100
    box_batch_size_per_image: int = 512  # RoIs sampled for the box head's loss
    num_classes: int = 90  # object classes, background not counted (COCO: class k is category id k+1)
    id2label: dict[int, str] = field(default_factory=dict)

    model_type = MODEL_TYPE

    def to_dict(self) -> dict:
        return config_to_dict(self)

    @classmethod
    def from_dict(cls, d: dict) -> FasterRCNNConfig:
        return config_from_dict(cls, d,
                                tuples=("returned_layers", "aspect_ratios", "image_mean", "image_std"),
                                nested_tuples=("anchor_sizes",))


FASTER_RCNN_PRESETS: dict[str, dict] = {
    # sizes only: num_classes and id2label come from the data (the config's default, 90, is COCO's)
    # torchvision's fasterrcnn_resnet50_fpn, for its COCO weights (41.8M weights)
    "r50-fpn": {},
    # trains from scratch on 128 px shapes (objects 0.15-0.6 of the image, 19-77 px): ResNet-18 up to layer3
    # with a 64-channel FPN on strides 8, 16 and a pooled 32, two anchor sizes per level, a thin box head.
    "tiny": dict(backbone="resnet18", returned_layers=(2, 3), fpn_channels=64, frozen_batchnorm=False,
                 trainable_backbone_layers=5, anchor_sizes=((16, 24), (32, 48), (64, 96)), representation_size=256,
                 min_size=128, max_size=213, rpn_pre_nms_top_n_train=600, rpn_pre_nms_top_n_test=300,
                 rpn_post_nms_top_n_train=300, rpn_post_nms_top_n_test=100, rpn_batch_size_per_image=128,
                 box_batch_size_per_image=128),
}


def from_config_dict(config: dict) -> FasterRCNN:
    """A fresh Faster R-CNN (random weights) from a `FasterRCNNConfig.to_dict()` dict."""
    return FasterRCNN(FasterRCNNConfig.from_dict(config))


def build_resnet_fpn(name: str, *, returned_layers: Sequence[int], fpn_channels: int, frozen_batchnorm: bool,
                     frozen_batchnorm_eps: float, trainable_layers: int,
                     extra_blocks: ExtraFPNBlock | None = None) -> BackboneWithFPN:
    """torchvision ResNet `name` (weights=None) + FPN, as `backbone_utils._resnet_fpn_extractor` builds it, with the
    FPN width and norm layer as arguments (Faster R-CNN and RetinaNet use it).

    Output: OrderedDict {"0": the map of returned_layers[0] (stride 2^(k+1) for layer k), ..., then the extra
    levels (default: "pool", a max-pooled last level)}, every map `fpn_channels` wide.
    """
    if name not in RESNETS:
        raise ValueError(f"Unknown backbone {name!r}; choose one of {list(RESNETS)}")
    layers = list(returned_layers)
    if not layers or layers != sorted(set(layers)) or layers[0] < 1 or layers[-1] > 4:
        raise ValueError(f"returned_layers must be increasing ResNet stages in 1..4, got {returned_layers}")
    if not 0 <= trainable_layers <= 5:
        raise ValueError(f"trainable_backbone_layers must be in 0..5, got {trainable_layers}")
    norm_layer = FrozenBatchNorm2d if frozen_batchnorm else nn.BatchNorm2d
    resnet = getattr(torchvision.models, name)(weights=None, norm_layer=norm_layer)
    trained = ["layer4", "layer3", "layer2", "layer1", "conv1"][:trainable_layers]
    if trainable_layers == 5:
        trained.append("bn1")
    for parameter_name, parameter in resnet.named_parameters():
        if not any(parameter_name.startswith(prefix) for prefix in trained):
            parameter.requires_grad_(False)
    # inplanes is layer4's width (512 or 2048) and every stage halves it going down, as torchvision counts
    in_channels = [resnet.inplanes // 8 * 2 ** (k - 1) for k in layers]
    return_layers = {f"layer{k}": str(i) for i, k in enumerate(layers)}
    backbone = BackboneWithFPN(resnet, return_layers, in_channels, fpn_channels, extra_blocks=extra_blocks)
    for module in backbone.modules():
        if isinstance(module, FrozenBatchNorm2d):  # torchvision's overwrite_eps touches only these
            module.eps = frozen_batchnorm_eps
    return backbone


def to_torchvision_targets(targets: Sequence[dict[str, Tensor]]) -> list[dict[str, Tensor]]:
    """cvdemo targets (labels 0..C-1) -> torchvision's (labels 1..C, 0 = background)."""
    return [{**t, "labels": t["labels"] + 1} for t in targets]


def from_torchvision_detections(detections: Sequence[dict[str, Tensor]]) -> list[dict[str, Tensor]]:
    """torchvision's detections (labels 1..C) -> cvdemo's {"boxes", "labels" 0..C-1, "scores"}."""
    return [{"boxes": d["boxes"], "labels": d["labels"] - 1, "scores": d["scores"]} for d in detections]


class FasterRCNN(tv_faster_rcnn.FasterRCNN):
    """torchvision's FasterRCNN built from a `FasterRCNNConfig`; labels 0..C-1 in and out (see the module
    docstring for the contracts)."""

    def __init__(self, config: FasterRCNNConfig):
        num_levels = len(config.returned_layers) + 1  # the FPN adds a max-pooled level on top
        if len(config.anchor_sizes) != num_levels:
            raise ValueError(f"anchor_sizes needs one tuple per FPN level ({num_levels}: returned_layers "
                             f"{config.returned_layers} + 'pool'), got {len(config.anchor_sizes)}")
        if len({len(sizes) for sizes in config.anchor_sizes}) != 1:
            raise ValueError(f"every FPN level needs as many anchor sizes (one RPN head serves all levels), "
                             f"got {config.anchor_sizes}")
        backbone = build_resnet_fpn(config.backbone, returned_layers=config.returned_layers,
                                    fpn_channels=config.fpn_channels, frozen_batchnorm=config.frozen_batchnorm,
                                    frozen_batchnorm_eps=config.frozen_batchnorm_eps,
                                    trainable_layers=config.trainable_backbone_layers)
        anchors = AnchorGenerator(config.anchor_sizes, (config.aspect_ratios,) * num_levels)
        roi_pool = MultiScaleRoIAlign(featmap_names=[str(i) for i in range(num_levels - 1)],
                                      output_size=config.roi_output_size, sampling_ratio=2)
        box_head = tv_faster_rcnn.TwoMLPHead(config.fpn_channels * config.roi_output_size ** 2,
                                             config.representation_size)
        predictor = tv_faster_rcnn.FastRCNNPredictor(config.representation_size, config.num_classes + 1)
        super().__init__(
            backbone, num_classes=None, min_size=config.min_size, max_size=config.max_size,
            image_mean=list(config.image_mean), image_std=list(config.image_std),
            rpn_anchor_generator=anchors, rpn_head=RPNHead(config.fpn_channels, anchors.num_anchors_per_location()[0]),
            rpn_pre_nms_top_n_train=config.rpn_pre_nms_top_n_train,
            rpn_pre_nms_top_n_test=config.rpn_pre_nms_top_n_test,
            rpn_post_nms_top_n_train=config.rpn_post_nms_top_n_train,
            rpn_post_nms_top_n_test=config.rpn_post_nms_top_n_test, rpn_nms_thresh=config.rpn_nms_thresh,
            rpn_batch_size_per_image=config.rpn_batch_size_per_image,
            box_roi_pool=roi_pool, box_head=box_head, box_predictor=predictor,
            box_score_thresh=config.box_score_thresh, box_nms_thresh=config.box_nms_thresh,
            box_detections_per_img=config.box_detections_per_img,
            box_batch_size_per_image=config.box_batch_size_per_image,
        )
        self.config = config

    def forward(self, images: list[Tensor], targets: list[dict[str, Tensor]] | None = None):
        """training: loss dict; eval: detections (labels 0..C-1). See the module docstring."""
        if self.training:
            if targets is None:
                raise ValueError("Faster R-CNN in training mode needs targets (boxes and labels per image); "
                                 "call model.eval() to detect")
            return super().forward(images, to_torchvision_targets(targets))
        return from_torchvision_detections(super().forward(images))

    @torch.no_grad()
    def inspect(self, images: list[Tensor], nms_iou: float = 0.5, score_threshold: float = 0.05) -> list[dict]:
        """Every stage of an eval-mode forward, per image (the model must be in eval mode).

        Runs the sub-modules step by step (transform -> backbone -> RPN -> RoI heads) exactly as `forward` does,
        so at `nms_iou=config.box_nms_thresh, score_threshold=config.box_score_thresh` "detections" equals
        `model(images)`. All boxes are pixel (x1, y1, x2, y2) of the input image (the transform's resize undone).

        Returns per image:
            "resized_size": (h, w) the network saw;
            "proposals_before_nms": {"boxes" [P, 4], "objectness" [P]}: the RPN's top-k per level (clipped, tiny
                boxes removed) that enter its NMS, best first; objectness is a probability (sigmoid);
            "proposals": {"boxes" [R, 4], "objectness" [R]}: what the RPN's NMS (IoU `rpn_nms_thresh`, run per FPN
                level) and its post-NMS top-k keep, best first; these are the RoIs;
            "roi_class_probs" [R, C+1]: softmax per RoI, column 0 background, column k+1 class k;
            "roi_boxes" [R, 4]: each RoI's box decoded with the deltas of its best object class (clipped);
            "roi_labels" [R]: that class, 0..C-1;
            "detections_before_nms": {"boxes" [M, 4], "labels" [M] 0..C-1, "scores" [M]}: every (RoI, class)
                with score > `score_threshold`, best first;
            "detections": the same after per-class NMS at `nms_iou` (and the `box_detections_per_img` cap).
        """
        if self.training:
            raise RuntimeError("inspect() shows inference: call model.eval() first")
        original_sizes = [(int(img.shape[-2]), int(img.shape[-1])) for img in images]
        image_list, _ = self.transform(images)
        sizes = image_list.image_sizes
        features = self.backbone(image_list.tensors)
        before, proposals, objectness = self._rpn_stages(image_list, features)

        rh = self.roi_heads
        box_features = rh.box_head(rh.box_roi_pool(features, proposals, sizes))
        class_logits, box_regression = rh.box_predictor(box_features)
        decoded = rh.box_coder.decode(box_regression, proposals)  # (sum R, C+1, 4)
        probs = F.softmax(class_logits, -1)
        counts = [len(p) for p in proposals]
        results = []
        for i, (boxes, scores) in enumerate(zip(decoded.split(counts), probs.split(counts))):
            boxes = box_ops.clip_boxes_to_image(boxes, sizes[i])
            back = functools.partial(resize_boxes, original_size=sizes[i], new_size=original_sizes[i])
            best = scores[:, 1:].argmax(-1)  # (R,) best object class
            candidates = self._detection_candidates(boxes, scores, score_threshold)
            keep = batched_nms(candidates["boxes"], candidates["scores"], candidates["labels"], nms_iou)
            keep = keep[:rh.detections_per_img]
            order = candidates["scores"].argsort(descending=True, stable=True)
            results.append({
                "resized_size": tuple(sizes[i]),
                "proposals_before_nms": {"boxes": back(before[i][0]), "objectness": before[i][1]},
                "proposals": {"boxes": back(proposals[i]), "objectness": objectness[i]},
                "roi_class_probs": scores,
                "roi_boxes": back(boxes[torch.arange(len(best), device=best.device), best + 1]),
                "roi_labels": best,
                "detections_before_nms": {"boxes": back(candidates["boxes"][order]),
                                          "labels": candidates["labels"][order] - 1,
                                          "scores": candidates["scores"][order]},
                "detections": {"boxes": back(candidates["boxes"][keep]), "labels": candidates["labels"][keep] - 1,
                               "scores": candidates["scores"][keep]},
            })
        return results

    def _rpn_stages(self, image_list, features: dict[str, Tensor]):
        """The RPN's eval path (`RegionProposalNetwork.forward` + `filter_proposals`) with its pre-NMS set kept.

        Returns (before, proposals, objectness): per image (boxes [P, 4], objectness [P]) before NMS, best first,
        in resized pixels; the RPN's own output boxes [R, 4] per image and their objectness [R]."""
        rpn = self.rpn
        maps = list(features.values())
        logits, deltas = rpn.head(maps)
        anchors = rpn.anchor_generator(image_list, maps)
        per_level = [o[0].numel() for o in logits]  # A * h * w anchors per level
        logits, deltas = concat_box_prediction_layers(logits, deltas)
        decoded = rpn.box_coder.decode(deltas, anchors).view(len(anchors), -1, 4)
        proposals, objectness = rpn.filter_proposals(decoded, logits, image_list.image_sizes, per_level)

        # the same selection up to the NMS, as filter_proposals makes it
        logits = logits.reshape(len(anchors), -1)
        top = rpn._get_top_n_idx(logits, per_level)
        rows = torch.arange(len(anchors), device=logits.device)[:, None]
        before = []
        for boxes, scores, size in zip(decoded[rows, top], torch.sigmoid(logits[rows, top]),
                                       image_list.image_sizes):
            boxes = box_ops.clip_boxes_to_image(boxes, size)
            keep = box_ops.remove_small_boxes(boxes, rpn.min_size)
            boxes, scores = boxes[keep], scores[keep]
            keep = torch.where(scores >= rpn.score_thresh)[0]
            order = scores[keep].argsort(descending=True, stable=True)
            before.append((boxes[keep][order], scores[keep][order]))
        return before, proposals, objectness

    @staticmethod
    def _detection_candidates(boxes: Tensor, scores: Tensor, score_threshold: float) -> dict[str, Tensor]:
        """(RoI, object class) pairs as `RoIHeads.postprocess_detections` forms them before its NMS.

        boxes [R, C+1, 4] clipped, scores [R, C+1] -> {"boxes" [M, 4], "scores" [M], "labels" [M] 1..C}."""
        labels = torch.arange(scores.shape[-1], device=scores.device).view(1, -1).expand_as(scores)
        boxes, scores, labels = boxes[:, 1:].reshape(-1, 4), scores[:, 1:].reshape(-1), labels[:, 1:].reshape(-1)
        keep = torch.where(scores > score_threshold)[0]
        boxes, scores, labels = boxes[keep], scores[keep], labels[keep]
        keep = box_ops.remove_small_boxes(boxes, min_size=1e-2)
        return {"boxes": boxes[keep], "scores": scores[keep], "labels": labels[keep]}
