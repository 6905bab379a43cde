"""The Detect and Attention tabs' handlers: any aspect ratio the loader accepts, API-only values refused with a
specific message, per-session runs in bounded stores, models scoped to the session that saved them.

Handlers are called as Gradio calls them (module-level functions, wrapped with `answers`, with a request that has
headers and a session hash); a few calls go through gradio_client against a demo of the two tabs alone.
Tiny random models; the shipped checkpoints are never needed.
"""

from __future__ import annotations

import math
from pathlib import Path

import gradio as gr
import numpy as np
import pytest
import torch
from gradio_client import Client, handle_file
from gradio_client.exceptions import AppError
from PIL import Image

import cvdemo.models
from cvdemo.detection_run import run_detr
from cvdemo.models import DETR, DETRConfig, ViT, ViTConfig
from cvdemo.models.image_processing import (
    IMAGENET_MEAN,
    IMAGENET_STD,
    detr_resize_shape,
    keeps_aspect_ratio,
    prepare_detr_inputs,
)
from cvdemo.models.registry import ModelRegistry, ModelSpec
from cvdemo.models.vit_transforms import vit_transform
from cvdemo.session_store import StateDroppedError
from cvdemo.ui import attention_tab, detect_tab
from cvdemo.ui.binding import bind
from cvdemo.ui.errors import answers

ROOT = Path(__file__).resolve().parents[1]
SHAPES_IMAGE = ROOT / "examples" / "shapes" / "shapes-0.png"
EXTREME_SHAPES = [(12, 8000), (8000, 12), (1, 1), (1, 5000), (5000, 1)]  # (height, width)


class FakeRequest:
    """What the handlers read of a `gr.Request`: its headers and its session."""

    def __init__(self, session: str = "session-a", accept_language: str | None = None):
        self.headers = {} if accept_language is None else {"accept-language": accept_language}
        self.session_hash = session


def no_progress(*args, **kwargs) -> None:
    """Stands in for gr.Progress outside an event."""


def tiny_detr(shortest_edge: int = 128, longest_edge: int = 128) -> DETR:
    torch.manual_seed(0)
    return DETR(DETRConfig(backbone="resnet18", frozen_batchnorm=False, d_model=32, num_heads=4, encoder_layers=2,
                           decoder_layers=2, dim_feedforward=64, num_queries=5, num_classes=3,
                           shortest_edge=shortest_edge, longest_edge=longest_edge)).eval()


def tiny_vit() -> ViT:
    torch.manual_seed(0)
    return ViT(ViTConfig(image_size=32, patch_size=8, embed_dim=32, depth=3, num_heads=2, num_classes=4)).eval()


def write_png(path: Path, height: int, width: int) -> Path:
    pixels = np.random.default_rng(height * 7 + width).integers(0, 256, (height, width, 3), dtype=np.uint8)
    Image.fromarray(pixels).save(path)
    return path


@pytest.fixture(scope="module")
def registry(tmp_path_factory):
    root = tmp_path_factory.mktemp("models")
    specs = [ModelSpec("tiny-detr", str(cvdemo.models.save(tiny_detr(), root / "detr")), "detect"),
             ModelSpec("tiny-vit", str(cvdemo.models.save(tiny_vit(), root / "vit")), "classify")]
    return ModelRegistry(specs, device="cpu")


@pytest.fixture(scope="module")
def pngs(tmp_path_factory):
    root = tmp_path_factory.mktemp("pngs")
    return {shape: write_png(root / f"{shape[0]}x{shape[1]}.png", *shape) for shape in EXTREME_SHAPES}


def detect(registry, path, model="tiny-detr", threshold=0.5, request=None):
    handler = answers(bind(detect_tab.detect, registry=registry, infer=detect_tab.model_runner(registry)))
    payload = None if path is None else {"path": str(path)}
    return handler(payload, model, threshold, request or FakeRequest(), no_progress)


def rollout(registry, path, model="tiny-vit", fusion="mean", discard=0.0, start=1, request=None):
    handler = answers(bind(attention_tab.classify, registry=registry, infer=attention_tab.model_runner(registry)))
    payload = None if path is None else {"path": str(path)}
    return handler(payload, model, fusion, discard, start, request or FakeRequest(), no_progress)


# ---------------------------------------------------------------- pre-processing of any aspect ratio

@pytest.mark.parametrize("shape", EXTREME_SHAPES + [(2, 1333), (1333, 2)])
@pytest.mark.parametrize("edges", [(800, 1333), (128, 128)])
def test_detr_inputs_have_a_pixel_on_each_side_for_any_aspect_ratio(shape, edges):
    config = DETRConfig(shortest_edge=edges[0], longest_edge=edges[1])
    image = np.full((*shape, 3), 200, dtype=np.uint8)
    inputs = prepare_detr_inputs(image, config)
    h, w = (int(v) for v in inputs["resized_sizes"][0])
    assert (h, w) == detr_resize_shape(*shape, *edges)
    assert h >= 1 and w >= 1 and max(h, w) <= edges[1]
    assert inputs["pixel_values"].shape == (1, 3, h, w) and torch.isfinite(inputs["pixel_values"]).all()
    expected = (200 / 255 - torch.tensor(IMAGENET_MEAN)) / torch.tensor(IMAGENET_STD)  # a flat image stays flat
    torch.testing.assert_close(inputs["pixel_values"][0, :, 0, 0], expected.float(), atol=1e-5, rtol=0)
    assert tuple(inputs["original_sizes"][0].tolist()) == shape


def test_detr_resize_clamps_only_what_would_round_to_nothing():
    assert detr_resize_shape(12, 8000, 128, 128) == (1, 128)  # 128 * 12 / 8000 = 0.19 -> 1, not 0
    assert detr_resize_shape(8000, 12, 128, 128) == (128, 1)
    assert detr_resize_shape(480, 640, 800, 1333) == (800, 1066)  # ordinary images as before (transformers)
    assert keeps_aspect_ratio((480, 640), (800, 1066)) and not keeps_aspect_ratio((12, 8000), (1, 128))
    with pytest.raises(ValueError, match="no pixels"):
        detr_resize_shape(0, 10, 800, 1333)


@pytest.mark.parametrize("shape", EXTREME_SHAPES)
def test_vit_transform_takes_any_aspect_ratio(shape):
    config = ViTConfig(image_size=32, patch_size=8, embed_dim=32, depth=1, num_heads=2, num_classes=2)
    pixels = vit_transform(np.full((*shape, 3), 200, dtype=np.uint8), config)
    assert pixels.shape == (1, 3, 32, 32) and torch.isfinite(pixels).all()
    expected = (200 / 255 - torch.tensor(IMAGENET_MEAN)) / torch.tensor(IMAGENET_STD)
    torch.testing.assert_close(pixels[0, :, 16, 16], expected.float(), atol=1e-5, rtol=0)


def test_a_detection_run_on_a_banner_keeps_maps_at_the_display_size():
    run = run_detr(tiny_detr(), np.zeros((2, 1333, 3), dtype=np.uint8))
    assert run.input_size == (1, 128) and not run.aspect_ratio_kept
    assert run.display_size == (2, 1333)


# ---------------------------------------------------------------- the handlers answer every shape

@pytest.mark.parametrize("shape", EXTREME_SHAPES)
def test_detect_answers_any_aspect_ratio_and_says_what_was_done(registry, pngs, shape):
    annotated, table, summary, *_, token, point = detect(registry, pngs[shape], threshold=0.0)
    assert annotated.ndim == 3 and min(annotated.shape[:2]) >= 1
    assert len(table["data"]) == 5
    run = detect_tab.DETECTION_RUNS.get(token)
    ih, iw = run.input_size
    if shape != (1, 1):  # the loader downsized it to 1333 px at most; the model's input could not keep its shape
        assert f"resized to {iw}×{ih} for the model" in summary and min(ih, iw) == 1
    cross, encoder, figure = answers(detect_tab.attention_views)(token, point, 0.0, FakeRequest())
    assert cross.shape[:2] == encoder.shape[:2] == run.display_size and figure is not None
    filtered = answers(detect_tab.refilter)(token, 0.5, 2, "head 1", FakeRequest())
    assert filtered[4].shape[:2] == run.display_size


@pytest.mark.parametrize("shape", EXTREME_SHAPES)
def test_rollout_answers_any_aspect_ratio_and_says_what_was_done(registry, pngs, shape):
    top5, summary, picture, start, layer, head, token = rollout(registry, pngs[shape], fusion="max", discard=0.5)
    assert len(top5) == 4 and math.isclose(sum(top5.values()), 1.0, rel_tol=1e-5)
    run = attention_tab.VIT_RUNS.get(token)
    assert picture.shape[:2] == run.display_size
    if shape != (1, 1):
        assert "resized to 32×32 for the model" in summary
    cls_view, caption, grid, positions = answers(attention_tab.other_views)(token, FakeRequest())
    assert cls_view.shape[:2] == run.display_size and "4×4 = 16 patches" in caption


def test_a_chinese_page_gets_the_note_in_chinese(registry, pngs):
    summary = detect(registry, pngs[(12, 8000)], request=FakeRequest(accept_language="zh-CN"))[2]
    assert "为模型缩放到 128×1（无法保持其宽高比）" in summary
    summary = rollout(registry, pngs[(12, 8000)], request=FakeRequest(accept_language="zh-CN"))[1]
    assert "为模型缩放到 32×32（未保持其宽高比）" in summary


# ---------------------------------------------------------------- values only the API can send

@pytest.mark.parametrize("threshold, message", [
    (1.5, r"Score threshold must be in \[0, 1\] \(got 1.5\)"),
    (-0.1, r"Score threshold must be in \[0, 1\]"),
    ("0.5", r"Score threshold must be a number in \[0, 1\] \(got '0.5'\)"),
    (None, "Score threshold must be a number"),
    (float("nan"), "Score threshold must be a number")])
def test_detect_refuses_a_threshold_out_of_range_or_as_text(registry, threshold, message):
    with pytest.raises(gr.Error, match=message):
        detect(registry, SHAPES_IMAGE, threshold=threshold)


def test_wrong_kind_of_model_gets_a_specific_message(registry):
    with pytest.raises(gr.Error, match="'tiny-vit' is an image classifier.*needs a DETR detector.*tiny-detr"):
        detect(registry, SHAPES_IMAGE, model="tiny-vit")
    with pytest.raises(gr.Error, match="'tiny-detr' is a DETR detector.*needs an image classifier.*tiny-vit"):
        rollout(registry, SHAPES_IMAGE, model="tiny-detr")
    with pytest.raises(gr.Error, match="Unknown model 'nope'"):
        detect(registry, SHAPES_IMAGE, model="nope")


@pytest.mark.parametrize("kwargs, message", [
    ({"discard": 1.0}, r"Discard ratio must be in \[0, 1\) \(got 1.0\)"),
    ({"discard": "a lot"}, "Discard ratio must be a number"),
    ({"fusion": "median"}, "Head fusion must be one of: mean, max, min"),
    ({"start": 4}, r"Start layer must be in \[1, 3\] \(got 4\)"),
    ({"start": 0}, r"Start layer must be in \[1, 3\]"),
    ({"start": 1.5}, "Start layer must be a whole number")])
def test_rollout_refuses_settings_out_of_range(registry, kwargs, message):
    with pytest.raises(gr.Error, match=message):
        rollout(registry, SHAPES_IMAGE, **kwargs)


def test_layer_dropdown_values_may_come_as_the_strings_the_api_documents(registry):
    assert rollout(registry, SHAPES_IMAGE, start="2")[3].value == 2  # the API info lists "1", "2", ...
    with pytest.raises(gr.Error, match=r"Start layer must be in \[1, 3\] \(got 99\)"):
        rollout(registry, SHAPES_IMAGE, start="99")
    with pytest.raises(gr.Error, match="Start layer must be a number"):
        rollout(registry, SHAPES_IMAGE, start="first")


def test_a_model_change_moves_the_start_layer_instead_of_refusing_it(registry):
    handler = answers(bind(attention_tab.classify, registry=registry, infer=attention_tab.model_runner(registry),
                           clamp_start=True))
    result = handler({"path": str(SHAPES_IMAGE)}, "tiny-vit", "mean", 0.0, 12, FakeRequest(), no_progress)
    assert result[3].value == 3  # the previous model's layer 12 -> this model's last


def test_filter_refuses_layers_and_heads_the_model_does_not_have(registry):
    token = detect(registry, SHAPES_IMAGE)[-2]
    refilter = answers(detect_tab.refilter)
    with pytest.raises(gr.Error, match=r"Decoder layer must be in \[1, 2\] \(got 3\)"):
        refilter(token, 0.5, 3, "mean of heads", FakeRequest())
    with pytest.raises(gr.Error, match="Head must be one of: mean of heads, head 1, head 2, head 3, head 4"):
        refilter(token, 0.5, 2, "head 9", FakeRequest())
    with pytest.raises(gr.Error, match=r"Score threshold must be in \[0, 1\]"):
        refilter(token, 2.0, 2, "mean of heads", FakeRequest())
    assert refilter(token, 0.5, 1, "head 4", FakeRequest())[4] is not None


# ---------------------------------------------------------------- per-session runs in bounded stores

def test_runs_live_in_bounded_stores_and_a_dropped_run_says_so(registry):
    session = FakeRequest("one-session")
    tokens = [detect(registry, SHAPES_IMAGE, request=session)[-2] for _ in range(3)]
    assert all(isinstance(t, str) for t in tokens)  # the page keeps a token, not the run
    with pytest.raises(StateDroppedError):  # two runs per session: the first went
        detect_tab.DETECTION_RUNS.get(tokens[0])
    with pytest.raises(gr.Error, match="no longer kept on the server.*Run it again"):
        answers(detect_tab.attention_views)(tokens[0], None, 0.5, session)
    with pytest.raises(gr.Error, match="no longer kept on the server"):
        answers(attention_tab.redraw_rollout)("vit:gone:1", "mean", 0.0, 1, session)
    assert answers(detect_tab.attention_views)(tokens[2], None, 0.5, session)[0] is not None
    for store in (detect_tab.DETECTION_RUNS, attention_tab.VIT_RUNS):
        assert store.per_session == 2 and store.max_runs <= 64 and store.max_bytes <= 256 * 2**20


def test_encoder_budget_still_bounds_a_run():
    from cvdemo import detection_run

    run = run_detr(tiny_detr(), np.zeros((128, 128, 3), dtype=np.uint8))
    assert run.encoder_attentions.size <= detection_run.ENCODER_BUDGET


# ---------------------------------------------------------------- models saved by a session are its own

def test_a_model_another_session_saved_is_not_visible(registry):
    registry.add(ModelSpec("my-detr", "memory", "detect"), tiny_detr(), owner="saver")
    try:
        assert detect(registry, SHAPES_IMAGE, model="my-detr", request=FakeRequest("saver"))[0] is not None
        with pytest.raises(gr.Error, match="Unknown model 'my-detr'"):
            detect(registry, SHAPES_IMAGE, model="my-detr", request=FakeRequest("someone-else"))
        show_note = answers(bind(detect_tab.show_note, registry=registry))
        assert "Unknown model" in show_note("my-detr", FakeRequest("someone-else"))
    finally:
        registry.remove("my-detr", owner="saver")


# ---------------------------------------------------------------- through gradio_client

@pytest.fixture(scope="module")
def client(registry, serve):
    with gr.Blocks() as demo:
        with gr.Tab("detect"):
            detect_tab.build_detect_tab(registry, ROOT / "examples")
        with gr.Tab("attention"):
            attention_tab.build_attention_tab(registry, ROOT / "examples")
    demo.queue()
    url = serve(demo, server_name="127.0.0.1")
    yield Client(url, verbose=False)
    demo.close()


def test_the_api_answers_extreme_images_and_bad_values_with_their_messages(client, pngs):
    result = client.predict(handle_file(pngs[(12, 8000)]), "tiny-detr", 0.0, api_name="/detect")
    assert "resized to 128×1 for the model" in result[2]
    cross, encoder, _ = client.predict(0.0, api_name="/attention_views")
    assert cross and encoder
    with pytest.raises(AppError, match="Score threshold must be a number"):
        client.predict(handle_file(SHAPES_IMAGE), "tiny-detr", "high", api_name="/detect")
    with pytest.raises(AppError, match="is an image classifier"):
        client.predict(handle_file(SHAPES_IMAGE), "tiny-vit", 0.5, api_name="/detect")
    result = client.predict(handle_file(pngs[(8000, 12)]), "tiny-vit", "mean", 0.0, 1, api_name="/rollout")
    assert "resized to 32×32 for the model" in result[1]
    with pytest.raises(AppError, match=r"Discard ratio must be in \[0, 1\)"):
        client.predict(handle_file(SHAPES_IMAGE), "tiny-vit", "mean", 1.0, 1, api_name="/rollout")
    with pytest.raises(AppError, match="is a DETR detector"):
        client.predict(handle_file(SHAPES_IMAGE), "tiny-detr", "mean", 0.0, 1, api_name="/rollout")
    assert client.predict(handle_file(SHAPES_IMAGE), "tiny-detr", 0.5, api_name="/detect")[0]  # still serving
