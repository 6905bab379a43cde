"""DETR training: collate, set-prediction loss, parameter groups, COCO evaluation, prediction snapshots.

Targets given to the loss (`cvdemo.losses.SetCriterion`): per image ``labels int64[n]`` (class index) and
``boxes float32[n, 4]`` normalised (cx, cy, w, h) relative to the image, which is what DETR predicts
relative to the unpadded resized image (resizing keeps normalised boxes unchanged).

Evaluation follows DETR's official protocol: softmax, drop the no-object column, every query kept with
its best class and score (no threshold), COCO AP by `cvdemo.metrics.evaluate_coco`. Images are batched
only with images of the same size, so no padding changes a prediction (DETR evaluates at batch 1).

For the claims lab the task can also train with a one-to-many assignment (`cvdemo.matching.OneToManyMatcher`)
and apply class-wise non-maximum suppression to the predictions before evaluation (``nms_iou``); the defaults
are DETR's (Hungarian matching, no NMS).
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
import torch
import torchvision
from torch import nn

from cvdemo.boxes import box_xyxy_to_cxcywh, box_xyxy_to_xywh, normalize_boxes
from cvdemo.datasets.structure import Detections
from cvdemo.losses import SetCriterion
from cvdemo.matching import HungarianMatcher, OneToManyMatcher
from cvdemo.metrics import evaluate_coco
from cvdemo.models.detr import DETRConfig
from cvdemo.models.image_processing import prepare_detr_inputs
from cvdemo.models.postprocess import post_process_object_detection
from cvdemo.training.data import ground_truth_of
from cvdemo.training.divergence import check_finite_outputs
from cvdemo.training.events import ImagePrediction
from cvdemo.training.task import Batch

__all__ = ["ASSIGNMENTS", "DetectionTask"]

ASSIGNMENTS = ("hungarian", "one-to-many")

log = logging.getLogger(__name__)


def _float_outputs(outputs: dict) -> dict:
    """DETR outputs with logits and boxes in float32 (autocast may give bf16), aux layers included."""
    out = {"pred_logits": outputs["pred_logits"].float(), "pred_boxes": outputs["pred_boxes"].float()}
    if "aux_outputs" in outputs:
        out["aux_outputs"] = [{k: v.float() for k, v in aux.items()} for aux in outputs["aux_outputs"]]
    return out


def _class_wise_nms(result: dict, iou_threshold: float | None) -> dict:
    """One image's post-processed predictions (``scores [Q]``, ``labels [Q]``, ``boxes [Q, 4]`` pixel xyxy,
    ``query_index [Q]``) after class-wise NMS (`torchvision.ops.batched_nms`), best first; unchanged if None."""
    if iou_threshold is None:
        return result
    keep = torchvision.ops.batched_nms(result["boxes"].float(), result["scores"].float(), result["labels"],
                                       iou_threshold)
    return {k: v[keep] for k, v in result.items()}


def _unwrap(model: nn.Module) -> nn.Module:
    return model.module if hasattr(model, "module") else model


class DetectionTask:
    """DETR's recipe: Hungarian matching and SetCriterion (CE with no-object weight ``eos_coef``, L1, GIoU),
    with the auxiliary decoder-layer losses when ``aux_loss``.

    Args:
        config: the model's `DETRConfig` (classes, preprocessing sizes and normalisation).
        cost_class, cost_bbox, cost_giou: matcher weights (DETR: 1, 5, 2).
        loss_ce, loss_bbox, loss_giou: loss weights (DETR: 1, 5, 2), also applied to each aux layer.
        eos_coef: weight of the no-object class in the CE (DETR: 0.1).
        aux_loss: add the losses of the earlier decoder layers (DETR: on).
        assignment: "hungarian" (DETR's one-to-one matching) or "one-to-many" (`OneToManyMatcher`: the Hungarian
            pairs plus every query whose box has IoU >= ``assignment_iou`` with an object), in the loss only; the box
            losses are still divided by the number of objects, as DETR's, so the extra positives add to them.
        assignment_iou: the one-to-many IoU threshold.
        nms_iou: class-wise NMS at this IoU on the predictions before evaluation and in snapshots
            (None: none, as DETR).
    """

    name = "detection"
    # keyword arguments that change evaluation and snapshots only, never the training: runs that differ only in
    # these train the same model (`cvdemo.experiments.shared_training.training_groups`)
    evaluation_options = ("nms_iou",)

    def __init__(self, config: DETRConfig, *, cost_class: float = 1.0, cost_bbox: float = 5.0,
                 cost_giou: float = 2.0, loss_ce: float = 1.0, loss_bbox: float = 5.0, loss_giou: float = 2.0,
                 eos_coef: float = 0.1, aux_loss: bool = True, assignment: str = "hungarian",
                 assignment_iou: float = 0.5, nms_iou: float | None = None) -> None:
        if assignment not in ASSIGNMENTS:
            raise ValueError(f"assignment must be one of {ASSIGNMENTS}, got {assignment!r}")
        if nms_iou is not None and not 0 < nms_iou <= 1:
            raise ValueError(f"nms_iou must be None or in (0, 1], got {nms_iou}")
        self.config = config
        self.aux_loss = aux_loss
        self.assignment = assignment
        self.nms_iou = nms_iou
        self.matcher = HungarianMatcher(cost_class=cost_class, cost_bbox=cost_bbox, cost_giou=cost_giou)
        if assignment == "one-to-many":
            self.matcher = OneToManyMatcher(self.matcher, iou_threshold=assignment_iou)
        weights = {"loss_ce": loss_ce, "loss_bbox": loss_bbox, "loss_giou": loss_giou}
        self.criterion = SetCriterion(config.num_classes, self.matcher, weights, eos_coef=eos_coef)
        self._ground_truth: dict[int, Any] = {}

    @property
    def id2label(self) -> dict[int, str]:
        return dict(self.config.id2label) or {k: str(k) for k in range(self.config.num_classes)}

    # --- batches and loss ------------------------------------------------------------------

    def collate(self, samples: list[tuple[torch.Tensor, dict]]) -> Batch:
        """Items -> ``inputs`` {pixel_values [B,3,H,W], pixel_mask [B,H,W]} (resized, normalised, padded as
        `prepare_detr_inputs`) and ``targets`` [{labels, boxes (normalised cxcywh)}] per image."""
        images = [image.permute(1, 2, 0).numpy() for image, _ in samples]
        prepared = prepare_detr_inputs(images, self.config)
        targets = []
        for image, target in samples:
            h, w = image.shape[-2:]
            boxes = normalize_boxes(target["boxes_xyxy"].float(), (h, w))
            targets.append({"labels": target["labels"].long(), "boxes": box_xyxy_to_cxcywh(boxes)})
        inputs = {"pixel_values": prepared["pixel_values"], "pixel_mask": prepared["pixel_mask"]}
        return Batch(inputs=inputs, targets=targets, size=len(samples), samples=samples)

    def _outputs_and_losses(self, model: nn.Module, batch: Batch, step: int) -> tuple[dict, dict]:
        outputs = model(**batch.inputs)
        outputs = _float_outputs(outputs)
        if not self.aux_loss:
            outputs.pop("aux_outputs", None)
        named = {"pred_logits": outputs["pred_logits"], "pred_boxes": outputs["pred_boxes"]}
        for i, aux in enumerate(outputs.get("aux_outputs", [])):
            named.update({f"aux_outputs[{i}].{k}": v for k, v in aux.items()})
        check_finite_outputs(named, step)
        return outputs, self.criterion(outputs, batch.targets)

    def loss(self, model: nn.Module, batch: Batch, step: int) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
        _, losses = self._outputs_and_losses(model, batch, step)
        return self.criterion.weighted_total(losses), losses

    def param_groups(self, model: nn.Module, lr: float, backbone_lr: float | None,
                     weight_decay: float) -> list[dict]:
        """Two groups as DETR: "transformer" (everything but the backbone, ``lr``) and "backbone"
        (``backbone_lr``; None = ``lr``, for a backbone trained from scratch). Weight decay on all."""
        model = _unwrap(model)
        backbone = [p for n, p in model.named_parameters() if n.startswith("backbone.") and p.requires_grad]
        rest = [p for n, p in model.named_parameters() if not n.startswith("backbone.") and p.requires_grad]
        groups = [{"name": "transformer", "params": rest, "lr": lr, "weight_decay": weight_decay}]
        if backbone:
            groups.append({"name": "backbone", "params": backbone,
                           "lr": lr if backbone_lr is None else backbone_lr, "weight_decay": weight_decay})
        return groups

    # --- evaluation ------------------------------------------------------------------------

    @torch.no_grad()
    def evaluate(self, model: nn.Module, dataset, device: torch.device, batch_size: int = 8,
                 autocast: Callable[[], Any] = contextlib.nullcontext,
                 should_stop: Callable[[], bool] = lambda: False
                 ) -> tuple[dict[str, float], dict[str, float]] | None:
        """COCO AP of ``model`` on ``dataset`` (all queries kept, or those NMS keeps) and the mean weighted
        validation ``loss`` (left out under torch.distributed, where the criterion would wait for the other processes).

        Returns (metrics: the 12 COCO stats + "loss", per class name: AP), or None if stopped."""
        key = id(dataset)
        if key not in self._ground_truth:
            self._ground_truth = {key: ground_truth_of(dataset)}
        gt = self._ground_truth[key]
        cat_ids = np.array([c.id for c in dataset.categories], np.int64)
        distributed = torch.distributed.is_available() and torch.distributed.is_initialized()
        was_training = model.training
        model.eval()
        by_size: dict[tuple[int, int], list[int]] = {}
        sizes = [(im.height, im.width) for im in gt.images] if len(gt.images) == len(dataset) else None
        for i in range(len(dataset)):
            size = sizes[i] if sizes else tuple(int(v) for v in dataset[i][1]["size"])
            by_size.setdefault(size, []).append(i)
        chunks = [ids[s:s + batch_size] for ids in by_size.values() for s in range(0, len(ids), batch_size)]
        det_images, det_cats, det_boxes, det_scores = [], [], [], []
        loss_sum, loss_count = 0.0, 0
        try:
            for chunk in chunks:
                if should_stop():
                    return None
                samples = [dataset[i] for i in chunk]
                batch = self.collate(samples).to(device)
                with autocast():
                    raw = model(**batch.inputs)
                outputs = _float_outputs(raw)
                if not distributed:
                    losses = self.criterion(outputs, batch.targets)
                    loss_sum += float(self.criterion.weighted_total(losses)) * batch.size
                    loss_count += batch.size
                sizes_hw = torch.stack([target["size"] for _, target in samples])
                for (_, target), result in zip(samples, post_process_object_detection(outputs, sizes_hw)):
                    result = _class_wise_nms(result, self.nms_iou)
                    n = len(result["scores"])
                    det_images.append(np.full(n, int(target["image_id"]), np.int64))
                    det_cats.append(cat_ids[result["labels"].cpu().numpy()])
                    det_boxes.append(box_xyxy_to_xywh(result["boxes"].cpu().double().numpy()))
                    det_scores.append(result["scores"].cpu().double().numpy())
        finally:
            model.train(was_training)
        if det_images:
            detections = Detections(np.concatenate(det_images), np.concatenate(det_cats),
                                    np.concatenate(det_boxes), np.concatenate(det_scores))
        else:
            detections = Detections.empty()
        result = evaluate_coco(gt, detections)
        metrics = result.stats_dict()
        if loss_count:
            metrics["loss"] = loss_sum / loss_count
        names = result.category_names
        per_class = {names.get(c, str(c)): v["AP"] for c, v in result.per_class().items()}
        return metrics, per_class

    @torch.no_grad()
    def snapshot(self, model: nn.Module, samples: Sequence[tuple[torch.Tensor, dict]], device: torch.device,
                 autocast: Callable[[], Any] = contextlib.nullcontext) -> tuple[ImagePrediction, ...]:
        """Every query's prediction on each sample (pixel xyxy, best first) and the current matching."""
        was_training = model.training
        model.eval()
        try:
            predictions = []
            for image, target in samples:  # one at a time: no padding, as the official evaluation
                batch = self.collate([(image, target)]).to(device)
                with autocast():
                    raw = model(**batch.inputs)
                outputs = _float_outputs(raw)
                result = _class_wise_nms(post_process_object_detection(outputs, target["size"][None])[0], self.nms_iou)
                src, tgt = self.matcher({"pred_logits": outputs["pred_logits"],
                                         "pred_boxes": outputs["pred_boxes"]}, batch.targets)[0]
                matched = np.full(outputs["pred_logits"].shape[1], -1, np.int64)
                matched[src.cpu().numpy()] = tgt.cpu().numpy()
                predictions.append(ImagePrediction(
                    image_id=int(target["image_id"]),
                    image=image.permute(1, 2, 0).numpy().copy(),
                    gt_boxes_xyxy=target["boxes_xyxy"].numpy().copy(),
                    gt_labels=target["labels"].numpy().copy(),
                    boxes_xyxy=result["boxes"].cpu().numpy(),
                    labels=result["labels"].cpu().numpy(),
                    scores=result["scores"].cpu().numpy(),
                    query_index=result["query_index"].cpu().numpy(),
                    matched_gt=matched,
                ))
            return tuple(predictions)
        finally:
            model.train(was_training)
