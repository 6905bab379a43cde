"""The Detect tab's captions: a "Captions" checkbox that redraws the boxes alone and holds through every later
redraw, a table column that says which captions are on the picture, and the "class k" fallback in the user's
language.

A crowded run is built by hand (10 overlapping boxes on a 128-pixel image, no model): not every caption finds a
free place there. Handlers are called as Gradio calls them (wrapped with `answers`, a request with headers and a
session hash); the wiring is checked on the built Blocks.
"""

from __future__ import annotations

from pathlib import Path

import gradio as gr
import numpy as np
import pytest

from cvdemo.detection_run import DetectionRun
from cvdemo.models.registry import ModelRegistry
from cvdemo.ui import detect_tab
from cvdemo.ui import detect_views as views
from cvdemo.ui.errors import answers
from cvdemo.visualize import class_color, enlarge_for_display, render_boxes_xyxy

ROOT = Path(__file__).resolve().parents[1]
CAPTION_COLUMN = views.TABLE_COLUMNS.index("caption")
SCORE_COLUMN = views.TABLE_COLUMNS.index("score")


class FakeRequest:
    """What the handlers read of a `gr.Request`: its headers and its session."""

    def __init__(self, session: str = "captions-session", accept_language: str | None = None):
        self.headers = {} if accept_language is None else {"accept-language": accept_language}
        self.session_hash = session


def crowded_run(n: int = 10) -> DetectionRun:
    """n detections of nearly the same box (scores 0.95 down to 0.41, best first); class 2 has no name."""
    rng = np.random.default_rng(0)
    image = rng.integers(60, 200, (128, 128, 3), dtype=np.uint8)
    boxes = np.array([[40 + i, 44 + i % 3, 88 + i, 92 + i % 3] for i in range(n)], dtype=np.float32)
    scores = np.linspace(0.95, 0.41, n).astype(np.float32)
    labels = np.array([i % 3 for i in range(n)])
    probs = np.zeros((n, 4), dtype=np.float32)
    probs[np.arange(n), labels] = scores
    probs[:, 3] = 1 - scores
    hw, heads = 16, 2
    return DetectionRun(
        model_name="crowded", image=image, id2label={0: "circle", 1: "square"}, probs=probs, scores=scores,
        labels=labels, boxes_xyxy=boxes, query_index=np.arange(n), feature_size=(4, 4), input_size=(128, 128),
        cross_attentions=np.full((2, heads, n, hw), 1 / hw, dtype=np.float16),
        encoder_attentions=np.full((2, heads, hw, hw), 1 / hw, dtype=np.float16), model_ms=1.0)


def boxes_only(run: DetectionRun, threshold: float, highlight: int | None) -> np.ndarray:
    """The picture of the kept boxes with no caption at all."""
    kept = run.kept(threshold)
    return render_boxes_xyxy(enlarge_for_display(run.image, run.display_scale), run.boxes_xyxy[kept],
                             [""] * len(kept), [class_color(run.labels[i]) for i in kept],
                             scale=run.display_scale, highlight=highlight).image


def caption_column(table: dict) -> list[str]:
    return [row[CAPTION_COLUMN] for row in table["data"]]


@pytest.fixture()
def token():
    return detect_tab.DETECTION_RUNS.put("captions-session", crowded_run())


# ---------------------------------------------------------------- the views

def test_a_crowded_run_marks_the_captions_with_no_room_and_the_table_keeps_their_scores():
    run = crowded_run()
    drawing = views.annotated(run, 0.3, selected=0)
    kept = run.kept(0.3)
    assert len(drawing.caption_states) == len(kept) == 10
    assert views.NO_ROOM in drawing.caption_states and views.ON_PICTURE in drawing.caption_states
    assert drawing.caption_states[0] == views.ON_PICTURE  # the selected detection's caption is placed first
    # the states are the placement's: the same picture, and a caption drawn exactly where "on picture" says
    texts = [f"{views.label_text(run, run.labels[i])} {run.scores[i]:.2f}" for i in kept]
    rendered = render_boxes_xyxy(enlarge_for_display(run.image, run.display_scale), run.boxes_xyxy[kept], texts,
                                 [class_color(run.labels[i]) for i in kept], scale=run.display_scale, highlight=0)
    np.testing.assert_array_equal(drawing.image, rendered.image)
    assert drawing.caption_states == tuple(views.ON_PICTURE if r else views.NO_ROOM for r in rendered.caption_rects)
    image, table = views.boxes_and_table(run, 0.3, 0, True)
    assert table["headers"][CAPTION_COLUMN] == "caption"
    assert caption_column(table) == ["on picture" if s == views.ON_PICTURE else "no room"
                                     for s in drawing.caption_states]
    for row, i in zip(table["data"], kept):  # a row with "no room" still reads its class and score
        assert row[SCORE_COLUMN] == round(float(run.scores[i]), 3)
    chinese = views.boxes_and_table(run, 0.3, 0, True, "zh-CN")[1]
    assert chinese["headers"][CAPTION_COLUMN] == "图上标注"
    assert set(caption_column(chinese)) == {"在图上", "无处可放"}


def test_captions_off_draws_the_boxes_alone():
    run = crowded_run()
    image, table = views.boxes_and_table(run, 0.3, 0, False)
    np.testing.assert_array_equal(image, boxes_only(run, 0.3, highlight=0))  # not one caption pixel
    assert not np.array_equal(image, views.annotated_image(run, 0.3, 0))
    assert caption_column(table) == ["captions off"] * 10
    assert set(caption_column(views.boxes_and_table(run, 0.3, 0, False, "zh-CN")[1])) == {"标注已关闭"}


def test_the_class_k_fallback_is_drawn_in_the_users_language():
    run = crowded_run(3)  # class 2 has no name: "class 2" / "类别 2"
    kept = run.kept(0.3)
    colors = [class_color(run.labels[i]) for i in kept]
    base = enlarge_for_display(run.image, run.display_scale)
    for locale, name in (("en", "class 2"), ("zh-CN", "类别 2")):
        texts = ["circle 0.95", "square 0.68", f"{name} 0.41"]
        expected = render_boxes_xyxy(base, run.boxes_xyxy[kept], texts, colors, scale=run.display_scale,
                                     highlight=0).image
        np.testing.assert_array_equal(views.annotated_image(run, 0.3, 0, locale=locale), expected)
    cross = views.cross_view(run, 2, 1, None, "zh-CN")  # the cross-attention view's caption alike
    assert cross.shape[:2] == run.display_size


# ---------------------------------------------------------------- the handlers

def test_the_checkbox_redraws_from_the_stored_run_and_says_captions_off(token):
    toggle = answers(detect_tab.toggle_captions)
    run = detect_tab.DETECTION_RUNS.get(token)
    image, table, kept_choice = toggle(token, 0.3, 0, False, FakeRequest())
    assert kept_choice is False
    np.testing.assert_array_equal(image, boxes_only(run, 0.3, highlight=0))
    assert caption_column(table) == ["captions off"] * 10
    image, table, kept_choice = toggle(token, 0.3, 4, True, FakeRequest(accept_language="zh-CN"))
    assert kept_choice is True and "无处可放" in caption_column(table)
    np.testing.assert_array_equal(image, views.annotated_image(run, 0.3, 4, locale="zh-CN"))  # row 4 highlighted
    assert toggle(None, 0.3, None, False, FakeRequest())[2] is False  # no run yet: the choice is still kept
    with pytest.raises(gr.Error, match="Score threshold must be in"):
        toggle(token, 3.0, 0, False, FakeRequest())


def test_captions_off_holds_after_the_threshold_and_a_selection_redraw(token):
    run = detect_tab.DETECTION_RUNS.get(token)
    refiltered = answers(detect_tab.refilter)(token, 0.5, 2, "mean of heads", FakeRequest(), False)
    image, table = refiltered[0], refiltered[1]
    assert len(table["data"]) == len(run.kept(0.5)) < 10
    np.testing.assert_array_equal(image, boxes_only(run, 0.5, highlight=0))
    assert caption_column(table) == ["captions off"] * len(run.kept(0.5))
    cross, image, table, _ = answers(detect_tab.select_detection)(token, 0.5, 1, 2, "mean of heads",
                                                                  FakeRequest(), False)
    np.testing.assert_array_equal(image, boxes_only(run, 0.5, highlight=1))
    assert caption_column(table) == ["captions off"] * len(run.kept(0.5))
    # captions on (the default for the API's callers): the table follows the picture of the new selection
    _, image, table, _ = answers(detect_tab.select_detection)(token, 0.3, 7, 2, "mean of heads", FakeRequest())
    states = views.annotated(run, 0.3, 7).caption_states
    assert states[7] == views.ON_PICTURE and caption_column(table)[7] == "on picture"
    assert caption_column(table) == ["on picture" if s == views.ON_PICTURE else "no room" for s in states]


def test_every_event_that_draws_the_boxes_reads_the_caption_choice(tmp_path):
    registry = ModelRegistry([], device="cpu")
    with gr.Blocks() as demo:
        ui = detect_tab.layout(["tiny-detr"], ROOT / "examples")
        detect_tab.wire(ui, registry, ["tiny-detr"])
    drawing = [fn for fn in demo.fns.values() if ui.annotated in fn.outputs and fn.name != "cleared"]
    assert {fn.name for fn in drawing} >= {"detect", "refilter", "select_detection", "table_select",
                                           "toggle_captions"}
    for fn in drawing:
        assert ui.captions_state in fn.inputs or ui.captions in fn.inputs, fn.name
        if fn.name != "toggle_captions":
            assert ui.table in fn.outputs, fn.name  # the caption column is redrawn with the picture
    toggle = next(fn for fn in drawing if fn.name == "toggle_captions")
    assert ui.captions_state in toggle.outputs and toggle.api_visibility == "private"
    api = demo.get_api_info()["named_endpoints"]
    assert [p["parameter_name"] for p in api["/detect"]["parameters"]] == ["image_payload", "model_name", "thr"]


# ---------------------------------------------------------------- in a browser

@pytest.fixture(scope="module")
def app_url(tmp_path_factory, serve):
    """The app with a tiny DETR whose 5 queries all say "star" (red boxes) above any threshold."""
    import importlib.util

    import torch

    import cvdemo.models
    from cvdemo.models import DETR, DETRConfig
    from cvdemo.models.registry import ModelSpec

    torch.manual_seed(0)
    detr = DETR(DETRConfig(backbone="resnet18", frozen_batchnorm=False, d_model=32, num_heads=4, encoder_layers=1,
                           decoder_layers=1, dim_feedforward=64, num_queries=5, num_classes=6,
                           id2label={3: "star"}, shortest_edge=128, longest_edge=128))
    with torch.no_grad():
        detr.class_embed.bias[3] += 8.0
    spec = ModelSpec("tiny-detr", str(cvdemo.models.save(detr, tmp_path_factory.mktemp("captions") / "detr")),
                     "detect", "test")
    module = importlib.util.spec_from_file_location("cvdemo_app_captions", ROOT / "app.py")
    app = importlib.util.module_from_spec(module)
    module.loader.exec_module(app)
    demo = app.build_demo([spec], device="cpu")
    yield serve(demo, **app.launch_settings())
    demo.close()


def _red_pixels(page) -> int:
    """Pixels of the star class's colour in the shown picture (boxes and, when drawn, caption rectangles)."""
    import io

    from PIL import Image

    src = page.locator("#detect-output img").get_attribute("src")
    shown = np.asarray(Image.open(io.BytesIO(page.request.get(src).body())).convert("RGB")).astype(int)
    return int((np.abs(shown - class_color(3)).sum(-1) < 60).sum())  # JPEG: not exact


def _wait_for_new_picture(page, before: str) -> None:
    page.wait_for_function("b => document.querySelector('#detect-output img')?.getAttribute('src') !== b",
                           arg=before, timeout=30_000)


def _captions_off_rows(page) -> int:
    return page.locator("#detect-table").inner_text().count("captions off")


def test_the_checkbox_holds_through_the_threshold_a_row_click_and_a_new_run(app_url, browser_page):
    page, errors = browser_page
    page.goto(app_url)
    page.wait_for_selector("#detect-input input[type=file]", state="attached", timeout=30_000)
    page.locator("#detect-input input[type=file]").set_input_files(str(ROOT / "examples" / "shapes" / "shapes-1.png"))
    page.wait_for_function("document.querySelector('#detect-summary').innerText.includes('5 detections')",
                           timeout=60_000)
    table = page.locator("#detect-table").inner_text()
    assert table.count("on picture") + table.count("no room") == 5 and table.count("on picture") >= 1
    with_captions = _red_pixels(page)

    before = page.locator("#detect-output img").get_attribute("src")
    page.locator("#detect-captions input[type=checkbox]").click()
    _wait_for_new_picture(page, before)
    page.wait_for_function("document.querySelector('#detect-table').innerText.split('captions off').length === 6",
                           timeout=30_000)
    boxes_only = _red_pixels(page)
    assert boxes_only < with_captions * 0.8, (boxes_only, with_captions)  # the filled caption rectangles went

    # the same boxes at 0.3: the same picture (and file); the summary says the redraw is done
    page.locator("#detect-threshold input[type=range]").fill("0.3")
    page.wait_for_function("document.querySelector('#detect-summary').innerText.includes('above 0.30')",
                           timeout=30_000)
    assert _captions_off_rows(page) == 5 and _red_pixels(page) < with_captions * 0.8

    before = page.locator("#detect-output img").get_attribute("src")
    page.locator("#detect-table").get_by_text("star", exact=True).nth(2).click()  # the third row's label cell
    _wait_for_new_picture(page, before)
    assert _captions_off_rows(page) == 5 and _red_pixels(page) < with_captions * 0.8

    page.locator("#detect-button").click()  # a new run (highlighting the best detection again)
    page.wait_for_function("document.querySelector('#detect-summary').innerText.includes('total on the server')",
                           timeout=60_000)
    assert _captions_off_rows(page) == 5 and _red_pixels(page) < with_captions * 0.8

    before = page.locator("#detect-output img").get_attribute("src")
    page.locator("#detect-captions input[type=checkbox]").click()  # on again
    _wait_for_new_picture(page, before)
    page.wait_for_function("!document.querySelector('#detect-table').innerText.includes('captions off')",
                           timeout=30_000)
    assert not errors, errors
