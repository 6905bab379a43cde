"""Pictures for people: boxes with labels, heatmap overlays, markers, patch grids and tiled maps.

Every function takes and returns RGB uint8 images `[H, W, 3]` (numpy) and never modifies its input.
Boxes are pixel (x0, y0, x1, y1) corners in the coordinates of the image they are drawn on; heatmaps are
float `[H, W]` in [0, 1] of the same size as the image (see `cvdemo.attention.upsample_heatmap`).
Small images (a 128-pixel shapes image) are best enlarged with `enlarge_for_display` first, so that
labels stay readable; boxes then scale by the same factor.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import cv2
import numpy as np
from PIL import Image, ImageDraw, ImageFont

from cvdemo.captions import caption_font, label_band_px, place_captions

# Distinct, colour-blind-friendly-ish colours (Tableau 10, then a few more).
PALETTE: tuple[tuple[int, int, int], ...] = (
    (31, 119, 180), (255, 127, 14), (44, 160, 44), (214, 39, 40), (148, 103, 189), (140, 86, 75),
    (227, 119, 194), (127, 127, 127), (188, 189, 34), (23, 190, 207), (174, 199, 232), (255, 187, 120),
)

COLORMAPS = {"turbo": cv2.COLORMAP_TURBO, "inferno": cv2.COLORMAP_INFERNO, "viridis": cv2.COLORMAP_VIRIDIS,
             "jet": cv2.COLORMAP_JET}


def class_color(index: int) -> tuple[int, int, int]:
    """A fixed RGB colour for class `index` (cycles through `PALETTE`)."""
    return PALETTE[int(index) % len(PALETTE)]


def _check_image(image: np.ndarray) -> np.ndarray:
    image = np.asarray(image)
    if image.ndim != 3 or image.shape[2] != 3 or image.dtype != np.uint8:
        raise ValueError(f"expected an RGB uint8 image [H, W, 3], got {image.dtype} {image.shape}")
    return image


def display_scale(height: int, width: int, min_side: int = 480, max_side: int = 1024) -> float:
    """Factor to draw an image at: small images are enlarged so the shorter side reaches `min_side` (without
    the longer side passing `max_side`); images are never shrunk here."""
    scale = max(1.0, min_side / min(height, width))
    return max(1.0, min(scale, max_side / max(height, width)))


def enlarge_for_display(image: np.ndarray, scale: float) -> np.ndarray:
    """Resize by `scale` (>= 1) with bicubic interpolation; `scale == 1` returns a copy."""
    image = _check_image(image)
    if scale <= 1.0:
        return image.copy()
    h, w = image.shape[:2]
    return cv2.resize(image, (round(w * scale), round(h * scale)), interpolation=cv2.INTER_CUBIC)


def _font(size: int) -> ImageFont.FreeTypeFont | ImageFont.ImageFont:
    return caption_font(size)


def _text_color(rgb: Sequence[int]) -> tuple[int, int, int]:
    luminance = 0.299 * rgb[0] + 0.587 * rgb[1] + 0.114 * rgb[2]
    return (0, 0, 0) if luminance > 150 else (255, 255, 255)


@dataclass(frozen=True)
class BoxDrawing:
    """A picture with boxes and where their captions went.

    image: RGB uint8 [H, W, 3]. caption_rects: one per box, the half-open pixel rectangle (x0, y0, x1, y1) its
    caption fills, or None when it has no caption or no free place for one (see `cvdemo.captions`).
    """

    image: np.ndarray
    caption_rects: tuple[tuple[int, int, int, int] | None, ...]

    @property
    def drawn(self) -> tuple[int, ...]:
        """Indices of the boxes whose caption was drawn."""
        return tuple(i for i, r in enumerate(self.caption_rects) if r is not None)


def _clip_xyxy(boxes: np.ndarray, h: int, w: int) -> list[tuple[float, float, float, float]]:
    clipped = []
    for x0, y0, x1, y1 in boxes.tolist():
        x0, x1 = sorted((min(max(x0, 0), w - 1), min(max(x1, 0), w - 1)))
        y0, y1 = sorted((min(max(y0, 0), h - 1), min(max(y1, 0), h - 1)))
        clipped.append((x0, y0, x1, y1))
    return clipped


def _check_counts(boxes: np.ndarray, captions: Sequence[str], colors: Sequence) -> None:
    if not (len(boxes) == len(captions) == len(colors)):
        raise ValueError(f"need one caption and one colour per box: {len(boxes)} boxes, "
                         f"{len(captions)} captions, {len(colors)} colours")


def caption_px(height: int, width: int) -> int:
    """The caption text size (px) on a picture of this size: the same in every tab."""
    return max(11, round(min(height, width) / 32))


def _caption_layer(canvas: Image.Image, boxes: list, captions: Sequence[str], colors: Sequence,
                   label_band: int | None, order: Sequence[int], below_first: Sequence[bool] | None
                   ) -> tuple[tuple[int, int, int, int] | None, ...]:
    """Place and draw the captions on `canvas` (in place, the one caption style); return their rectangles."""
    w, h = canvas.size
    size = caption_px(h, w)
    band = label_band_px(w) if label_band is None else max(0, int(label_band))
    draw = ImageDraw.Draw(canvas)
    sizes = []
    for text in captions:
        if not text:
            sizes.append(None)
            continue
        x0, y0, x1, y1 = draw.textbbox((0, 0), text, font=caption_font(size, text))
        sizes.append((int(x1 - x0) + 6, int(y1 - y0) + 4))
    rects = place_captions(boxes, sizes, (h, w), band, order=order, below_first=below_first)
    for i, rect in enumerate(rects):
        if rect is None:
            continue
        color = tuple(int(c) for c in colors[i])
        font = caption_font(size, captions[i])
        draw.rectangle((rect[0], rect[1], rect[2] - 1, rect[3] - 1), fill=color)
        tx0, ty0, _, _ = draw.textbbox((0, 0), captions[i], font=font)
        draw.text((rect[0] + 3 - tx0, rect[1] + 2 - ty0), captions[i], fill=_text_color(color), font=font)
    return tuple(rects)


def draw_captions(image: np.ndarray, boxes_xyxy: np.ndarray | Sequence[Sequence[float]],
                  captions: Sequence[str], colors: Sequence[tuple[int, int, int]],
                  label_band: int | None = None, order: Sequence[int] | None = None,
                  below_first: Sequence[bool] | None = None) -> BoxDrawing:
    """The captions alone (for a picture that draws its own boxes), on a copy of `image`, in the one caption
    style: text in black or white on a rectangle of the box's colour, placed by `cvdemo.captions.place_captions`.

    boxes_xyxy: [N, 4] pixel (x0, y0, x1, y1) in `image`'s coordinates; captions, colors: one per box ("" for
    none); label_band: see `render_boxes_xyxy`; order: priority (default 0..N-1); below_first: per box, try
    the places below the box before those above it (e.g. predictions captioned below, ground truth above).
    """
    image = _check_image(image)
    boxes = np.asarray(boxes_xyxy, dtype=np.float64).reshape(-1, 4)
    _check_counts(boxes, captions, colors)
    h, w = image.shape[:2]
    canvas = Image.fromarray(image)
    order = range(len(boxes)) if order is None else order
    rects = _caption_layer(canvas, _clip_xyxy(boxes, h, w), captions, colors, label_band, order, below_first)
    return BoxDrawing(np.asarray(canvas), rects)


def render_boxes_xyxy(image: np.ndarray, boxes_xyxy: np.ndarray | Sequence[Sequence[float]],
                      captions: Sequence[str], colors: Sequence[tuple[int, int, int]], scale: float = 1.0,
                      highlight: int | None = None, label_band: int | None = None) -> BoxDrawing:
    """Draw boxes with a caption each ("circle 0.97") on a copy of `image`; return it with the captions' places.

    boxes_xyxy: [N, 4] pixel (x0, y0, x1, y1), multiplied by `scale` before drawing (draw boxes found on a
        small image onto its `enlarge_for_display` copy with the same scale).
    captions, colors: one per box ("" for no caption). highlight: index of a box to draw thicker (the selected
        detection; its caption is placed first); the others are then drawn thinner.
    label_band: rows at the top kept free of captions (default `cvdemo.captions.label_band_px` of the width:
        Gradio's image label covers them); 0 for a picture shown without a label.
    Captions are drawn after every box, never overlap each other nor enter the label band: one with no free
    place is left out (see `cvdemo.captions.place_captions`). Chinese captions use a CJK font when installed.
    """
    image = _check_image(image)
    boxes = np.asarray(boxes_xyxy, dtype=np.float64).reshape(-1, 4) * scale
    _check_counts(boxes, captions, colors)
    h, w = image.shape[:2]
    base = max(2, round(min(h, w) / 200))
    canvas = Image.fromarray(image)
    draw = ImageDraw.Draw(canvas)
    clipped = _clip_xyxy(boxes, h, w)
    highlighted = highlight is not None and 0 <= highlight < len(boxes)
    others = [i for i in range(len(boxes)) if not highlighted or i != highlight]
    for i in others + ([highlight] if highlighted else []):  # the highlighted box last, on top
        width = base if highlight is None else (base * 2 if i == highlight else max(1, base // 2))
        draw.rectangle(clipped[i], outline=tuple(int(c) for c in colors[i]), width=width)
    placing = ([highlight] if highlighted else []) + others  # and its caption placed first
    rects = _caption_layer(canvas, clipped, captions, colors, label_band, placing, None)
    return BoxDrawing(np.asarray(canvas), rects)


def draw_boxes_xyxy(image: np.ndarray, boxes_xyxy: np.ndarray | Sequence[Sequence[float]],
                    captions: Sequence[str], colors: Sequence[tuple[int, int, int]],
                    scale: float = 1.0, highlight: int | None = None, label_band: int | None = None) -> np.ndarray:
    """`render_boxes_xyxy`'s picture alone (RGB uint8 [H, W, 3])."""
    return render_boxes_xyxy(image, boxes_xyxy, captions, colors, scale=scale, highlight=highlight,
                             label_band=label_band).image


def colorize(values01: np.ndarray, colormap: str = "turbo") -> np.ndarray:
    """float [H, W] in [0, 1] -> RGB uint8 [H, W, 3] through an OpenCV colour map."""
    values = np.asarray(values01, dtype=np.float32)
    if values.ndim != 2:
        raise ValueError(f"expected a [H, W] map, got shape {values.shape}")
    if colormap not in COLORMAPS:
        raise ValueError(f"colormap must be one of {sorted(COLORMAPS)}, got {colormap!r}")
    levels = np.clip(np.rint(np.nan_to_num(values) * 255), 0, 255).astype(np.uint8)
    return cv2.cvtColor(cv2.applyColorMap(levels, COLORMAPS[colormap]), cv2.COLOR_BGR2RGB)


def overlay_heatmap(image: np.ndarray, heatmap01: np.ndarray, alpha: float = 0.5,
                    colormap: str = "turbo") -> np.ndarray:
    """Blend a colour-mapped heatmap over the image: (1 - alpha) * image + alpha * colormap(heatmap).

    heatmap01: float [H, W] in [0, 1], the image's size (e.g. `upsample_heatmap(map, image.shape[:2])`).
    """
    image = _check_image(image)
    heat = np.asarray(heatmap01, dtype=np.float32)
    if heat.shape != image.shape[:2]:
        raise ValueError(f"heatmap {heat.shape} must match the image's size {image.shape[:2]}")
    colored = colorize(heat, colormap).astype(np.float32)
    out = (1.0 - alpha) * image.astype(np.float32) + alpha * colored
    return np.clip(np.rint(out), 0, 255).astype(np.uint8)


def draw_marker_xy(image: np.ndarray, point_xy: tuple[float, float],
                   color: tuple[int, int, int] = (255, 255, 255), size: int | None = None) -> np.ndarray:
    """A crosshair in a dark halo at pixel (x, y), visible on any background."""
    image = _check_image(image).copy()
    h, w = image.shape[:2]
    size = size or max(6, round(min(h, w) / 40))
    x, y = round(float(point_xy[0])), round(float(point_xy[1]))
    thick = max(1, size // 4)
    for c, t in (((0, 0, 0), thick + 2), (color, thick)):
        cv2.line(image, (x - size, y), (x + size, y), c, t, cv2.LINE_AA)
        cv2.line(image, (x, y - size), (x, y + size), c, t, cv2.LINE_AA)
    return image


def draw_grid(image: np.ndarray, rows: int, cols: int, color: tuple[int, int, int] = (255, 255, 255),
              thickness: int = 1) -> np.ndarray:
    """Lines dividing the image into rows x cols equal cells (a ViT's patch grid)."""
    image = _check_image(image).copy()
    h, w = image.shape[:2]
    for r in range(1, rows):
        y = round(r * h / rows)
        cv2.line(image, (0, y), (w - 1, y), color, thickness)
    for c in range(1, cols):
        x = round(c * w / cols)
        cv2.line(image, (x, 0), (x, h - 1), color, thickness)
    return image



def draw_cell_grid_px(image: np.ndarray, cell_wh: tuple[float, float], scale: float = 1.0,
                      color: tuple[int, int, int] = (255, 255, 255), thickness: int = 1) -> np.ndarray:
    """Lines every ``cell_wh`` (width, height) pixels from the top-left corner, multiplied by ``scale`` (a YOLO grid
    laid over an image it letterboxed: its cells need not divide the image evenly)."""
    image = _check_image(image).copy()
    h, w = image.shape[:2]
    cw, ch = cell_wh[0] * scale, cell_wh[1] * scale
    if cw <= 0 or ch <= 0:
        raise ValueError(f"cell size must be positive, got {cell_wh}")
    for k in range(1, int(h / ch) + 1):
        y = round(k * ch)
        if y < h:
            cv2.line(image, (0, y), (w - 1, y), color, thickness)
    for k in range(1, int(w / cw) + 1):
        x = round(k * cw)
        if x < w:
            cv2.line(image, (x, 0), (x, h - 1), color, thickness)
    return image

def label_cells(image: np.ndarray, rows: int, cols: int, labels: Sequence[str],
                color: tuple[int, int, int] = (255, 255, 255)) -> np.ndarray:
    """Write labels[r * cols + c] in the top-left corner of each cell (row-major), on a dark backing."""
    image = _check_image(image)
    if len(labels) != rows * cols:
        raise ValueError(f"need {rows * cols} labels for a {rows}x{cols} grid, got {len(labels)}")
    h, w = image.shape[:2]
    font = _font(max(8, min(round(h / rows / 3), 18)))
    canvas = Image.fromarray(image)
    draw = ImageDraw.Draw(canvas)
    for k, text in enumerate(labels):
        if not text:
            continue
        x, y = round((k % cols) * w / cols) + 2, round((k // cols) * h / rows) + 2
        x0, y0, x1, y1 = draw.textbbox((x, y), text, font=font)
        draw.rectangle((x0 - 1, y0 - 1, x1 + 1, y1 + 1), fill=(0, 0, 0))
        draw.text((x, y), text, fill=color, font=font)
    return np.asarray(canvas)


def tile_maps(maps: np.ndarray, tile_px: int = 24, gap_px: int = 2, vmin: float | None = None,
              vmax: float | None = None, colormap: str = "viridis",
              background: tuple[int, int, int] = (255, 255, 255)) -> np.ndarray:
    """A grid of small maps as one picture: maps [R, C, h, w] -> RGB [R*(tile+gap)-gap, C*(tile+gap)-gap, 3].

    Tile (r, c) shows maps[r, c] enlarged to tile_px (nearest neighbour: one block per value), coloured on a
    shared scale vmin..vmax (default: the data's min and max). Used for the ViT paper's picture of position
    embedding similarity: tile (r, c) = cosine similarity of patch (r, c)'s embedding to every patch's.
    """
    maps = np.asarray(maps, dtype=np.float32)
    if maps.ndim != 4:
        raise ValueError(f"expected maps [rows, cols, h, w], got shape {maps.shape}")
    rows, cols, mh, mw = maps.shape
    lo = float(maps.min()) if vmin is None else vmin
    hi = float(maps.max()) if vmax is None else vmax
    scaled = (maps - lo) / (hi - lo) if hi > lo else np.zeros_like(maps)
    th = max(tile_px, mh)
    tw = max(round(tile_px * mw / mh), mw)
    out = np.empty((rows * (th + gap_px) - gap_px, cols * (tw + gap_px) - gap_px, 3), dtype=np.uint8)
    out[:] = background
    for r in range(rows):
        for c in range(cols):
            tile = cv2.resize(colorize(np.clip(scaled[r, c], 0, 1), colormap), (tw, th),
                              interpolation=cv2.INTER_NEAREST)
            y, x = r * (th + gap_px), c * (tw + gap_px)
            out[y:y + th, x:x + tw] = tile
    return out
