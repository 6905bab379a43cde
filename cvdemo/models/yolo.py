"""YOLO (v1): one pass of a CNN predicts, on an S x S grid over the image, B boxes per cell (each with a confidence)
and one class distribution per cell (Redmon et al., "You Only Look Once", CVPR 2016), small enough to train on a CPU.

The family contract of cvdemo's detectors (as torchvision's detection models):

    images   list of float tensors [3, H, W] in [0, 1], any H and W (one batch may mix sizes)
    targets  list of {"boxes": float [n, 4] pixel xyxy of that image, "labels": int64 [n] class index 0..C-1}
    training model(images, targets) -> {"loss_coord", "loss_obj", "loss_noobj", "loss_class"}: scalars, already
             weighted by lambda_coord / lambda_noobj, so their sum is the paper's loss (`cvdemo.losses_yolo`)
    eval     model(images) -> one dict per image {"boxes" [N, 4] pixel xyxy of the input image, "labels" [N] int64
             0..C-1, "scores" [N]}, best score first, after NMS
    inspect  model.inspect(images, targets=None, nms_iou=0.5, score_threshold=0.05): the grid, the responsible
             boxes and the detections before and after NMS (see `YOLO.inspect`)

Input size: each image is *letterboxed* into the config's square `input_size`: scaled by input_size / max(H, W)
(aspect ratio kept, bilinear), placed at the top-left corner, the rest filled with the mean colour (0 after
normalisation). Boxes map back to the input image's pixels by dividing by that scale, so the grid starts at the
image's top-left pixel and a cell is input_size / (S * scale) input pixels wide; on the padded side, cells may lie
partly or wholly outside the image. (The paper stretched every image to 448 x 448; letterboxing keeps a circle
round.)

The network: ResNet stages (`cvdemo.models.backbone`, random init, trainable BatchNorm) -> a 3x3 convolution
(`head_channels`) -> average pooling to S x S -> the head, one of
    "fc"    the paper's: flatten -> Linear(fc_hidden) -> LeakyReLU(0.1) -> Linear(S * S * (5B + C)); every cell
            sees the whole image
    "conv"  a 1x1 convolution (5B + C channels) per cell; each cell sees its neighbourhood only, fewer weights
Per cell, the raw outputs are B x (x, y, sqrt w, sqrt h, confidence), then C class logits. The box numbers go
through a sigmoid, which keeps them in their ranges [0, 1] (the paper's output was linear), the class logits through
a softmax (Pr(class | object)). Detections: score = confidence x class probability for every (box, class) pair above
`score_threshold`, then NMS per class at `nms_iou` (torchvision's `batched_nms`), at most `max_detections`.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import torch
import torch.nn.functional as F
from torch import nn
from torchvision.ops import batched_nms, clip_boxes_to_image, remove_small_boxes

from cvdemo.boxes import box_cxcywh_to_xyxy, box_xyxy_to_cxcywh
from cvdemo.losses_yolo import assign_targets, grid_to_boxes_cxcywh, yolo_loss
from cvdemo.models.backbone import RESNET_CHANNELS, ResNetBackbone
from cvdemo.models.config_dict import config_from_dict, config_to_dict
from cvdemo.models.image_processing import IMAGENET_MEAN, IMAGENET_STD, normalize

__all__ = ["MODEL_TYPE", "YOLO", "YOLOConfig", "YOLO_PRESETS", "from_config_dict", "letterbox"]

HEADS = ("fc", "conv")


@dataclass
class YOLOConfig:
    """Every size of a YOLO. Grid, boxes per cell, classes and input size default to the paper's (S=7, B=2, C=20,
    448 px); the backbone is a ResNet-18 trained from scratch (no pretrained weights are used)."""

    backbone: str = "resnet18"  # resnet18 | resnet34 | resnet50 | resnet101, random init
    backbone_stages: int = 2  # 2, 3 or 4 residual stages (output stride 8, 16, 32)
    input_size: int = 448  # images are letterboxed into input_size x input_size pixels
    grid_size: int = 7  # S: the grid is S x S cells
    boxes_per_cell: int = 2  # B
    num_classes: int = 20  # C; labels are class indices 0..C-1 (no background class)
    head: str = "fc"  # "fc" (the paper's fully connected layers) | "conv" (1x1 convolution per cell)
    head_channels: int = 64  # channels of the 3x3 convolution before pooling to S x S
    fc_hidden: int = 512  # width of the hidden fully connected layer ("fc" head only)
    lambda_coord: float = 5.0  # weight of the box coordinate terms
    lambda_noobj: float = 0.5  # weight of the confidence of boxes responsible for no object
    score_threshold: float = 0.05  # eval: keep (box, class) pairs scoring above this ...
    nms_iou: float = 0.5  # ... then NMS per class at this IoU ...
    max_detections: int = 100  # ... and at most this many per image
    image_mean: tuple[float, float, float] = IMAGENET_MEAN
    image_std: tuple[float, float, float] = IMAGENET_STD
    id2label: dict[int, str] = field(default_factory=dict)

    model_type = "cvdemo-yolo"

    def __post_init__(self) -> None:
        problems = []
        if self.backbone not in RESNET_CHANNELS:
            problems.append(f"backbone must be one of {sorted(RESNET_CHANNELS)}, got {self.backbone!r}")
        if self.backbone_stages not in (2, 3, 4):
            problems.append(f"backbone_stages must be 2, 3 or 4, got {self.backbone_stages}")
        if self.head not in HEADS:
            problems.append(f"head must be one of {HEADS}, got {self.head!r}")
        for name in ("input_size", "grid_size", "boxes_per_cell", "num_classes", "head_channels", "fc_hidden",
                     "max_detections"):
            if not isinstance(getattr(self, name), int) or getattr(self, name) < 1:
                problems.append(f"{name} must be a positive integer, got {getattr(self, name)!r}")
        if not 0 <= self.nms_iou <= 1 or not 0 <= self.score_threshold <= 1:
            problems.append(f"nms_iou and score_threshold must be in [0, 1], got {self.nms_iou}, "
                            f"{self.score_threshold}")
        bad = [k for k in self.id2label if not (isinstance(k, int) and 0 <= k < self.num_classes)]
        if bad:
            problems.append(f"id2label has class indices {bad} outside 0..num_classes-1 ({self.num_classes} classes)")
        if problems:
            raise ValueError("invalid YOLOConfig: " + "; ".join(problems))

    def to_dict(self) -> dict:
        return config_to_dict(self)

    @classmethod
    def from_dict(cls, d: dict) -> YOLOConfig:
        return config_from_dict(cls, d)


MODEL_TYPE = YOLOConfig.model_type

YOLO_PRESETS: dict[str, dict] = {
    # trains from scratch on 128 px shapes on a CPU: resnet18 up to layer2 (stride 8: a 16 x 16 map), an 8 x 8
    # grid of 16 px cells, the paper's fully connected head; about 1.5M weights (6 MB in fp32) with 6 classes
    "tiny": dict(backbone="resnet18", backbone_stages=2, input_size=128, grid_size=8, boxes_per_cell=2,
                 head="fc", head_channels=32, fc_hidden=256),
    # the shipped yolo-shapes: the same grid with a 1x1-convolution head (each cell predicts from its own features,
    # as YOLO v2 on): the fc head's 256-wide bottleneck for the whole image localised poorly (AP 0.15 after 1000
    # steps of the small recipe)
    "small": dict(backbone="resnet18", backbone_stages=2, input_size=128, grid_size=8, boxes_per_cell=2,
                  head="conv", head_channels=64),
}


def from_config_dict(config: dict) -> YOLO:
    """config.json's dict (``model_type`` "cvdemo-yolo") -> a fresh, randomly initialised YOLO."""
    return YOLO(YOLOConfig.from_dict(config))


def letterbox(images: list[torch.Tensor], input_size: int, mean, std) -> tuple[torch.Tensor, torch.Tensor]:
    """images: list of float [3, H, W] in [0, 1] -> (pixel_values [N, 3, input_size, input_size] normalised,
    scales [N, 2] float (x, y): input pixel * scale = network pixel). Each image is resized to keep its aspect
    ratio with its long side input_size, placed top-left; the padding is 0 (the mean colour after normalising)."""
    if not isinstance(images, (list, tuple)) or not images:
        raise ValueError("images must be a non-empty list of float tensors [3, H, W] in [0, 1]")
    batch, scales = [], []
    for k, image in enumerate(images):
        if not isinstance(image, torch.Tensor) or image.ndim != 3 or image.shape[0] != 3 \
                or not image.is_floating_point() or image.shape[1] < 1 or image.shape[2] < 1:
            shape = tuple(image.shape) if isinstance(image, torch.Tensor) else type(image).__name__
            raise ValueError(f"image {k}: expected a float tensor [3, H, W] in [0, 1], got {shape}")
        h, w = image.shape[1:]
        ratio = input_size / max(h, w)
        new_h, new_w = max(1, round(h * ratio)), max(1, round(w * ratio))
        x = image if (new_h, new_w) == (h, w) else \
            F.interpolate(image[None], size=(new_h, new_w), mode="bilinear", align_corners=False)[0]
        canvas = image.new_zeros(3, input_size, input_size)
        canvas[:, :new_h, :new_w] = normalize(x, mean, std)
        batch.append(canvas)
        scales.append((new_w / w, new_h / h))
    return torch.stack(batch), torch.tensor(scales, dtype=batch[0].dtype, device=batch[0].device)


class YOLO(nn.Module):
    """A YOLO v1 grid detector; see the module docstring for inputs, outputs and the letterbox."""

    def __init__(self, config: YOLOConfig):
        super().__init__()
        self.config = config
        s, b, c = config.grid_size, config.boxes_per_cell, config.num_classes
        self.backbone = ResNetBackbone(config.backbone, frozen_batchnorm=False, num_stages=config.backbone_stages)
        self.neck = nn.Sequential(
            nn.Conv2d(self.backbone.num_channels, config.head_channels, kernel_size=3, padding=1, bias=False),
            nn.BatchNorm2d(config.head_channels),
            nn.LeakyReLU(0.1),
        )
        per_cell = 5 * b + c
        if config.head == "fc":
            self.head = nn.Sequential(nn.Flatten(), nn.Linear(config.head_channels * s * s, config.fc_hidden),
                                      nn.LeakyReLU(0.1), nn.Linear(config.fc_hidden, s * s * per_cell))
        else:
            self.head = nn.Conv2d(config.head_channels, per_cell, kernel_size=1)

    @property
    def id2label(self) -> dict[int, str]:
        return self.config.id2label

    def predict_grid(self, pixel_values: torch.Tensor) -> dict[str, torch.Tensor]:
        """pixel_values [N, 3, input_size, input_size] normalised -> the grid predictions {"xy", "sqrt_wh",
        "confidence", "class_probs"} (shapes in `cvdemo.losses_yolo`)."""
        n = pixel_values.shape[0]
        s, b = self.config.grid_size, self.config.boxes_per_cell
        x = F.adaptive_avg_pool2d(self.neck(self.backbone(pixel_values)), s)  # (N, head_channels, S, S)
        raw = self.head(x)
        raw = raw.view(n, s, s, -1) if self.config.head == "fc" else raw.permute(0, 2, 3, 1)  # (N, S, S, 5B+C)
        boxes = raw[..., : 5 * b].reshape(n, s, s, b, 5).sigmoid()
        return {"xy": boxes[..., 0:2], "sqrt_wh": boxes[..., 2:4], "confidence": boxes[..., 4],
                "class_probs": raw[..., 5 * b:].softmax(dim=-1)}

    def forward(self, images: list[torch.Tensor], targets: list[dict] | None = None):
        """Training mode: loss dict; eval mode: detections per image (module docstring)."""
        pixel_values, scales = letterbox(images, self.config.input_size, self.config.image_mean,
                                         self.config.image_std)
        grid = self.predict_grid(pixel_values)
        if self.training:
            if targets is None:
                raise ValueError("YOLO in training mode needs targets (boxes in pixel xyxy, labels 0..C-1); "
                                 "call model.eval() to get detections")
            return yolo_loss(grid, self._normalised_targets(targets, scales, len(images)),
                             lambda_coord=self.config.lambda_coord, lambda_noobj=self.config.lambda_noobj)
        sizes = [tuple(image.shape[1:]) for image in images]
        return [after for _, after in self._detections(grid, scales, sizes, self.config.score_threshold,
                                                      self.config.nms_iou)]

    def _normalised_targets(self, targets: list[dict], scales: torch.Tensor, n: int) -> list[dict]:
        """Pixel xyxy targets of the input images -> normalised cxcywh of the letterboxed network input."""
        if len(targets) != n:
            raise ValueError(f"got {len(targets)} target dicts for {n} images")
        out = []
        for k, (t, scale) in enumerate(zip(targets, scales)):
            boxes, labels = t["boxes"], t["labels"]
            if boxes.ndim != 2 or boxes.shape[-1] != 4 or labels.shape != boxes.shape[:1]:
                raise ValueError(f"target {k}: expected boxes [n, 4] and labels [n], got {tuple(boxes.shape)} "
                                 f"and {tuple(labels.shape)}")
            if len(labels) and not 0 <= int(labels.min()) <= int(labels.max()) < self.config.num_classes:
                raise ValueError(f"target {k}: labels must be class indices 0..{self.config.num_classes - 1}, "
                                 f"got {labels.tolist()}")
            if ((boxes[:, 2:] - boxes[:, :2]) <= 0).any():
                raise ValueError(f"target {k}: every box needs x1 > x0 and y1 > y0 (pixel xyxy), got "
                                 f"{boxes.tolist()}")
            boxes = boxes.to(scales) * scale.repeat(2) / self.config.input_size
            out.append({"boxes": box_xyxy_to_cxcywh(boxes), "labels": labels.to(scales.device, torch.long)})
        return out

    def _pixel_boxes_xyxy(self, grid: dict, scales: torch.Tensor) -> torch.Tensor:
        """Every predicted box in pixel xyxy of its input image: [N, S, S, B, 4] (not clipped)."""
        boxes = box_cxcywh_to_xyxy(grid_to_boxes_cxcywh(grid["xy"], grid["sqrt_wh"])) * self.config.input_size
        return boxes / scales.repeat(1, 2)[:, None, None, None, :]

    def _detections(self, grid: dict, scales: torch.Tensor, sizes: list[tuple[int, int]], score_threshold: float,
                    nms_iou: float) -> list[tuple[dict, dict]]:
        """(before NMS, after NMS) per image, each {"boxes" pixel xyxy clipped to the image, "labels", "scores"}
        sorted by score; before NMS: every (box, class) pair scoring above score_threshold."""
        boxes_all = self._pixel_boxes_xyxy(grid, scales)
        scores_all = grid["confidence"][..., None] * grid["class_probs"][:, :, :, None, :]  # (N, S, S, B, C)
        results = []
        for boxes, scores, size in zip(boxes_all, scores_all, sizes):
            boxes = clip_boxes_to_image(boxes.reshape(-1, 4), size)
            scores = scores.reshape(boxes.shape[0], -1)
            box_index, labels = (scores > score_threshold).nonzero(as_tuple=True)
            boxes, scores = boxes[box_index], scores[box_index, labels]
            keep = remove_small_boxes(boxes, 1e-2)  # boxes wholly on the padding clip to nothing
            boxes, scores, labels = boxes[keep], scores[keep], labels[keep]
            order = scores.argsort(descending=True)
            before = {"boxes": boxes[order], "labels": labels[order], "scores": scores[order]}
            keep = batched_nms(boxes, scores, labels, nms_iou)[: self.config.max_detections]  # best first
            results.append((before, {"boxes": boxes[keep], "labels": labels[keep], "scores": scores[keep]}))
        return results

    @torch.no_grad()
    def inspect(self, images: list[torch.Tensor], targets: list[dict] | None = None, nms_iou: float = 0.5,
                score_threshold: float = 0.05) -> list[dict]:
        """Every intermediate result, per image (run in eval mode whatever the model's mode):

            "grid_size"              S
            "cell_size"              (width, height) of a cell in input image pixels; the grid starts at (0, 0)
            "cell_boxes"             [S, S, B, 4] every predicted box, pixel xyxy of the input image (not clipped)
            "cell_confidence"        [S, S, B]
            "cell_class_probs"       [S, S, C]
            "responsible"            only with targets: {"cells" [n, 2] (row, col) holding each object's centre,
                                     "box_index" [n] its responsible box (-1: a larger object took the cell),
                                     "iou" [n]} (`cvdemo.losses_yolo.assign_targets`)
            "detections_before_nms"  {"boxes", "labels", "scores"}: every (box, class) pair above score_threshold
            "detections"             the same after NMS per class at nms_iou (the eval contract)
        """
        was_training = self.training
        self.eval()
        try:
            pixel_values, scales = letterbox(images, self.config.input_size, self.config.image_mean,
                                             self.config.image_std)
            grid = self.predict_grid(pixel_values)
        finally:
            self.train(was_training)
        sizes = [tuple(image.shape[1:]) for image in images]
        detections = self._detections(grid, scales, sizes, score_threshold, nms_iou)
        cell_boxes = self._pixel_boxes_xyxy(grid, scales)
        normalised = self._normalised_targets(targets, scales, len(images)) if targets is not None else None
        pred_boxes = grid_to_boxes_cxcywh(grid["xy"], grid["sqrt_wh"])
        results = []
        for k, (before, after) in enumerate(detections):
            cell = self.config.input_size / self.config.grid_size
            result = {
                "grid_size": self.config.grid_size,
                "cell_size": (cell / float(scales[k, 0]), cell / float(scales[k, 1])),
                "cell_boxes": cell_boxes[k],
                "cell_confidence": grid["confidence"][k],
                "cell_class_probs": grid["class_probs"][k],
                "detections_before_nms": before,
                "detections": after,
            }
            if normalised is not None:
                assignment = assign_targets(pred_boxes[k], normalised[k]["boxes"])
                result["responsible"] = {"cells": assignment.cells, "box_index": assignment.box_index,
                                         "iou": assignment.iou}
            results.append(result)
        return results
