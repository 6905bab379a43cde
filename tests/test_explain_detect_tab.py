"""The Detect tab's "Explain" section: /explain and /measure through gradio_client for both methods in English and
Chinese (the numbers are the library's), and the page in headless Chromium (the first view shows the cross-attention
and the relevance maps with their AUCs; the method selector switches). A tiny random DETR named like the shipped
model, so the tab runs its first example on page load."""

from __future__ import annotations

from pathlib import Path

import gradio as gr
import numpy as np
import pytest
import torch
from gradio_client import Client, handle_file
from gradio_client.exceptions import AppError

import cvdemo.models
from cvdemo import detr_explanation
from cvdemo.detection_run import run_detr
from cvdemo.images import load_image_rgb
from cvdemo.models import DETR, DETRConfig
from cvdemo.models.registry import ModelRegistry, ModelSpec
from cvdemo.ui import detect_explain, detect_tab
from cvdemo.ui.binding import bind
from cvdemo.ui.errors import answers
from cvdemo.ui.explain_table import faithfulness_markdown
from cvdemo.ui.i18n import gradio_i18n

pytestmark = pytest.mark.usefixtures("one_torch_thread")

ROOT = Path(__file__).resolve().parents[1]
SHAPES_IMAGE = ROOT / "examples" / "shapes" / "shapes-0.png"
NAMES = {k: n for k, n in enumerate(["circle", "square", "triangle", "star", "heart", "hexagon"])}
MODEL = "detr-shapes"  # the tab's first view runs on page load for this name
ZH_HEADERS = {"Accept-Language": "zh-CN,zh;q=0.9,en;q=0.8"}


class FakeRequest:
    def __init__(self, session: str = "explain-session", accept_language: str | None = None):
        self.headers = {} if accept_language is None else {"accept-language": accept_language}
        self.session_hash = session


@pytest.fixture(autouse=True)
def measure_at_once(monkeypatch):
    """The curves are measured with every map (a tiny model's first forward can be slow on a busy machine), with
    fewer points and one random order (5 x 4 = 20 model runs): the curves' arithmetic is tested elsewhere."""
    monkeypatch.setattr(detr_explanation, "MEASURE_AT_ONCE_SECONDS", 600.0)
    monkeypatch.setattr(detr_explanation, "STEPS", 4)
    monkeypatch.setattr(detr_explanation, "RANDOM_SEEDS", (0,))


@pytest.fixture(scope="module")
def registry(tmp_path_factory):
    torch.manual_seed(0)
    detr = DETR(DETRConfig(backbone="resnet18", backbone_stages=2, frozen_batchnorm=False, d_model=32, num_heads=4,
                           encoder_layers=1, decoder_layers=2, dim_feedforward=64, num_queries=8, num_classes=6,
                           id2label=NAMES, shortest_edge=128, longest_edge=128))
    with torch.no_grad():
        detr.class_embed.bias[1] += 3.0  # confident "square" queries
    folder = cvdemo.models.save(detr.eval(), tmp_path_factory.mktemp("explain") / "detr")
    return ModelRegistry([ModelSpec(MODEL, str(folder), "detect", "test")], device="cpu")


@pytest.fixture(scope="module")
def app_url(registry, serve):
    with gr.Blocks() as demo:
        detect_tab.build_detect_tab(registry, ROOT / "examples")
    demo.queue()
    yield serve(demo, enable_monitoring=False, i18n=gradio_i18n())
    demo.close()


def expected(registry, row: int, method: str, **kwargs) -> detr_explanation.DetectionExplanation:
    """What the library computes for the same image and model."""
    run = run_detr(registry.get(MODEL), load_image_rgb(SHAPES_IMAGE), MODEL)
    return detr_explanation.explain_detection(registry.get(MODEL), run, row, method, **kwargs)


def test_both_methods_through_the_api_in_english_with_the_librarys_numbers(app_url, registry):
    client = Client(app_url, verbose=False)
    client.predict(handle_file(SHAPES_IMAGE), MODEL, 0.0, api_name="/detect")
    image, text, plot, table = client.predict(0, "relevance", 2, "mean of heads", "class",
                                              api_name="/explain_detection")
    assert Path(image).is_file() and plot is not None, text
    assert table == faithfulness_markdown(ROOT / "examples" / detect_explain.FAITHFULNESS_TABLE, "detr-shapes", MODEL)
    want = expected(registry, 0, "relevance")
    assert "**relevance for the class logit** of #1 square" in text
    assert f"deletion AUC **{want.curves['deletion'].auc:.3f}** (random map {want.curves['random_deletion'].auc:.3f}" \
        in text and f"insertion AUC **{want.curves['insertion'].auc:.3f}**" in text
    verdict = "faster than a random order" if want.beats_random else "is not below the random map's"
    assert verdict in text and "20 model runs" in text
    _, text, _, _ = client.predict(0, "relevance", 2, "mean of heads", "w", api_name="/explain_detection")
    assert "relevance for the box width (w)" in text
    _, text, plot, _ = client.predict(1, "cross_attention", 1, "head 2", "class", api_name="/explain_detection")
    assert "**cross-attention of decoder layer 1, head 2** of #2 square" in text and plot is not None
    assert "deletion AUC" in text
    with pytest.raises(AppError, match="rollout"):  # Gradio refuses a value that is not among the choices
        client.predict(0, "rollout", 2, "mean of heads", "class", api_name="/explain_detection")


def test_both_methods_through_the_api_in_chinese(app_url):
    client = Client(app_url, verbose=False, headers=ZH_HEADERS)
    client.predict(handle_file(SHAPES_IMAGE), MODEL, 0.0, api_name="/detect")
    _, text, _, table = client.predict(0, "relevance", 2, "mean of heads", "class", api_name="/explain_detection")
    assert table == faithfulness_markdown(ROOT / "examples" / detect_explain.FAITHFULNESS_TABLE, "detr-shapes", MODEL,
                                          "zh-CN")
    assert "针对“类别 logit”的相关性" in text and "删除 AUC" in text and "插入 AUC" in text and "随机图" in text
    _, text, _, _ = client.predict(0, "cross_attention", 2, "mean of heads", "class", api_name="/explain_detection")
    assert "解码器第 2 层的交叉注意力，各头平均" in text
    assert "模型运行 10 次" in text  # the random map's curves of this detection are known: only the map's two


def test_a_costly_model_measures_only_on_the_button(app_url, monkeypatch):
    monkeypatch.setattr(detr_explanation, "MEASURE_AT_ONCE_SECONDS", 0.0)
    client = Client(app_url, verbose=False)
    client.predict(handle_file(SHAPES_IMAGE), MODEL, 0.5, api_name="/detect")
    image, text, plot, _ = client.predict(0, "relevance", 2, "mean of heads", "class", api_name="/explain_detection")
    assert Path(image).is_file() and plot is None
    assert "Measuring faithfulness takes **20 model runs**" in text and "deletion AUC" not in text
    _, text, plot, _ = client.predict(0, "relevance", 2, "mean of heads", "class",
                                      api_name="/measure_detection_faithfulness")
    assert "deletion AUC" in text and plot is not None


def test_a_repeat_of_the_shown_explanation_is_skipped_and_a_layer_matters_only_to_cross_attention(registry):
    run = run_detr(registry.get(MODEL), load_image_rgb(SHAPES_IMAGE), MODEL)
    token = detect_tab.DETECTION_RUNS.put("explain-session", run)
    handler = answers(bind(detect_explain.explain, registry=registry, explainer=detect_explain.explainer(registry)))
    *_, key = handler(token, 0, "relevance", 2, "mean of heads", "class", None, FakeRequest(), lambda *a, **k: None)
    again = handler(token, 0, "relevance", 1, "head 1", "class", key, FakeRequest(), lambda *a, **k: None)
    assert all(isinstance(v, type(gr.skip())) for v in again)  # the relevance does not depend on the layer
    image, text, _, table, other = handler(token, 0, "cross_attention", 1, "head 1", "class", key, FakeRequest(),
                                    lambda *a, **k: None)
    assert other != key and isinstance(image, np.ndarray) and "decoder layer 1, head 1" in text and table == ""
    assert handler(None, None, "relevance", 2, "mean of heads", "class", None, FakeRequest(), None) == \
        (None, "", None, "", None)


@pytest.mark.parametrize("locale, words", [
    ("en-US", ("relevance for the class logit", "deletion AUC", "Cross-attention (decoder",
               "cross-attention of decoder layer 2")),
    ("zh-CN", ("针对“类别 logit”的相关性", "删除 AUC", "交叉注意力（上方", "解码器第 2 层的交叉注意力"))])
def test_the_page_shows_both_maps_with_their_aucs_and_switches_the_method(app_url, page_in, locale, words):
    page, errors = page_in(locale)
    page.goto(app_url)
    text = "(document.querySelector('#detect-explain-text') || {innerText: ''}).innerText"
    page.wait_for_function(f"{text}.includes('{words[0]}') && {text}.includes('{words[1]}')", timeout=60_000)
    page.wait_for_selector("#detect-cross img", timeout=30_000)  # the decoder's cross-attention above
    page.wait_for_selector("#detect-explain img", timeout=30_000)  # the relevance map
    page.wait_for_selector("#detect-explain-curve .js-plotly-plot", timeout=30_000)
    page.locator("#detect-explain-method label", has_text=words[2]).click()
    page.wait_for_function(f"{text}.includes('{words[3]}') && {text}.includes('{words[1]}')", timeout=30_000)
    assert page.locator("#detect-explain img").count() == 1
    assert not errors, errors
