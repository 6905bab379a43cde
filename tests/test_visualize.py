"""cvdemo.visualize: boxes land where their coordinates say, overlays blend as defined, tiles are laid out."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from cvdemo.visualize import (
    class_color,
    colorize,
    display_scale,
    draw_boxes_xyxy,
    draw_grid,
    draw_marker_xy,
    enlarge_for_display,
    label_cells,
    overlay_heatmap,
    render_boxes_xyxy,
    tile_maps,
)

GREY = np.full((100, 160, 3), 128, np.uint8)


def test_box_outline_is_drawn_at_its_coordinates_and_the_input_is_untouched():
    image = GREY.copy()
    out = draw_boxes_xyxy(image, [[20, 30, 120, 80]], [""], [(255, 0, 0)])
    np.testing.assert_array_equal(image, GREY)
    red = np.all(out == (255, 0, 0), axis=-1)
    assert red[30, 20:121].all() and red[30:81, 20].all() and red[80, 20:121].all() and red[30:81, 120].all()
    assert not red[40:70, 30:110].any()  # the inside stays clear
    assert not red[:25].any() and not red[:, 125:].any()  # and so does the outside


def test_box_scale_and_caption():
    out = draw_boxes_xyxy(GREY, [[10, 20, 40, 45]], ["circle 0.97"], [(0, 200, 0)], scale=2.0)
    green = np.all(out == (0, 200, 0), axis=-1)
    assert green[40, 20:81].all() and green[40:91, 80].all()  # the box at twice its coordinates
    ys, xs = np.nonzero(green[:40])  # the filled caption sits on top of the box
    assert ys.size > 50 and xs.min() >= 20


def test_highlight_draws_the_selected_box_thicker():
    boxes = [[10, 10, 60, 60], [80, 10, 150, 60]]
    out = draw_boxes_xyxy(GREY, boxes, ["", ""], [(255, 0, 0), (0, 0, 255)], highlight=1)
    red = np.all(out == (255, 0, 0), axis=-1)[35]  # one row through both vertical edges of each box
    blue = np.all(out == (0, 0, 255), axis=-1)[35]
    assert np.count_nonzero(blue) > np.count_nonzero(red) > 0


def test_boxes_need_one_caption_and_colour_each():
    with pytest.raises(ValueError, match="one caption and one colour per box"):
        draw_boxes_xyxy(GREY, [[0, 0, 1, 1]], [], [])
    with pytest.raises(ValueError, match="RGB uint8"):
        draw_boxes_xyxy(GREY.astype(np.float32), [], [], [])


def test_overlay_is_the_alpha_blend_of_image_and_colour_map():
    heat = np.linspace(0, 1, 100 * 160, dtype=np.float32).reshape(100, 160)
    lut = cv2.applyColorMap(np.arange(256, dtype=np.uint8)[:, None], cv2.COLORMAP_TURBO)[:, 0, ::-1]  # RGB
    expected_colors = lut[np.rint(heat * 255).astype(np.uint8)].astype(np.float64)
    out = overlay_heatmap(GREY, heat, alpha=0.25)
    expected = np.rint(0.75 * 128 + 0.25 * expected_colors)
    np.testing.assert_allclose(out, expected, atol=1)
    np.testing.assert_array_equal(overlay_heatmap(GREY, heat, alpha=0.0), GREY)
    np.testing.assert_array_equal(colorize(heat), lut[np.rint(heat * 255).astype(np.uint8)])
    with pytest.raises(ValueError, match="must match"):
        overlay_heatmap(GREY, heat[:50])


def test_display_scale_enlarges_small_images_only():
    assert display_scale(128, 128) == pytest.approx(480 / 128)
    assert display_scale(1000, 1500) == 1.0
    assert display_scale(100, 1000) == pytest.approx(1.024)  # the long side stops at 1024
    big = enlarge_for_display(GREY, 2.0)
    assert big.shape == (200, 320, 3)
    np.testing.assert_array_equal(big, 128)


def test_grid_lines_and_marker():
    out = draw_grid(np.zeros((64, 64, 3), np.uint8), 4, 4)
    white = np.all(out == 255, axis=-1)
    assert white[16].all() and white[:, 48].all() and not white[8, 8]
    marked = draw_marker_xy(np.zeros((64, 64, 3), np.uint8), (20, 40))
    assert (marked[40, 20] > 240).all() and (marked[10, 50] == 0).all()  # antialiased lines
    labelled = label_cells(np.zeros((64, 64, 3), np.uint8), 2, 2, ["1", "", "", "4"])
    assert labelled[:16, :16].max() > 0 and labelled[:32, 32:].max() == 0
    with pytest.raises(ValueError, match="need 4 labels"):
        label_cells(np.zeros((64, 64, 3), np.uint8), 2, 2, ["1"])


def test_tile_maps_places_each_map_in_its_tile():
    maps = np.zeros((2, 3, 4, 4), np.float32)
    maps[1, 2] = 1.0  # only the bottom-right tile is at the top of the scale
    out = tile_maps(maps, tile_px=8, gap_px=2, vmin=0, vmax=1, colormap="viridis")
    assert out.shape == (2 * 10 - 2, 3 * 10 - 2, 3)
    top = colorize(np.ones((1, 1)), "viridis")[0, 0]
    bottom = colorize(np.zeros((1, 1)), "viridis")[0, 0]
    np.testing.assert_array_equal(out[10:18, 20:28].reshape(-1, 3), np.tile(top, (64, 1)))
    np.testing.assert_array_equal(out[0:8, 0:8].reshape(-1, 3), np.tile(bottom, (64, 1)))
    np.testing.assert_array_equal(out[8:10, :], 255)  # the gap between rows


# --- caption layout (issue 13: captions never hidden by the label band or by each other) ---

def _crowded_boxes(n: int = 10) -> np.ndarray:
    """n overlapping boxes, fanned out over a 480 x 640 picture, the first ones close to its top edge."""
    k = np.arange(n, dtype=np.float64)
    return np.stack([40 + 22 * k, 5 + 18 * k, 220 + 25 * k, 200 + 15 * k], axis=1)


def _assert_layout_reads(drawing, colors, band):
    rects = [r for r in drawing.caption_rects if r is not None]
    assert rects, "no caption was drawn at all"
    for a in range(len(rects)):
        for b in range(a + 1, len(rects)):
            ra, rb = rects[a], rects[b]
            assert not (ra[0] < rb[2] and rb[0] < ra[2] and ra[1] < rb[3] and rb[1] < ra[3]), (ra, rb)
    h, w = drawing.image.shape[:2]
    for i in drawing.drawn:
        x0, y0, x1, y1 = drawing.caption_rects[i]
        assert y0 >= band and 0 <= x0 < x1 <= w and y1 <= h  # below the label band, inside the picture
        patch = drawing.image[y0:y1, x0:x1]
        fill = np.all(patch == colors[i], axis=-1)
        # the rendered pixels there are this caption's: its fill colour around its text, nothing drawn over it
        assert fill.mean() > 0.4 and (~fill).any()
        assert fill[0].all() and fill[-1].all() and fill[:, 0].all() and fill[:, -1].all()


def test_crowded_captions_never_overlap_nor_enter_the_label_band():
    from cvdemo.captions import label_band_px

    image = np.full((480, 640, 3), 90, np.uint8)
    boxes = _crowded_boxes(10)
    colors = [class_color(i) for i in range(10)]
    captions = [f"circle {0.99 - i / 100:.2f}" for i in range(10)]
    drawing = render_boxes_xyxy(image, boxes, captions, colors)
    band = label_band_px(640)
    assert band >= 28
    _assert_layout_reads(drawing, colors, band)
    assert len(drawing.drawn) >= 5  # most captions find a place
    assert 0 in drawing.drawn  # the first (best) box's caption moved below the band instead of vanishing
    np.testing.assert_array_equal(drawing.image, draw_boxes_xyxy(image, boxes, captions, colors))
    # the selected box's caption is placed first: it is drawn even where the others crowd it
    picked = render_boxes_xyxy(image, boxes, captions, colors, highlight=9)
    assert 9 in picked.drawn
    _assert_layout_reads(picked, colors, band)


def test_a_caption_with_no_free_place_is_left_out():
    image = np.full((120, 200, 3), 90, np.uint8)
    boxes = [[10, 40, 190, 80]] * 12  # twelve identical boxes: only a few captions fit around them
    colors = [class_color(i) for i in range(12)]
    drawing = render_boxes_xyxy(image, boxes, [f"square 0.{90 + i}" for i in range(12)], colors, label_band=28)
    assert 0 < len(drawing.drawn) < 12
    assert all(drawing.caption_rects[i] is None for i in range(12) if i not in drawing.drawn)
    _assert_layout_reads(drawing, colors, 28)
    no_band = render_boxes_xyxy(image, boxes[:1], ["square"], colors[:1], label_band=0)
    assert no_band.caption_rects[0][1] < 40  # without a label, above the box is free again


def test_chinese_captions_are_written_with_a_cjk_font():
    from cvdemo.captions import caption_font, cjk_font_path, needs_cjk

    assert needs_cjk("圆形 0.97") and not needs_cjk("circle 0.97")
    if cjk_font_path() is None:
        pytest.skip("no CJK font installed (requirements.txt names one)")
    text = "圆形 0.97"
    image = np.full((200, 300, 3), 255, np.uint8)
    drawing = render_boxes_xyxy(image, [[20, 80, 280, 180]], [text], [(40, 40, 40)], label_band=28)
    x0, y0, x1, y1 = drawing.caption_rects[0]
    glyphs = np.all(drawing.image[y0:y1, x0:x1] > 200, axis=-1)  # white text on the dark fill
    assert glyphs.sum() > 40
    # each Chinese character is drawn with its own strokes, not the same empty box ("tofu") that a font
    # without CJK glyphs draws for every one of them
    from PIL import Image, ImageDraw

    font = caption_font(24, text)
    inks = []
    for ch in "圆形":
        canvas = Image.new("L", (40, 40), 0)
        ImageDraw.Draw(canvas).text((4, 4), ch, fill=255, font=font)
        inks.append(np.asarray(canvas) > 128)
        assert inks[-1].sum() > 30
    assert np.count_nonzero(inks[0] != inks[1]) > 30
    assert caption_font(24, "circle") is not font  # Latin captions keep Pillow's default font


def test_without_a_cjk_font_captions_fall_back_to_the_default_font(monkeypatch):
    from PIL import ImageFont

    from cvdemo import captions

    captions._load_font.cache_clear()
    monkeypatch.setattr(captions, "cjk_font_path", lambda: None)
    try:
        font = captions.caption_font(20, "圆形 0.97")
        assert font.getbbox("circle") == ImageFont.load_default(size=20).getbbox("circle")
        drawing = render_boxes_xyxy(GREY, [[20, 40, 140, 90]], ["圆形 0.97"], [(0, 0, 255)])
        assert drawing.drawn == (0,)  # still drawn (as boxes for the missing glyphs), never an error
    finally:
        captions._load_font.cache_clear()


def test_captions_alone_for_pictures_that_draw_their_own_boxes():
    from cvdemo.visualize import draw_captions

    image = np.full((300, 400, 3), 90, np.uint8)
    boxes = [[50, 100, 200, 200], [60, 110, 210, 210]]
    colors = [(255, 214, 0), (0, 229, 255)]
    drawing = draw_captions(image, boxes, ["GT 0 star", "q3 star 0.91"], colors, below_first=[False, True])
    np.testing.assert_array_equal(image, 90)  # the input is untouched
    (gx0, gy0, gx1, gy1), (qx0, qy0, qx1, qy1) = drawing.caption_rects
    assert gy1 <= 100 and qy0 >= 210  # the ground truth's caption above its box, the prediction's below
    _assert_layout_reads(drawing, colors, 28)
    assert not np.all(drawing.image == colors[0], axis=-1)[100:200, 51:199].any()  # no box drawn here
