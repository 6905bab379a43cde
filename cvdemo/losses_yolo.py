"""YOLO v1's loss and its grid assignment (Redmon et al., "You Only Look Once", CVPR 2016, section 2.2).

Grid predictions (what `cvdemo.models.yolo.YOLO.predict_grid` returns), N images, S x S cells, B boxes per cell,
C classes; cell ``[n, row, col]`` has ``row`` along y (top to bottom) and ``col`` along x:

    "xy"           [N, S, S, B, 2]  box centre relative to its cell, in [0, 1] (0 = the cell's left / top edge)
    "sqrt_wh"      [N, S, S, B, 2]  square roots of the box width and height relative to the image, in [0, 1]
    "confidence"   [N, S, S, B]     trained towards Pr(object) * IoU(box, object)
    "class_probs"  [N, S, S, C]     Pr(class | object), one distribution per cell (sums to 1)

`grid_to_boxes_cxcywh` turns a box into normalised image coordinates: ``cx = (col + x) / S``,
``cy = (row + y) / S``, ``w = sqrt_w ** 2``, ``h = sqrt_h ** 2``.

Targets, one dict per image, in the same normalised frame (the model converts pixel boxes to it):

    "boxes"   float [n, 4] normalised cxcywh in [0, 1]
    "labels"  int64 [n] class index 0..C-1

Assignment (`assign_targets`): an object belongs to the cell that holds its centre; of that cell's B boxes, the one
whose *current* prediction has the highest IoU with the object is "responsible" for it (ties go to the lower box
index). A cell has one class distribution, so it answers for one object: when several centres fall in one cell,
the largest object (by w * h; ties: the first in target order) keeps the cell, and the others are left out of the
loss (box index -1): none of their terms is computed and every other box of that cell is trained as "no object".
This is YOLO v1's known weakness with crowds of small objects.

Loss (`yolo_loss`), sum-squared errors as in the paper, summed over the batch and divided by the batch size N:

    loss_coord  = lambda_coord * sum over responsible boxes of
                  (x - x*)^2 + (y - y*)^2 + (sqrt w - sqrt w*)^2 + (sqrt h - sqrt h*)^2
    loss_obj    = sum over responsible boxes of (confidence - IoU)^2      (target: the IoU of the predicted box with
                  its object, as the paper; computed without gradient)
    loss_noobj  = lambda_noobj * sum over all other boxes of confidence^2
    loss_class  = sum over cells that hold an (assigned) object of sum_c (p(c) - onehot(c))^2

The returned terms are already weighted (lambda_coord 5, lambda_noobj 0.5 by default): their sum is the paper's loss.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from cvdemo.boxes import box_cxcywh_to_xyxy, box_iou_xyxy_elementwise

__all__ = ["LOSS_NAMES", "Assignment", "assign_targets", "grid_to_boxes_cxcywh", "object_cells", "yolo_loss"]

LOSS_NAMES = ("loss_coord", "loss_obj", "loss_noobj", "loss_class")


def grid_to_boxes_cxcywh(xy: torch.Tensor, sqrt_wh: torch.Tensor) -> torch.Tensor:
    """Cell-relative boxes ``[..., S, S, B, 2]`` (xy) and ``[..., S, S, B, 2]`` (sqrt_wh) -> ``[..., S, S, B, 4]``
    normalised cxcywh of the whole image."""
    s = xy.shape[-3]
    cols = torch.arange(s, device=xy.device, dtype=xy.dtype).view(1, s, 1)
    rows = torch.arange(s, device=xy.device, dtype=xy.dtype).view(s, 1, 1)
    cx = (cols + xy[..., 0]) / s
    cy = (rows + xy[..., 1]) / s
    wh = sqrt_wh**2
    return torch.stack([cx, cy, wh[..., 0], wh[..., 1]], dim=-1)


def object_cells(boxes_cxcywh: torch.Tensor, grid_size: int) -> torch.Tensor:
    """Normalised cxcywh ``[n, 4]`` -> ``[n, 2]`` int64 (row, col) of the cell holding each centre. A centre on a
    cell edge belongs to the cell right of / below it; a centre on the image's right or bottom edge to the last."""
    col = (boxes_cxcywh[:, 0] * grid_size).floor().long().clamp(0, grid_size - 1)
    row = (boxes_cxcywh[:, 1] * grid_size).floor().long().clamp(0, grid_size - 1)
    return torch.stack([row, col], dim=1)


@dataclass
class Assignment:
    """Which predicted box answers for each of an image's n objects.

    cells      [n, 2] int64  (row, col) of the cell holding the object's centre
    box_index  [n] int64     the responsible box of that cell, 0..B-1; -1 when a larger object took the cell
    iou        [n] float     IoU of the responsible box's prediction with the object (0 where box_index is -1)
    """

    cells: torch.Tensor
    box_index: torch.Tensor
    iou: torch.Tensor


def assign_targets(pred_boxes_cxcywh: torch.Tensor, target_boxes_cxcywh: torch.Tensor) -> Assignment:
    """One image: predicted boxes ``[S, S, B, 4]`` and objects ``[n, 4]``, both normalised cxcywh -> `Assignment`
    (rules in the module docstring). No gradient flows through the assignment."""
    s = pred_boxes_cxcywh.shape[0]
    pred = pred_boxes_cxcywh.detach()
    targets = target_boxes_cxcywh.detach().to(pred)
    cells = object_cells(targets, s)
    # IoU of each object with the B boxes of its own cell: [n, B]
    candidates = box_cxcywh_to_xyxy(pred[cells[:, 0], cells[:, 1]])
    ious = box_iou_xyxy_elementwise(candidates, box_cxcywh_to_xyxy(targets)[:, None, :])
    box_index = ious.argmax(dim=1)  # the first of equal maxima
    best_iou = ious.gather(1, box_index[:, None])[:, 0]

    # one object per cell: the largest keeps it (stable sort, so ties go to the first in target order)
    areas = targets[:, 2] * targets[:, 3]
    taken: set[tuple[int, int]] = set()
    for i in torch.sort(areas, descending=True, stable=True).indices.tolist():
        cell = (int(cells[i, 0]), int(cells[i, 1]))
        if cell in taken:
            box_index[i], best_iou[i] = -1, 0.0
        taken.add(cell)
    return Assignment(cells=cells, box_index=box_index, iou=best_iou)


def _dense_targets(assignment: Assignment, boxes_cxcywh: torch.Tensor, labels: torch.Tensor, s: int, b: int,
                   c: int) -> dict[str, torch.Tensor]:
    """One image's assignment spread over the grid: responsible [S, S, B] bool, xy / sqrt_wh [S, S, B, 2],
    confidence [S, S, B] (IoU), has_object [S, S] bool, class_onehot [S, S, C]."""
    device, dtype = boxes_cxcywh.device, boxes_cxcywh.dtype
    dense = {
        "responsible": torch.zeros(s, s, b, dtype=torch.bool, device=device),
        "xy": torch.zeros(s, s, b, 2, dtype=dtype, device=device),
        "sqrt_wh": torch.zeros(s, s, b, 2, dtype=dtype, device=device),
        "confidence": torch.zeros(s, s, b, dtype=dtype, device=device),
        "has_object": torch.zeros(s, s, dtype=torch.bool, device=device),
        "class_onehot": torch.zeros(s, s, c, dtype=dtype, device=device),
    }
    kept = assignment.box_index >= 0
    rows, cols, box = assignment.cells[kept, 0], assignment.cells[kept, 1], assignment.box_index[kept]
    objects = boxes_cxcywh[kept]
    dense["responsible"][rows, cols, box] = True
    dense["xy"][rows, cols, box] = torch.stack([objects[:, 0] * s - cols, objects[:, 1] * s - rows], dim=1)
    dense["sqrt_wh"][rows, cols, box] = objects[:, 2:].clamp(min=0).sqrt()
    dense["confidence"][rows, cols, box] = assignment.iou[kept].to(dtype)
    dense["has_object"][rows, cols] = True
    dense["class_onehot"][rows, cols, labels.to(device, torch.long)[kept]] = 1.0
    return dense


def yolo_loss(predictions: dict[str, torch.Tensor], targets: list[dict[str, torch.Tensor]],
              lambda_coord: float = 5.0, lambda_noobj: float = 0.5) -> dict[str, torch.Tensor]:
    """Grid predictions (module docstring) and one target dict per image -> the four weighted loss terms
    ``{"loss_coord", "loss_obj", "loss_noobj", "loss_class"}``, each a scalar summed over the batch / N."""
    xy, sqrt_wh = predictions["xy"], predictions["sqrt_wh"]
    confidence, class_probs = predictions["confidence"], predictions["class_probs"]
    n, s, _, b, _ = xy.shape
    c = class_probs.shape[-1]
    if len(targets) != n:
        raise ValueError(f"got {len(targets)} target dicts for {n} images")
    if n == 0:
        return {name: xy.sum() * 0 for name in LOSS_NAMES}
    pred_boxes = grid_to_boxes_cxcywh(xy, sqrt_wh).detach()
    per_image = [_dense_targets(assign_targets(pred_boxes[i], t["boxes"]), t["boxes"].to(xy), t["labels"], s, b, c)
                 for i, t in enumerate(targets)]
    dense = {key: torch.stack([d[key] for d in per_image]) for key in per_image[0]}

    responsible = dense["responsible"]  # [N, S, S, B]
    coord_error = ((xy - dense["xy"]) ** 2).sum(-1) + ((sqrt_wh - dense["sqrt_wh"]) ** 2).sum(-1)
    class_error = ((class_probs - dense["class_onehot"]) ** 2).sum(-1)  # [N, S, S]
    return {
        "loss_coord": lambda_coord * coord_error[responsible].sum() / n,
        "loss_obj": ((confidence - dense["confidence"]) ** 2)[responsible].sum() / n,
        "loss_noobj": lambda_noobj * (confidence**2)[~responsible].sum() / n,
        "loss_class": class_error[dense["has_object"]].sum() / n,
    }
