"""cvdemo.visualize: boxes land where their coordinates say, overlays blend as defined, tiles are laid out."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from cvdemo.visualize import (
    colorize,
    display_scale,
    draw_boxes_xyxy,
    draw_grid,
    draw_marker_xy,
    enlarge_for_display,
    label_cells,
    overlay_heatmap,
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
