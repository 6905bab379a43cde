"""Rasterising the synthetic shapes: outlines, antialiased coverage, backgrounds.

The drawing half of `cvdemo.datasets.shapes` (which decides *what* to draw). Pure NumPy +
OpenCV, no randomness of its own: every random choice is made by the caller's
``numpy.random.Generator``, so a seed fixes every pixel.

Coordinates are **continuous pixel coordinates** as in COCO: pixel ``(col, row)`` covers the
square ``[col, col + 1) x [row, row + 1)``, so an object whose pixels span columns 3..9 has
``x0 = 3, x1 = 10``. (OpenCV puts pixel centres on integers; `polygon_coverage` converts.)
"""
from __future__ import annotations

import math

import cv2
import numpy as np

__all__ = [
    "BACKGROUNDS", "SHAPE_NAMES", "Layer", "draw_background", "polygon_coverage", "shape_outline",
    "uniform_noise",
]

SHAPE_NAMES: tuple[str, ...] = ("circle", "square", "triangle", "star", "heart", "hexagon")
"""Shape names, in class-index order (class index ``k`` is category id ``k + 1``)."""

BACKGROUNDS: tuple[str, ...] = ("flat", "gradient", "stripes", "blobs", "noise")
"""Background textures `draw_background` knows."""

SUPERSAMPLE = 4
"""Each pixel's coverage is measured on a ``4 x 4`` grid: 17 levels of antialiasing."""

_FIXED_POINT_BITS = 8  # cv2.fillPoly's `shift`: vertices with 1/256 fine-pixel precision


def _regular_polygon(n: int, phase: float = -math.pi / 2) -> np.ndarray:
    t = phase + 2 * math.pi * np.arange(n) / n
    return np.stack([np.cos(t), np.sin(t)], axis=1)


def _star(points: int = 5, inner: float = 0.45) -> np.ndarray:
    t = -math.pi / 2 + math.pi * np.arange(2 * points) / points
    r = np.where(np.arange(2 * points) % 2 == 0, 1.0, inner)
    return np.stack([r * np.cos(t), r * np.sin(t)], axis=1)


def _heart(n: int = 48) -> np.ndarray:
    # The classic parametric heart, y pointing down (image rows): lobes on top, tip below.
    t = 2 * math.pi * np.arange(n) / n
    x = 16 * np.sin(t) ** 3
    y = -(13 * np.cos(t) - 5 * np.cos(2 * t) - 2 * np.cos(3 * t) - np.cos(4 * t))
    pts = np.stack([x, y], axis=1)
    pts -= (pts.max(0) + pts.min(0)) / 2  # centre of its bounding box at the origin
    return pts / np.sqrt((pts ** 2).sum(1)).max()


# Unit outlines: centred on the origin, every vertex within radius 1 and at least one on it,
# so an object of radius r rotated by any angle stays inside the disc of radius r.
_UNIT_OUTLINES: dict[str, np.ndarray] = {
    "circle": _regular_polygon(64),  # 64-gon: within 0.0013 r of the circle
    "square": _regular_polygon(4, phase=-math.pi / 4),  # axis-aligned at angle 0
    "triangle": _regular_polygon(3),  # equilateral, apex up at angle 0
    "star": _star(),  # five points, inner radius 0.45
    "heart": _heart(),
    "hexagon": _regular_polygon(6, phase=0.0),
}


def shape_outline(name: str, center_xy: tuple[float, float], radius: float, angle: float) -> np.ndarray:
    """Vertices of a shape, ``float64[V, 2]`` continuous pixel ``(x, y)``.

    Args:
        name: one of `SHAPE_NAMES`.
        center_xy: centre of the shape's circumscribed circle, pixels.
        radius: radius of that circle, pixels (the object fits in a ``2r x 2r`` square).
        angle: rotation in radians, clockwise on screen (y points down).
    """
    if name not in _UNIT_OUTLINES:
        raise ValueError(f"unknown shape {name!r}; expected one of {SHAPE_NAMES}")
    c, s = math.cos(angle), math.sin(angle)
    unit = _UNIT_OUTLINES[name]
    rotated = unit @ np.array([[c, s], [-s, c]])
    return rotated * radius + np.asarray(center_xy, dtype=np.float64)


def polygon_coverage(vertices_xy: np.ndarray, height: int, width: int) -> tuple[tuple[int, int], np.ndarray]:
    """Antialiased coverage of a polygon, in the smallest window of the image that holds it.

    Coverage is the fraction of each pixel's area inside the polygon, measured on a
    `SUPERSAMPLE` x `SUPERSAMPLE` grid of sample squares (OpenCV's own ``LINE_AA`` fill
    overshoots edges by more than half a pixel). ``cv2.fillPoly`` fills every sample square
    the outline touches, i.e. it grows the polygon by half a sample; the outline is shrunk
    towards its centroid by that much first, so edges land within ~1/8 pixel.

    Args:
        vertices_xy: ``float[V, 2]`` continuous pixel ``(x, y)``; any simple polygon.
        height, width: image size; the polygon is clipped to it.

    Returns:
        ``((row0, col0), coverage)``: ``coverage`` is ``float32[h, w]`` in [0, 1] for the
        image window ``[row0:row0 + h, col0:col0 + w]``. Empty (``h`` or ``w`` 0) when the
        polygon lies outside the image.
    """
    s = SUPERSAMPLE
    pts = np.asarray(vertices_xy, dtype=np.float64)
    center = pts.mean(axis=0)
    offset = pts - center
    dist = np.sqrt((offset ** 2).sum(axis=1)).max()
    if dist > 0:
        pts = center + offset * max(0.0, 1.0 - 0.5 / (s * dist))
    col0 = max(int(math.floor(pts[:, 0].min())), 0)
    row0 = max(int(math.floor(pts[:, 1].min())), 0)
    col1 = min(int(math.ceil(pts[:, 0].max())), width)
    row1 = min(int(math.ceil(pts[:, 1].max())), height)
    if col1 <= col0 or row1 <= row0:
        return (0, 0), np.zeros((0, 0), np.float32)
    h, w = row1 - row0, col1 - col0
    fine = np.zeros((h * s, w * s), np.uint8)
    # Fine sample square j covers [j, j+1) in fine continuous units; OpenCV's pixel j is centred on j.
    local = (pts - (col0, row0)) * s - 0.5
    fixed = np.round(local * (1 << _FIXED_POINT_BITS)).astype(np.int32)
    cv2.fillPoly(fine, [fixed], 255, lineType=cv2.LINE_8, shift=_FIXED_POINT_BITS)
    coarse = cv2.resize(fine, (w, h), interpolation=cv2.INTER_AREA)
    return (row0, col0), coarse.astype(np.float32) * np.float32(1 / 255)


class Layer:
    """One painted shape's *visible* coverage, ``float32[h, w]`` in [0, 1], in its image window.

    Shapes are painted bottom to top, each over the image with its antialiased coverage
    ``alpha`` as opacity; where a later shape covers this one, this one's visible coverage is
    multiplied by ``1 - alpha``. A pixel *belongs* to the shape while that is >= 0.5.

    Attributes:
        origin: ``(row0, col0)`` of the window in the image.
        visible: ``float32[h, w]`` visible coverage in the window.
        full_area: the shape's whole area (summed coverage before anything covered it), pixels.
    """

    def __init__(self, origin: tuple[int, int], coverage: np.ndarray) -> None:
        self.origin = origin
        self.visible = coverage.copy()
        self.full_area = float(coverage.sum())

    def _overlap(self, origin: tuple[int, int], shape: tuple[int, ...]):
        """Slices of ``self.visible`` and of a window at ``origin`` over the same pixels, or None."""
        (ar, ac), (br, bc) = self.origin, origin
        r0, c0 = max(ar, br), max(ac, bc)
        r1 = min(ar + self.visible.shape[0], br + shape[0])
        c1 = min(ac + self.visible.shape[1], bc + shape[1])
        if r1 <= r0 or c1 <= c0:
            return None
        return ((slice(r0 - ar, r1 - ar), slice(c0 - ac, c1 - ac)),
                (slice(r0 - br, r1 - br), slice(c0 - bc, c1 - bc)))

    def stays_visible(self, origin: tuple[int, int], alpha: np.ndarray, min_fraction: float) -> bool:
        """Whether painting ``alpha`` at ``origin`` would leave ``min_fraction`` of the shape
        visible and at least one pixel belonging to it."""
        win = self._overlap(origin, alpha.shape)
        if win is None:
            return True
        after = self.visible.copy()
        after[win[0]] *= 1.0 - alpha[win[1]]
        return float(after.sum()) >= min_fraction * self.full_area and bool((after >= 0.5).any())

    def cover(self, origin: tuple[int, int], alpha: np.ndarray) -> None:
        """Record that ``alpha`` was painted over this shape."""
        win = self._overlap(origin, alpha.shape)
        if win is not None:
            self.visible[win[0]] *= 1.0 - alpha[win[1]]

    @property
    def visible_area(self) -> float:
        return float(self.visible.sum())

    def box_xyxy(self) -> tuple[int, int, int, int]:
        """Tight box of the pixels that belong to the shape, continuous pixel corners."""
        mask = self.visible >= 0.5
        rows, cols = np.flatnonzero(mask.any(axis=1)), np.flatnonzero(mask.any(axis=0))
        r0, c0 = self.origin
        return c0 + int(cols[0]), r0 + int(rows[0]), c0 + int(cols[-1]) + 1, r0 + int(rows[-1]) + 1


def draw_background(kind: str, rng: np.random.Generator, size: int, contrast: float) -> np.ndarray:
    """A textured background, ``float32[size, size, 3]`` RGB in [0, 255].

    Args:
        kind: one of `BACKGROUNDS`: ``flat`` one colour; ``gradient`` a linear ramp between
            two colours in a random direction; ``stripes`` soft stripes of random period
            (4..32 px) and angle; ``blobs`` a smooth colour field (a random 3x3..8x8 grid of
            colours, bicubic-upsampled); ``noise`` per-pixel Gaussian grain.
        rng: the source of every random choice.
        size: image side, pixels.
        contrast: how far (RGB Euclidean) the texture's colours stray from its base colour;
            keeping it below the objects' contrast keeps objects the most salient thing.
    """
    base = rng.uniform(0, 255, 3).astype(np.float32)

    def others(n: int) -> np.ndarray:  # float32[n, 3]: colours within `contrast` of the base
        direction = rng.normal(size=(n, 3))
        direction /= np.linalg.norm(direction, axis=1, keepdims=True) + 1e-12
        step = direction * rng.uniform(0.4, 1.0, (n, 1)) * contrast
        return np.clip(base + step, 0, 255).astype(np.float32)

    if kind == "flat":
        return np.broadcast_to(base, (size, size, 3)).copy()
    if kind in ("gradient", "stripes"):
        theta = rng.uniform(0, 2 * math.pi)
        coords = np.arange(size, dtype=np.float32) + 0.5
        proj = coords[None, :] * math.cos(theta) + coords[:, None] * math.sin(theta)  # (H, W)
        if kind == "gradient":
            t = (proj - proj.min()) / max(float(proj.max() - proj.min()), 1e-6)
        else:
            period = rng.uniform(4, 32)
            wave = np.sin(proj * np.float32(2 * math.pi / period) + np.float32(rng.uniform(0, 2 * math.pi)))
            t = np.clip(0.5 + 0.8 * wave, 0.0, 1.0)  # a flattened sine: stripes with soft edges
        return base + t[:, :, None] * (others(1)[0] - base)
    if kind == "blobs":
        grid = int(rng.integers(3, 9))
        colours = others(grid * grid).reshape(grid, grid, 3)
        return np.clip(cv2.resize(colours, (size, size), interpolation=cv2.INTER_CUBIC), 0, 255)
    if kind == "noise":
        return np.clip(base + uniform_noise(rng, (size, size, 1), contrast / 2), 0, 255)
    raise ValueError(f"unknown background {kind!r}; expected one of {BACKGROUNDS}")


def uniform_noise(rng: np.random.Generator, shape: tuple[int, ...], std: float) -> np.ndarray:
    """Zero-mean noise with standard deviation ``std``, ``float32[shape]``.

    Uniform, from random bytes: ten times cheaper than ``standard_normal`` (which would
    take a quarter of the time to make a 128 x 128 image), and grain looks the same.
    """
    raw = rng.integers(0, 256, shape, dtype=np.uint8).astype(np.float32)
    # A uniform byte has variance (256**2 - 1) / 12.
    return (raw - np.float32(127.5)) * np.float32(std / math.sqrt((256 ** 2 - 1) / 12))
