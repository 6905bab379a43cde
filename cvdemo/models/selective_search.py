"""Selective search (Uijlings et al., IJCV 2013): class-agnostic region proposals, R-CNN's first stage.

The image is over-segmented (Felzenszwalb's graph segmentation at a few scales and colour spaces) and
neighbouring regions are merged greedily by colour, texture, size and fill similarity until one region is
left; every region met on the way gives a box. OpenCV's implementation (`cv2.ximgproc.segmentation`, in the
opencv-contrib build) runs it:

- "fast": 2 colour spaces (HSV, Lab), a few segmentation scales, 2 combinations of the similarities;
- "quality": 5 colour spaces, more scales, 4 combinations: more boxes, better recall, slower.

It ranks the boxes as the paper does: the hierarchy level times a random number, so large and small regions
interleave; that random number comes from the C library's `rand()`, which this module seeds (`seed`) under a
lock (so searches in several threads run one at a time) and the same image gives the same boxes in the same order.

Time on this machine (2 x86_64 cores shared with training jobs, OpenCV 5.1, one thread): a 128 px shapes
image takes 0.07-0.1 s in "fast" (~50 boxes) and ~0.2 s in "quality" (~125 boxes); a 512 px photo (astronaut,
512x512) ~1.5 s in "fast" (~2,500 boxes) and ~5 s in "quality" (~8,900 boxes). Hence `max_side`: larger images
are shrunk first.
"""

from __future__ import annotations

import ctypes
import threading

import cv2
import numpy as np

__all__ = ["MODES", "selective_search_xyxy"]

MODES = ("fast", "quality")

_LIBC_LOCK = threading.Lock()


def _seed_c_rand() -> object:
    """The C library's `srand` (OpenCV's ranking draws from `rand()`), or None where it cannot be found."""
    try:
        return ctypes.CDLL(None).srand
    except (OSError, AttributeError):  # no process-wide C library symbols (e.g. Windows): order not reproducible
        return None


_SRAND = _seed_c_rand()


def selective_search_xyxy(image: np.ndarray, mode: str = "fast", max_side: int = 512,
                          max_proposals: int | None = 2000, min_box_side: float = 0.0,
                          seed: int = 0) -> np.ndarray:
    """Selective-search boxes of one image.

    Args:
        image: uint8 [H, W, 3] RGB (converted to the BGR order OpenCV's colour conversions expect).
        mode: "fast" or "quality" (module docstring).
        max_side: an image whose longer side exceeds this is shrunk to it (aspect ratio kept, INTER_AREA) before
            the search, and the boxes are scaled back; the search's time grows faster than the pixel count.
        max_proposals: keep the first boxes of OpenCV's ranking (None: all).
        min_box_side: drop boxes narrower or lower than this many pixels of the input image (before the cap).
        seed: seeds the ranking's random numbers.

    Returns:
        float32 [P, 4] boxes, pixel (x1, y1, x2, y2) of the input image (continuous corners: a box covering
        columns 3..5 is x1=3, x2=6), inside [0, W] x [0, H], in OpenCV's rank order (best first), P >= 0.
    """
    if mode not in MODES:
        raise ValueError(f"selective search mode must be one of {MODES}, got {mode!r}")
    if not isinstance(image, np.ndarray) or image.dtype != np.uint8 or image.ndim != 3 or image.shape[2] != 3:
        raise ValueError("selective search needs a uint8 [H, W, 3] RGB array, got "
                         f"{getattr(image, 'dtype', type(image).__name__)} {getattr(image, 'shape', '')}")
    if max_side < 1:
        raise ValueError(f"max_side must be >= 1, got {max_side}")
    if max_proposals is not None and max_proposals < 0:
        raise ValueError(f"max_proposals must be >= 0 or None, got {max_proposals}")
    h, w = image.shape[:2]
    if h == 0 or w == 0:
        return np.zeros((0, 4), np.float32)
    scale = min(1.0, max_side / max(h, w))
    small_w, small_h = max(1, round(w * scale)), max(1, round(h * scale))  # a side never rounds to 0
    bgr = cv2.cvtColor(np.ascontiguousarray(image), cv2.COLOR_RGB2BGR)
    if (small_w, small_h) != (w, h):
        bgr = cv2.resize(bgr, (small_w, small_h), interpolation=cv2.INTER_AREA)

    search = cv2.ximgproc.segmentation.createSelectiveSearchSegmentation()
    search.setBaseImage(bgr)
    if mode == "fast":
        search.switchToSelectiveSearchFast()
    else:
        search.switchToSelectiveSearchQuality()
    with _LIBC_LOCK:
        if _SRAND is not None:
            _SRAND(seed)
        rects = search.process()  # int32 [P, 4] x, y, w, h of the searched image

    boxes = np.asarray(rects, np.float32).reshape(-1, 4)
    boxes[:, 2:] += boxes[:, :2]  # xywh -> xyxy
    boxes *= np.array([w / small_w, h / small_h, w / small_w, h / small_h], np.float32)
    np.clip(boxes, 0, np.array([w, h, w, h], np.float32), out=boxes)
    if min_box_side > 0:
        boxes = boxes[((boxes[:, 2] - boxes[:, 0]) >= min_box_side) & ((boxes[:, 3] - boxes[:, 1]) >= min_box_side)]
    if max_proposals is not None:
        boxes = boxes[:max_proposals]
    return np.ascontiguousarray(boxes)
