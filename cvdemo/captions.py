"""Box captions that stay readable: where each caption goes, and a font that can write it.

Placement (`place_captions`) is plain geometry on pixel rectangles `(x0, y0, x1, y1)`, half-open
(`x0 <= x < x1`, `y0 <= y < y1`), in the coordinates of the picture the captions are drawn on:
- Each caption tries, in order, the places of `CAPTION_PLACES`: above the box, inside its top, below it,
  inside its bottom (left-aligned with the box, then right-aligned); or `CAPTION_PLACES_BELOW_FIRST`.
- A place is free when it lies inside the picture, below the label band (Gradio draws the component's label
  over the top of its image: `LABEL_BAND_PX` high at display size, see `label_band_px`) and overlaps no caption
  placed before it. A caption with no free place is not drawn (the caller shows its score in a table).
- Captions are placed in priority order (the selected box first, then the caller's order: best score first
  where the caller sorts by score).

Font (`caption_font`): Pillow's default font has Latin glyphs only. Text that needs CJK glyphs (the Chinese UI)
is written with a CJK font of the system: WenQuanYi Micro Hei (Debian's `fonts-wqy-microhei`, Apache-2.0 or
GPL-2 with the font exception; `packages.txt` installs it on a Hugging Face Space, `.ci/run` in CI) or Noto Sans
CJK (`fonts-noto-cjk`, OFL). Without one the default font is used (CJK characters then draw as boxes): nothing is
downloaded at run time.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Sequence
from pathlib import Path

from PIL import ImageFont

LABEL_BAND_PX = 28
"""Height of the band at the top of a displayed image that Gradio's image label covers (display pixels)."""

DISPLAY_WIDTH_PX = 640
"""About how wide the app shows an image: a wider picture is shrunk, and the label band grows with it."""

CAPTION_PLACES = ("above", "inside_top", "below", "inside_bottom",
                  "above_right", "inside_top_right", "below_right", "inside_bottom_right")
CAPTION_PLACES_BELOW_FIRST = ("below", "inside_bottom", "above", "inside_top",
                              "below_right", "inside_bottom_right", "above_right", "inside_top_right")

# CJK fonts of the system, best first (Debian's paths)
_CJK_SYSTEM_FONTS = (
    "/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc",
    "/usr/share/fonts/truetype/wqy/wqy-microhei.ttc",
    "/usr/share/fonts/truetype/wqy/wqy-zenhei.ttc",
)
# Unicode blocks that Pillow's default font cannot write: CJK radicals .. Yi, Hangul, compatibility forms,
# full-width forms, and the supplementary ideograph planes.
_CJK_RANGES = ((0x2E80, 0xA4CF), (0xAC00, 0xD7AF), (0xF900, 0xFAFF), (0xFE30, 0xFE4F), (0xFF00, 0xFFEF),
               (0x20000, 0x3FFFF))


def label_band_px(width: int) -> int:
    """The label band's height in pixels of a picture `width` pixels wide (shown at most DISPLAY_WIDTH_PX wide)."""
    return math.ceil(LABEL_BAND_PX * max(1.0, width / DISPLAY_WIDTH_PX))


def needs_cjk(text: str) -> bool:
    """Whether `text` has a character that Pillow's default (Latin) font has no glyph for."""
    return any(lo <= ord(ch) <= hi for ch in text for lo, hi in _CJK_RANGES)


@functools.lru_cache(maxsize=1)
def cjk_font_path() -> Path | None:
    """The file of the first CJK-capable font found (see the module's docstring), or None."""
    return next((Path(p) for p in _CJK_SYSTEM_FONTS if Path(p).is_file()), None)


@functools.lru_cache(maxsize=32)
def _load_font(size: int, cjk: bool) -> ImageFont.FreeTypeFont | ImageFont.ImageFont:
    path = cjk_font_path() if cjk else None
    if path is not None:
        try:
            return ImageFont.truetype(str(path), size=size)
        except OSError:  # a damaged or unreadable font file: write what the default font can
            pass
    return ImageFont.load_default(size=size)


def caption_font(size: int, text: str = "") -> ImageFont.FreeTypeFont | ImageFont.ImageFont:
    """The font for caption `text` at `size` px: a CJK font when the text needs one (and one is installed),
    else Pillow's default font."""
    return _load_font(int(size), needs_cjk(text))


def _candidate(place: str, box: Sequence[float], tw: int, th: int, width: int) -> tuple[int, int, int, int]:
    x0, y0, x1, y1 = box
    left = x1 - tw if place.endswith("_right") else x0
    top = {"above": y0 - th, "inside_top": y0, "below": y1 + 1, "inside_bottom": y1 - th + 1}[
        place.removesuffix("_right")]
    lx = int(round(min(max(left, 0), width - tw)))
    ly = int(round(top))
    return lx, ly, lx + tw, ly + th


def _overlaps(a: Sequence[int], b: Sequence[int]) -> bool:
    return a[0] < b[2] and b[0] < a[2] and a[1] < b[3] and b[1] < a[3]


def place_captions(boxes_xyxy: Sequence[Sequence[float]], sizes_wh: Sequence[tuple[int, int] | None],
                   image_hw: tuple[int, int], band_px: int,
                   order: Sequence[int] | None = None, below_first: Sequence[bool] | None = None
                   ) -> list[tuple[int, int, int, int] | None]:
    """Where each box's caption goes: one half-open rectangle (x0, y0, x1, y1) per box, or None (no caption or
    no free place).

    boxes_xyxy: [N, 4] pixel corners (clipped to the picture, x0 <= x1, y0 <= y1); sizes_wh: the caption's
    (width, height) in pixels per box, None for no caption; image_hw: the picture's (height, width); band_px:
    rows [0, band_px) are covered by the label; order: the boxes in priority order (default 0..N-1);
    below_first: per box, whether to try `CAPTION_PLACES_BELOW_FIRST` instead of `CAPTION_PLACES`.
    """
    h, w = image_hw
    placed: list[tuple[int, int, int, int]] = []
    rects: list[tuple[int, int, int, int] | None] = [None] * len(boxes_xyxy)
    for i in (range(len(boxes_xyxy)) if order is None else order):
        if sizes_wh[i] is None:
            continue
        tw, th = sizes_wh[i]
        if tw > w:
            continue
        places = CAPTION_PLACES_BELOW_FIRST if below_first is not None and below_first[i] else CAPTION_PLACES
        for place in places:
            rect = _candidate(place, boxes_xyxy[i], tw, th, w)
            if rect[1] >= band_px and rect[3] <= h and not any(_overlaps(rect, r) for r in placed):
                rects[i] = rect
                placed.append(rect)
                break
    return rects
