"""Turning RGB images into model inputs (resize, rescale, normalise, pad) for DETR and ViT.

Images are uint8 RGB arrays `[H, W, 3]` (or PIL images, converted with `np.asarray`); decoding and
validating user files is not done here.

DETR (as transformers' DetrImageProcessor): resize so the short side is `shortest_edge` unless the long
side would pass `longest_edge`, bilinear; normalise; pad every image of a batch at the bottom/right to the
largest size, with `pixel_mask` 1 on real pixels and 0 on padding. Any aspect ratio is accepted: each side is
at least 1 pixel after resizing (an 8000x12 banner becomes 1333x2 at DETR-R50's edges, 128x1 at 128), so the
aspect ratio is kept only approximately for extreme shapes (`keeps_aspect_ratio` tells).

`IMAGENET_MEAN` / `IMAGENET_STD` are defined here, once, for every model config and data pipeline.
"""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F

IMAGENET_MEAN = (0.485, 0.456, 0.406)  # per-channel mean of ImageNet pixels in [0, 1] (RGB)
IMAGENET_STD = (0.229, 0.224, 0.225)
ASPECT_TOLERANCE = 0.05  # relative change of width / height still called "kept" (rounding to whole pixels)


def detr_resize_shape(height: int, width: int, shortest_edge: int, longest_edge: int) -> tuple[int, int]:
    """(height, width) after DETR's resize: short side -> shortest_edge, unless the long side would pass
    longest_edge, then long side -> longest_edge (computed as transformers does, from the unrounded size).

    Each side is at least 1 pixel: for an extreme aspect ratio (a 1333x2 banner at edges 128) the short side
    would round to 0, so it is clamped to 1 (the aspect ratio then changes; see `keeps_aspect_ratio`)."""
    if height < 1 or width < 1:
        raise ValueError(f"the image has no pixels ({width}x{height})")
    short, long = min(height, width), max(height, width)
    target = float(shortest_edge)
    if long / short * shortest_edge > longest_edge:
        target = longest_edge * short / long
    if short == round(target):
        return height, width
    if height <= width:
        return max(1, int(round(target))), max(1, int(target * width / height))
    return max(1, int(target * height / width)), max(1, int(round(target)))


def keeps_aspect_ratio(original_hw: tuple[int, int], resized_hw: tuple[int, int],
                       tolerance: float = ASPECT_TOLERANCE) -> bool:
    """Whether resizing (height, width) `original_hw` to `resized_hw` kept width / height within `tolerance`
    (relative): False for a side clamped to 1 pixel, or a ViT's square input made from a non-square image."""
    (h, w), (rh, rw) = original_hw, resized_hw
    ratio = (rw / rh) / (w / h)
    return 1 / (1 + tolerance) <= ratio <= 1 + tolerance


def _to_float_chw(image) -> torch.Tensor:
    array = np.asarray(image)
    if array.ndim != 3 or array.shape[2] != 3 or array.dtype != np.uint8 or 0 in array.shape:
        raise ValueError(f"expected an RGB uint8 image [H, W, 3] with pixels, got {array.dtype} {array.shape}")
    return torch.from_numpy(np.ascontiguousarray(array)).permute(2, 0, 1).float().div_(255)


def normalize(pixels: torch.Tensor, mean, std) -> torch.Tensor:
    """pixels [..., 3, H, W] in [0, 1] -> (pixels - mean) / std per channel."""
    mean = torch.as_tensor(mean, dtype=pixels.dtype).view(3, 1, 1)
    std = torch.as_tensor(std, dtype=pixels.dtype).view(3, 1, 1)
    return (pixels - mean) / std


def prepare_detr_inputs(images, config, device: str | torch.device = "cpu") -> dict:
    """images: one or a list of RGB images; config: a DETRConfig (mean, std, resize edges).

    Returns {"pixel_values" [B,3,Hp,Wp], "pixel_mask" [B,Hp,Wp] int64 (1 = real pixel),
             "original_sizes" [B,2] (h, w) of the inputs, "resized_sizes" [B,2] (h, w) before padding}.
    Boxes predicted by DETR are relative to the resized (unpadded) image, so scale them with `original_sizes`.
    Any aspect ratio works: every resized side is at least 1 pixel (`detr_resize_shape`).
    """
    if not isinstance(images, (list, tuple)):
        images = [images]
    tensors, originals, resized = [], [], []
    for image in images:
        x = _to_float_chw(image)
        h, w = x.shape[-2:]
        nh, nw = detr_resize_shape(h, w, config.shortest_edge, config.longest_edge)
        if (nh, nw) != (h, w):
            x = F.interpolate(x[None], size=(nh, nw), mode="bilinear", align_corners=False, antialias=True)[0]
        tensors.append(normalize(x, config.image_mean, config.image_std))
        originals.append((h, w))
        resized.append((nh, nw))
    max_h = max(t.shape[1] for t in tensors)
    max_w = max(t.shape[2] for t in tensors)
    pixel_values = torch.zeros(len(tensors), 3, max_h, max_w)
    pixel_mask = torch.zeros(len(tensors), max_h, max_w, dtype=torch.int64)
    for i, t in enumerate(tensors):
        pixel_values[i, :, : t.shape[1], : t.shape[2]] = t
        pixel_mask[i, : t.shape[1], : t.shape[2]] = 1
    return {
        "pixel_values": pixel_values.to(device),
        "pixel_mask": pixel_mask.to(device),
        "original_sizes": torch.tensor(originals),
        "resized_sizes": torch.tensor(resized),
    }
