"""R-CNN (Girshick et al., CVPR 2014) as the study notes tell it, the lesson in why Faster R-CNN exists:
every region proposal is cropped from the image and classified on its own.

    image -> selective search (`cvdemo.models.selective_search`, on the CPU: ~50-120 boxes on a 128 px shapes image)
          -> for every box: dilate it so that `context_padding` pixels of image context surround it once warped
             (the paper's p = 16 at 227 px), warp that region to the classifier's input size (bilinear RoIAlign
             with adaptive sampling on the normalised image: pixels outside the image read as 0, the mean, as
             the paper pads with the mean), classify it -> class probabilities [P, C]
          -> (box, class) pairs whose probability is above `score_threshold`
          -> per-class NMS at `nms_iou` -> detections

One classifier pass per proposal, where Faster R-CNN shares one backbone pass over the image between all its
proposals (RoI pooling on the feature map) and learns the proposals too. The classifier here is a shipped
`cvdemo.models.vit.ViT` (e.g. checkpoints/vit-shapes), trained apart on one-shape images; R-CNN adds no weights of
its own (its weights are the classifier's, under the "classifier." prefix) and has no box regression: a detection's
box is its proposal's box.

No background class: vit-shapes was trained only on images that hold one shape, so it has no "nothing here" output.
A region is rejected when no class probability exceeds `score_threshold`, i.e. the classifier is not sure. That is
the simplest rule and a weak one: a softmax must spread its mass over the six shapes, so a crop of plain background
or of a shape's part can still get a confident class (the paper trained a background class into its SVMs with
negatives at IoU < 0.3; `training/make_rcnn.py` measures how often ours is fooled).

Contracts (images: a list of float [3, H, W] in [0, 1], any sizes; boxes pixel (x1, y1, x2, y2) of each input):
- eval: `model(images) -> [{"boxes" [N, 4], "labels" [N] in 0..C-1, "scores" [N]}]`, best score first, at the
  config's `score_threshold` and `nms_iou`.
- `model.inspect(images, nms_iou, score_threshold)`: every stage, see `RCNN.inspect`.
- training: R-CNN is inference-only here (its classifier is trained apart, `python -m training.train_vit`);
  `model(images, targets)` in training mode raises RuntimeError.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

import torch
from torch import Tensor, nn
from torchvision.ops import batched_nms, roi_align

from cvdemo.models.config_dict import config_from_dict, config_to_dict
from cvdemo.models.selective_search import MODES, selective_search_xyxy
from cvdemo.models.vit import ViT, ViTConfig

MODEL_TYPE = "cvdemo-rcnn"


@dataclass
class RCNNConfig:
    """R-CNN around a ViT classifier. `num_classes` and `id2label` are the classifier's."""

    proposal_mode: str = "fast"  # selective search: "fast" or "quality"
    proposal_max_side: int = 512  # images with a longer side are shrunk to it for the search (boxes scaled back)
    max_proposals: int = 2000  # the first boxes of selective search's ranking (the paper used ~2000)
    min_proposal_side: float = 0.0  # proposals narrower or lower than this (input pixels) are dropped
    context_padding: int = 16  # context pixels around the box in the warped crop (the paper's p; rcnn-shapes: 8)
    score_threshold: float = 0.5  # a (proposal, class) pair is a detection when its probability is above this
    nms_iou: float = 0.5  # per-class NMS IoU
    max_detections: int = 100  # best detections kept after NMS
    classifier_batch_size: int = 256  # crops per classifier pass (bounds memory: 256 x 3 x 64 x 64 floats)
    num_classes: int = 0  # the classifier's classes (no background)
    id2label: dict[int, str] = field(default_factory=dict)
    classifier: dict = field(default_factory=dict)  # the classifier's ViTConfig.to_dict()

    model_type = MODEL_TYPE

    def __post_init__(self) -> None:
        if self.proposal_mode not in MODES:
            raise ValueError(f"proposal_mode must be one of {MODES}, got {self.proposal_mode!r}")
        if not self.classifier:
            raise ValueError("RCNNConfig needs the classifier's config (classifier=ViTConfig.to_dict()); build "
                             "an R-CNN from a trained ViT with RCNN.from_classifier(vit)")
        vit = self.classifier_config
        if vit.num_classes < 1:
            raise ValueError("R-CNN's classifier needs a classification head (num_classes >= 1)")
        if self.num_classes != vit.num_classes:
            raise ValueError(f"num_classes {self.num_classes} differs from the classifier's {vit.num_classes}")
        if min(vit.image_hw) <= 2 * self.context_padding:
            raise ValueError(f"context_padding {self.context_padding} leaves no room for the box in the "
                             f"classifier's {vit.image_hw} input")
        if self.max_proposals < 1 or self.classifier_batch_size < 1 or self.max_detections < 1:
            raise ValueError("max_proposals, classifier_batch_size and max_detections must be >= 1")

    @property
    def classifier_config(self) -> ViTConfig:
        return ViTConfig.from_dict(self.classifier)

    def to_dict(self) -> dict:
        return config_to_dict(self)

    @classmethod
    def from_dict(cls, d: dict) -> RCNNConfig:
        return config_from_dict(cls, d)


def from_config_dict(config: dict) -> RCNN:
    """A fresh R-CNN (a random-weight classifier) from a `RCNNConfig.to_dict()` dict."""
    return RCNN(RCNNConfig.from_dict(config))


def context_boxes_xyxy(boxes: Tensor, crop_hw: tuple[int, int], padding: int) -> Tensor:
    """Boxes [P, 4] xyxy dilated about their centres so that, warped to `crop_hw`, `padding` pixels of context
    surround the original box on every side (R-CNN's warp with context): [P, 4] xyxy, may leave the image."""
    ch, cw = crop_hw
    grow = boxes.new_tensor([cw / (cw - 2 * padding), ch / (ch - 2 * padding)])
    centre = (boxes[:, :2] + boxes[:, 2:]) / 2
    half = (boxes[:, 2:] - boxes[:, :2]) * grow / 2
    return torch.cat([centre - half, centre + half], dim=1)


def detections_from_probs(proposals: Tensor, probs: Tensor, score_threshold: float, nms_iou: float,
                          max_detections: int = 100) -> tuple[dict[str, Tensor], dict[str, Tensor]]:
    """R-CNN's last stage, apart so that a threshold or NMS slider re-filters without re-running the classifier.

    proposals [P, 4] xyxy, probs [P, C] -> (before, after): before = every (proposal, class) pair with probability
    > score_threshold as {"boxes" [M, 4], "labels" [M] 0..C-1, "scores" [M]}, best first; after = what per-class NMS
    at nms_iou keeps of them (at most `max_detections`), best first."""
    rows, labels = torch.nonzero(probs > score_threshold, as_tuple=True)
    scores = probs[rows, labels]
    order = scores.argsort(descending=True, stable=True)
    before = {"boxes": proposals[rows[order]], "labels": labels[order], "scores": scores[order]}
    keep = batched_nms(before["boxes"], before["scores"], before["labels"], nms_iou)[:max_detections]
    return before, {k: v[keep] for k, v in before.items()}


class RCNN(nn.Module):
    """Selective search + a ViT classifier per region + NMS (see the module docstring for the contracts)."""

    def __init__(self, config: RCNNConfig):
        super().__init__()
        self.config = config
        self.classifier = ViT(config.classifier_config)

    @classmethod
    def from_classifier(cls, classifier: ViT, **options) -> RCNN:
        """An R-CNN around (a copy of the weights of) a trained ViT; `options` are other `RCNNConfig` fields."""
        vit = classifier.config
        config = RCNNConfig(num_classes=vit.num_classes, id2label=dict(vit.id2label), classifier=vit.to_dict(),
                            **options)
        model = cls(config)
        model.classifier.load_state_dict(classifier.state_dict(), strict=True)
        return model

    def forward(self, images: list[Tensor], targets: list[dict[str, Tensor]] | None = None) -> list[dict]:
        """eval: detections at the config's score threshold and NMS IoU (module docstring)."""
        if self.training:
            raise RuntimeError("R-CNN here is inference-only: its classifier is trained apart (python -m "
                               "training.train_vit) and wrapped by python -m training.make_rcnn; call model.eval() "
                               "to detect")
        return [r["detections"] for r in self.inspect(images)]

    @torch.no_grad()
    def inspect(self, images: list[Tensor], nms_iou: float | None = None,
                score_threshold: float | None = None) -> list[dict]:
        """Every stage, per image (None: the config's `nms_iou` / `score_threshold`; any mode, nothing differs).

        Returns per image:
            "proposals" [P, 4]: selective search's boxes (after `min_proposal_side` and `max_proposals`), rank order;
            "num_proposals": P;
            "crop_boxes" [P, 4]: the regions warped to the classifier (each proposal with its context);
            "crop_size": (h, w) of each warped crop (the classifier's input);
            "classifier_passes": crops classified (P: one per proposal);
            "proposal_class_probs" [P, C]: the classifier's softmax per proposal;
            "detections_before_nms": {"boxes" [M, 4], "labels" [M] 0..C-1, "scores" [M]}: every (proposal, class)
                pair with probability > score_threshold, best first;
            "detections": the same after per-class NMS at nms_iou (and the `max_detections` cap), best first;
            "timings_ms": {"proposals", "classifier" (crops + classifier), "nms"}.
        """
        nms_iou = self.config.nms_iou if nms_iou is None else nms_iou
        score_threshold = self.config.score_threshold if score_threshold is None else score_threshold
        return [self._inspect_one(image, nms_iou, score_threshold) for image in images]

    def _inspect_one(self, image: Tensor, nms_iou: float, score_threshold: float) -> dict:
        cfg = self.config
        if image.ndim != 3 or image.shape[0] != 3:
            raise ValueError(f"R-CNN takes images as float [3, H, W] in [0, 1], got shape {tuple(image.shape)}")
        device = self.classifier.patch_embed.proj.weight.device
        t0 = time.perf_counter()
        pixels = (image.detach().clamp(0, 1) * 255).round().to(torch.uint8).permute(1, 2, 0).cpu().numpy()
        proposals = torch.from_numpy(selective_search_xyxy(
            pixels, cfg.proposal_mode, max_side=cfg.proposal_max_side, max_proposals=cfg.max_proposals,
            min_box_side=cfg.min_proposal_side)).to(device)
        t1 = time.perf_counter()
        crop_hw = self.classifier.config.image_hw
        crop_boxes = context_boxes_xyxy(proposals, crop_hw, cfg.context_padding)
        probs = self._classify_regions(image.to(device), crop_boxes, crop_hw)
        t2 = time.perf_counter()
        before, after = detections_from_probs(proposals, probs, score_threshold, nms_iou, cfg.max_detections)
        t3 = time.perf_counter()
        return {
            "proposals": proposals, "num_proposals": len(proposals), "crop_boxes": crop_boxes,
            "crop_size": crop_hw, "classifier_passes": len(probs), "proposal_class_probs": probs,
            "detections_before_nms": before, "detections": after,
            "timings_ms": {"proposals": 1e3 * (t1 - t0), "classifier": 1e3 * (t2 - t1), "nms": 1e3 * (t3 - t2)},
        }

    def _classify_regions(self, image: Tensor, crop_boxes: Tensor, crop_hw: tuple[int, int]) -> Tensor:
        """Warp every region of image [3, H, W] to crop_hw and classify it: probabilities [P, C]."""
        vit = self.classifier.config
        mean = image.new_tensor(vit.image_mean).view(3, 1, 1)
        std = image.new_tensor(vit.image_std).view(3, 1, 1)
        normalised = ((image.float() - mean) / std)[None]  # (1, 3, H, W); 0 is the mean colour
        out = []
        for chunk in crop_boxes.split(self.config.classifier_batch_size):
            rois = torch.cat([chunk.new_zeros(len(chunk), 1), chunk], dim=1)  # (n, 5): batch index, x1, y1, x2, y2
            crops = roi_align(normalised, rois, output_size=crop_hw, spatial_scale=1.0, sampling_ratio=0,
                              aligned=True)  # (n, 3, h, w); sampling_ratio 0: adaptive, averages when shrinking
            out.append(self.classifier(crops)["logits"].softmax(-1))
        return torch.cat(out) if out else image.new_zeros(0, self.config.num_classes)
