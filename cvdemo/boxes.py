"""Box geometry for torch tensors and numpy arrays alike.

Every function takes either a ``torch.Tensor`` or a ``numpy.ndarray`` (anything
else is turned into a numpy array) and returns the same kind, on the same device.

Box formats, named in every function name (all coordinates in the same unit,
pixels or normalised to [0, 1]):

* ``xyxy``   -- ``(x0, y0, x1, y1)``: top-left and bottom-right corners.
* ``xywh``   -- ``(x0, y0, w, h)``: top-left corner and size (COCO's ``bbox``).
* ``cxcywh`` -- ``(cx, cy, w, h)``: centre and size (DETR's ``pred_boxes``).

Conversions accept any leading batch dimensions, ``[..., 4] -> [..., 4]``. Floating
inputs keep their dtype; integer inputs keep it where the arithmetic is exact
(xyxy <-> xywh) and become floating where a halving is needed (torch's default
float dtype, numpy float64).

IoU-type measures are computed in at least float32 (float16/bfloat16 and integer
tensors are upcast, as ``torchvision.ops`` does; integer numpy arrays become float64).

Degenerate boxes (``x1 < x0`` or ``y1 < y0``, zero width or height, single points)
never produce NaN or inf:

* widths and heights are clamped at 0, so such a box has area 0;
* the union and the enclosing-box area are clamped at ``eps = finfo(dtype).eps ** 2``
  (about 1.4e-14 in float32, 4.9e-32 in float64), far below any real box, so for valid
  boxes the results equal ``torchvision.ops.box_iou`` / ``generalized_box_iou`` to float
  precision;
* IoU is in [0, 1]; IoU of a zero-area box with anything is 0 (two identical points too);
* GIoU is in [-1, 1]. With both areas 0 the union is eps, so GIoU is
  ``-(enclose - eps) / enclose``: about -1 when the enclosing box has an area, and 0 when
  it has none (identical points, points or segments on one line);
* gradients of GIoU/IoU with respect to torch boxes stay finite for such boxes.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TypeVar

import numpy as np
import torch

__all__ = [
    "box_area_xyxy",
    "box_cxcywh_to_xywh",
    "box_cxcywh_to_xyxy",
    "box_iou_xyxy",
    "box_iou_xyxy_elementwise",
    "box_xywh_to_cxcywh",
    "box_xywh_to_xyxy",
    "box_xyxy_to_cxcywh",
    "box_xyxy_to_xywh",
    "denormalize_boxes",
    "generalized_box_iou_xyxy",
    "generalized_box_iou_xyxy_elementwise",
    "normalize_boxes",
]

Boxes = TypeVar("Boxes", torch.Tensor, np.ndarray)


# --- small backend helpers: the only place that knows torch from numpy ---------------


def _as_boxes(boxes: object, name: str = "boxes") -> torch.Tensor | np.ndarray:
    if not isinstance(boxes, (torch.Tensor, np.ndarray)):
        boxes = np.asarray(boxes)
    if boxes.ndim == 0 or boxes.shape[-1] != 4:
        raise ValueError(f"{name} must have shape [..., 4], got {tuple(boxes.shape)}")
    return boxes


def _stack(parts: Sequence[torch.Tensor | np.ndarray]) -> torch.Tensor | np.ndarray:
    if isinstance(parts[0], torch.Tensor):
        return torch.stack(list(parts), dim=-1)
    return np.stack(parts, axis=-1)


def _clamp_min(x: torch.Tensor | np.ndarray, low: float) -> torch.Tensor | np.ndarray:
    if isinstance(x, torch.Tensor):
        return x.clamp(min=low)
    return np.maximum(x, np.asarray(low, dtype=x.dtype))


def _maximum(a, b):
    return torch.maximum(a, b) if isinstance(a, torch.Tensor) else np.maximum(a, b)


def _minimum(a, b):
    return torch.minimum(a, b) if isinstance(a, torch.Tensor) else np.minimum(a, b)


def _to_float(boxes: torch.Tensor | np.ndarray) -> torch.Tensor | np.ndarray:
    """Upcast for IoU arithmetic: half/bfloat16/int tensors -> float32, int arrays -> float64."""
    if isinstance(boxes, torch.Tensor):
        if boxes.dtype in (torch.float32, torch.float64):
            return boxes
        return boxes.float()
    if boxes.dtype in (np.float32, np.float64):
        return boxes
    if boxes.dtype == np.float16:
        return boxes.astype(np.float32)
    return boxes.astype(np.float64)


def _float_like(boxes: torch.Tensor | np.ndarray) -> torch.Tensor | np.ndarray:
    if isinstance(boxes, torch.Tensor):
        return boxes if boxes.is_floating_point() else boxes.to(torch.get_default_dtype())
    return boxes if np.issubdtype(boxes.dtype, np.floating) else boxes.astype(np.float64)


def _eps(x: torch.Tensor | np.ndarray) -> float:
    """Floor for denominators: finfo(dtype).eps ** 2 (1.4e-14 for float32)."""
    finfo = torch.finfo(x.dtype) if isinstance(x, torch.Tensor) else np.finfo(x.dtype)
    return float(finfo.eps) ** 2


# --- format conversions --------------------------------------------------------------


def box_xyxy_to_cxcywh(boxes: Boxes) -> Boxes:
    """``[..., 4]`` corners ``(x0, y0, x1, y1)`` -> ``[..., 4]`` ``(cx, cy, w, h)``."""
    boxes = _float_like(_as_boxes(boxes))
    x0, y0, x1, y1 = boxes[..., 0], boxes[..., 1], boxes[..., 2], boxes[..., 3]
    return _stack([(x0 + x1) * 0.5, (y0 + y1) * 0.5, x1 - x0, y1 - y0])


def box_cxcywh_to_xyxy(boxes: Boxes) -> Boxes:
    """``[..., 4]`` ``(cx, cy, w, h)`` -> ``[..., 4]`` corners ``(x0, y0, x1, y1)``."""
    boxes = _float_like(_as_boxes(boxes))
    cx, cy = boxes[..., 0], boxes[..., 1]
    half_w, half_h = boxes[..., 2] * 0.5, boxes[..., 3] * 0.5
    return _stack([cx - half_w, cy - half_h, cx + half_w, cy + half_h])


def box_xyxy_to_xywh(boxes: Boxes) -> Boxes:
    """``[..., 4]`` corners ``(x0, y0, x1, y1)`` -> ``[..., 4]`` ``(x0, y0, w, h)`` (COCO)."""
    boxes = _as_boxes(boxes)
    x0, y0 = boxes[..., 0], boxes[..., 1]
    return _stack([x0, y0, boxes[..., 2] - x0, boxes[..., 3] - y0])


def box_xywh_to_xyxy(boxes: Boxes) -> Boxes:
    """``[..., 4]`` ``(x0, y0, w, h)`` (COCO) -> ``[..., 4]`` corners ``(x0, y0, x1, y1)``."""
    boxes = _as_boxes(boxes)
    x0, y0 = boxes[..., 0], boxes[..., 1]
    return _stack([x0, y0, x0 + boxes[..., 2], y0 + boxes[..., 3]])


def box_cxcywh_to_xywh(boxes: Boxes) -> Boxes:
    """``[..., 4]`` ``(cx, cy, w, h)`` -> ``[..., 4]`` ``(x0, y0, w, h)`` (COCO)."""
    boxes = _float_like(_as_boxes(boxes))
    w, h = boxes[..., 2], boxes[..., 3]
    return _stack([boxes[..., 0] - w * 0.5, boxes[..., 1] - h * 0.5, w, h])


def box_xywh_to_cxcywh(boxes: Boxes) -> Boxes:
    """``[..., 4]`` ``(x0, y0, w, h)`` (COCO) -> ``[..., 4]`` ``(cx, cy, w, h)``."""
    boxes = _float_like(_as_boxes(boxes))
    w, h = boxes[..., 2], boxes[..., 3]
    return _stack([boxes[..., 0] + w * 0.5, boxes[..., 1] + h * 0.5, w, h])


# --- normalisation -------------------------------------------------------------------


def _scale_xyxy(boxes: torch.Tensor | np.ndarray, image_size) -> torch.Tensor | np.ndarray:
    """``[..., 4]`` factors ``(w, h, w, h)`` shaped to broadcast against ``boxes``."""
    is_torch = isinstance(boxes, torch.Tensor)
    if is_torch:
        size = torch.as_tensor(image_size, device=boxes.device)
    else:
        size = (
            image_size.detach().cpu().numpy()
            if isinstance(image_size, torch.Tensor)
            else np.asarray(image_size)
        )
    if size.ndim == 0 or size.shape[-1] != 2:
        raise ValueError(
            f"image_size must be (height, width) or an [..., 2] array of them, got shape {tuple(size.shape)}"
        )
    if bool((size <= 0).any()):
        raise ValueError(f"image_size must be positive (height, width), got {size.tolist()}")
    height, width = size[..., 0], size[..., 1]
    scale = _stack([width, height, width, height])
    # Per-image sizes [B, 2] against boxes [B, Q, 4]: align leading dims from the left.
    extra = boxes.ndim - scale.ndim
    if extra > 0 and scale.ndim > 1:
        scale = scale.reshape(tuple(scale.shape[:-1]) + (1,) * extra + (4,))
    return scale


def normalize_boxes(boxes: Boxes, image_size) -> Boxes:
    """Pixel boxes -> boxes normalised to [0, 1]: x values / width, y values / height.

    Valid for ``xyxy``, ``xywh`` and ``cxcywh`` alike: in all three the columns are
    ``(x, y, x, y)``-like (position or extent along x, then y), so each column scales
    by the image's width or height.

    Args:
        boxes: ``[..., 4]`` in pixels.
        image_size: ``(height, width)``, or an ``[..., 2]`` tensor/array of
            ``(height, width)`` rows: one per box (``[N, 2]`` for boxes ``[N, 4]``) or one
            per image (``[B, 2]`` for boxes ``[B, Q, 4]``; leading dims align from the left).

    Returns:
        ``[..., 4]`` of the same kind; floating dtype kept, integer boxes become floating.
    """
    boxes = _float_like(_as_boxes(boxes))
    scale = _scale_xyxy(boxes, image_size)
    return boxes / (scale.to(boxes.dtype) if isinstance(scale, torch.Tensor) else scale.astype(boxes.dtype))


def denormalize_boxes(boxes: Boxes, image_size) -> Boxes:
    """Normalised boxes -> pixels: x values * width, y values * height.

    The inverse of :func:`normalize_boxes`, with the same ``image_size`` contract
    (``(height, width)`` or ``[..., 2]`` rows of them) and the same formats (xyxy, xywh,
    cxcywh). Returns ``[..., 4]`` of the same kind and (floating) dtype.
    """
    boxes = _float_like(_as_boxes(boxes))
    scale = _scale_xyxy(boxes, image_size)
    return boxes * (scale.to(boxes.dtype) if isinstance(scale, torch.Tensor) else scale.astype(boxes.dtype))


# --- areas, IoU, GIoU ----------------------------------------------------------------


def box_area_xyxy(boxes: Boxes) -> Boxes:
    """``[..., 4]`` xyxy -> ``[...]`` areas; negative widths/heights count as 0."""
    boxes = _as_boxes(boxes)
    width = _clamp_min(boxes[..., 2] - boxes[..., 0], 0)
    height = _clamp_min(boxes[..., 3] - boxes[..., 1], 0)
    return width * height


def _inter_union(a, b):
    """Broadcasting core: ``a``, ``b`` ``[..., 4]`` xyxy (same float dtype) -> inter, union ``[...]``.

    The union is clamped at eps (it is 0 only when both areas are 0, and then inter is 0).
    """
    eps = _eps(a)
    inter_w = _clamp_min(_minimum(a[..., 2], b[..., 2]) - _maximum(a[..., 0], b[..., 0]), 0)
    inter_h = _clamp_min(_minimum(a[..., 3], b[..., 3]) - _maximum(a[..., 1], b[..., 1]), 0)
    inter = inter_w * inter_h
    union = box_area_xyxy(a) + box_area_xyxy(b) - inter
    return inter, _clamp_min(union, eps)


def _giou(a, b):
    """Broadcasting core of GIoU: ``iou - (enclose - union) / enclose`` with clamped denominators."""
    inter, union = _inter_union(a, b)
    iou = inter / union
    enclose_w = _clamp_min(_maximum(a[..., 2], b[..., 2]) - _minimum(a[..., 0], b[..., 0]), 0)
    enclose_h = _clamp_min(_maximum(a[..., 3], b[..., 3]) - _minimum(a[..., 1], b[..., 1]), 0)
    enclose = _clamp_min(enclose_w * enclose_h, _eps(a))
    return iou - (enclose - union) / enclose


def _pair(boxes1, boxes2):
    """Check both, upcast them and put them on one backend and dtype."""
    a = _to_float(_as_boxes(boxes1, "boxes1"))
    b = _to_float(_as_boxes(boxes2, "boxes2"))
    if isinstance(a, torch.Tensor) != isinstance(b, torch.Tensor):
        raise TypeError("boxes1 and boxes2 must both be torch tensors or both numpy arrays")
    if isinstance(a, torch.Tensor):
        dtype = torch.promote_types(a.dtype, b.dtype)
        return a.to(dtype), b.to(dtype)
    dtype = np.promote_types(a.dtype, b.dtype)
    return a.astype(dtype, copy=False), b.astype(dtype, copy=False)


def box_iou_xyxy(boxes1: Boxes, boxes2: Boxes) -> Boxes:
    """Pairwise IoU: ``[..., N, 4]`` x ``[..., M, 4]`` xyxy -> ``[..., N, M]`` in [0, 1].

    Equals ``torchvision.ops.box_iou`` for valid boxes; zero-area boxes give 0.
    """
    a, b = _pair(boxes1, boxes2)
    inter, union = _inter_union(a[..., :, None, :], b[..., None, :, :])
    return inter / union


def box_iou_xyxy_elementwise(boxes1: Boxes, boxes2: Boxes) -> Boxes:
    """IoU of matching rows: ``[..., 4]`` and ``[..., 4]`` xyxy (broadcastable) -> ``[...]``."""
    a, b = _pair(boxes1, boxes2)
    inter, union = _inter_union(a, b)
    return inter / union


def generalized_box_iou_xyxy(boxes1: Boxes, boxes2: Boxes) -> Boxes:
    """Pairwise GIoU: ``[..., N, 4]`` x ``[..., M, 4]`` xyxy -> ``[..., N, M]`` in [-1, 1].

    ``GIoU = IoU - (enclose - union) / enclose`` (Rezatofighi et al. 2019; DETR's
    ``util/box_ops.py``). Equals ``torchvision.ops.generalized_box_iou`` for valid boxes;
    finite, with finite gradients, for degenerate ones (see the module docstring).
    """
    a, b = _pair(boxes1, boxes2)
    return _giou(a[..., :, None, :], b[..., None, :, :])


def generalized_box_iou_xyxy_elementwise(boxes1: Boxes, boxes2: Boxes) -> Boxes:
    """GIoU of matching rows: ``[..., 4]`` and ``[..., 4]`` xyxy (broadcastable) -> ``[...]``."""
    a, b = _pair(boxes1, boxes2)
    return _giou(a, b)
