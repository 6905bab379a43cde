"""The Attention tab's Explain section (issue 15): every method's map for the predicted class or any class, its
deletion / insertion AUCs beside the random order's, the verdict, the curves and the mean attention distance;
through the handlers, through gradio_client in English and Chinese, and in headless Chromium.

A tiny random ViT stands in for vit-shapes (registered under that name, so the tab's first view runs on it).
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import gradio as gr
import pytest
import torch
from gradio_client import Client, handle_file

import cvdemo.models
from cvdemo.models import ViT, ViTConfig
from cvdemo.models.registry import ModelRegistry, ModelSpec
from cvdemo.ui import attention_tab
from cvdemo.ui import attention_views as views
from cvdemo.ui.binding import bind
from cvdemo.ui.errors import answers
from cvdemo.ui.i18n import gradio_i18n
from cvdemo.ui.texts.attention import T
from cvdemo.vit_explanation import METHODS, RANDOM_CURVES

pytestmark = pytest.mark.usefixtures("one_torch_thread")

ROOT = Path(__file__).resolve().parents[1]
SHAPES_IMAGE = ROOT / "examples" / "shapes-classify" / "star.png"
NAMES = {i: n for i, n in enumerate(["circle", "square", "triangle", "star", "heart", "hexagon"])}
ZH = "zh-CN,zh;q=0.9,en;q=0.8"


class FakeRequest:
    """What the handlers read of a `gr.Request`: its headers and its session."""

    def __init__(self, session: str = "session-x", accept_language: str | None = None):
        self.headers = {} if accept_language is None else {"accept-language": accept_language}
        self.session_hash = session


@pytest.fixture(scope="module", autouse=True)
def measure_at_once():
    """The curves are measured at once whatever the estimate (a busy test machine can make a tiny model's one
    forward look slow); the test of the button sets the limit to 0 itself."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(attention_tab, "MEASURE_AT_ONCE_SECONDS", float("inf"))
        yield


def tiny_vit() -> ViT:
    torch.manual_seed(0)
    return ViT(ViTConfig(image_size=32, patch_size=8, embed_dim=32, depth=2, num_heads=2, num_classes=6,
                         id2label=NAMES, image_mean=(0.5,) * 3, image_std=(0.5,) * 3)).eval()


@pytest.fixture(scope="module")
def registry(tmp_path_factory):
    path = cvdemo.models.save(tiny_vit(), tmp_path_factory.mktemp("models") / "vit")
    return ModelRegistry([ModelSpec("vit-shapes", str(path), "classify", "tiny stand-in")], device="cpu")


def run_token(registry, request) -> str:
    classify = answers(bind(attention_tab.classify, registry=registry,
                            infer=attention_tab.model_runner(registry)))
    return classify({"path": str(SHAPES_IMAGE)}, "vit-shapes", "mean", 0.0, 1, request, lambda *a, **k: None)[-1]


def explain_handler(registry, **fixed):
    return answers(bind(attention_tab.explain, explainer=attention_tab.explanation_runner(registry), **fixed))


# ---------------------------------------------------------------- the handlers

def stat(mean: float) -> dict:
    return {"mean": mean, "low": mean - 0.01, "high": mean + 0.01}


@pytest.fixture(scope="module")
def table_path(tmp_path_factory):
    """A faithfulness table as `benchmarks/bench_explain_faithfulness.py` writes it, for "vit-shapes"."""
    row = {"pointing": stat(0.9), "deletion_auc": stat(0.5), "insertion_auc": stat(0.9),
           "deletion_minus_random": stat(-0.3)}
    random = {"pointing": stat(0.3), "deletion_auc": stat(0.8), "insertion_auc": stat(0.8)}
    entry = {"images": 7, "objects": 7, "steps": 16, "methods": {"relevance": row, "random": random}}
    path = tmp_path_factory.mktemp("table") / "explain-faithfulness.json"
    path.write_text(json.dumps({"vit-shapes": entry}))
    return path


@pytest.mark.parametrize("accept_language", [None, ZH])
def test_a_new_run_explains_its_predicted_class_and_lists_every_class(registry, table_path, accept_language):
    request = FakeRequest(accept_language=accept_language)
    locale = "zh-CN" if accept_language else "en"
    token = run_token(registry, request)
    handler = answers(bind(attention_tab.explain_new_run, explainer=attention_tab.explanation_runner(registry),
                           table_path=table_path))
    target, picture, text, curves, button, distance, table = handler(token, "relevance", 2, "mean of heads",
                                                                     "mean", 0.0, 1, request)
    run = attention_tab.VIT_RUNS.get(token)
    assert target.value == views.PREDICTED and len(target.choices) == 7
    assert [c[0] for c in target.choices[1:]] == list(NAMES.values())
    assert picture.shape[:2] == run.display_size
    assert T.text("method_relevance", locale) in text and ("| this map |" if locale == "en" else "| 此图 |") in text
    assert button.visible is False
    assert len(curves.data) == 4 and [t.line.dash for t in curves.data] == ["solid", "solid", "dash", "dash"]
    assert len(distance.data[0].x) == run.num_layers * run.num_heads
    assert ("Which map to trust on vit-shapes** — measured on 7 objects" if locale == "en" else
            "在 vit-shapes 上该相信哪种图** —— 在 7 张新生成图像") in table
    assert ("relevance (Chefer) | 0.900 [0.890, 0.910]" if locale == "en" else "相关性（Chefer） | 0.900") in table


def test_every_method_and_any_class_through_the_handler(registry):
    request = FakeRequest()
    token = run_token(registry, request)
    explain = explain_handler(registry)
    texts = {}
    for method in METHODS:
        for target in ("predicted", 0, "4"):
            picture, text, curves, button = explain(token, method, target, 2, "head 1", "max", 0.1, 1, request)
            assert picture is not None and curves is not None and button.visible is False
            texts[method, str(target)] = text
            assert re.search(r"\| this map \| \d\.\d{3} \| \d\.\d{3} \|", text)
            assert re.search(r"\| random order of patches \| \d\.\d{3} \| \d\.\d{3} \|", text)
            assert any(T.text(f"verdict_{v}", "en") in text for v in ("beats_random", "not_better", "inconclusive"))
            assert (T.text("class_agnostic_note", "en") in text) == (method in ("attention", "rollout"))
    assert "for class **heart**" in texts["relevance", "4"] and "for class **circle**" in texts["relevance", "0"]


def test_a_setting_redraws_only_the_methods_it_affects(registry):
    request = FakeRequest()
    token = run_token(registry, request)
    only_attention = explain_handler(registry, only_for=("attention",))
    assert only_attention(token, "relevance", "predicted", 1, "head 2", "mean", 0.0, 1, request) == (
        gr.skip(), gr.skip(), gr.skip(), gr.skip())
    assert only_attention(token, "attention", "predicted", 1, "head 2", "mean", 0.0, 1, request)[0] is not None


def test_a_slow_model_measures_only_on_the_button_which_says_how_many_runs(registry, monkeypatch):
    request = FakeRequest(accept_language=ZH)
    token = run_token(registry, request)
    monkeypatch.setattr(attention_tab, "MEASURE_AT_ONCE_SECONDS", 0.0)
    RANDOM_CURVES.clear()  # (earlier tests measured the random order's curves of this image)
    picture, text, curves, button = explain_handler(registry)(token, "gradient_rollout", 1, 2, "mean of heads",
                                                              "mean", 0.0, 1, request)
    assert picture is not None and curves is None
    assert button.visible is True and "136 次模型运行" in button.value and "尚未测量忠实度" in text
    picture, text, curves, button = explain_handler(registry, measure=True)(
        token, "gradient_rollout", 1, 2, "mean of heads", "mean", 0.0, 1, request)
    assert curves is not None and button.visible is False and "删除 AUC" in text and "136 次模型运行" in text
    picture, text, curves, button = explain_handler(registry)(token, "attention", 1, 2, "mean of heads", "mean", 0.0,
                                                              1, request)  # the random curves are kept: 34 runs
    assert button.visible is True and "34 次模型运行" in button.value and curves is None


@pytest.mark.parametrize("args, message", [
    (("saliency", "predicted"), "Method must be one of: attention, rollout, gradient_rollout, relevance"),
    (("relevance", 6), r"Class to explain must be in \[0, 5\] \(got 6\)"),
    (("relevance", "star"), "Class to explain must be a number"),
])
def test_api_only_values_are_refused_with_a_message(registry, args, message):
    request = FakeRequest()
    token = run_token(registry, request)
    with pytest.raises(gr.Error, match=message):
        explain_handler(registry)(token, *args, 2, "mean of heads", "mean", 0.0, 1, request)


def test_the_texts_name_the_random_baseline_and_what_misleads_in_both_languages():
    for key, words in (("explain_intro", ("class-agnostic", "residual", "random order", "heuristic")),
                       ("verdict_not_better", ("not lower than the random",))):
        assert all(w in T.text(key, "en") for w in words)
    assert "与类别无关" in T.text("explain_intro", "zh-CN") and "残差" in T.text("explain_intro", "zh-CN")
    assert "不低于随机顺序" in T.text("verdict_not_better", "zh-CN")


# ---------------------------------------------------------------- through gradio_client and in the browser

@pytest.fixture(scope="module")
def app_url(registry, serve):
    with gr.Blocks() as demo:
        attention_tab.build_attention_tab(registry, ROOT / "examples")
    demo.queue()
    url = serve(demo, server_name="127.0.0.1", i18n=gradio_i18n())
    yield url
    demo.close()


@pytest.mark.parametrize("accept_language, words", [
    ("en-US,en;q=0.9", ("deletion AUC", "random order of patches", "for class")),
    (ZH, ("删除 AUC", "随机顺序的图像块", "类别"))])
def test_every_method_through_the_api(app_url, accept_language, words):
    client = Client(app_url, verbose=False, headers={"Accept-Language": accept_language})
    client.predict(handle_file(SHAPES_IMAGE), "vit-shapes", "mean", 0.0, 1, api_name="/rollout")
    locale = "zh-CN" if accept_language == ZH else "en"
    for method in METHODS:
        picture, text, curves = client.predict(method, 3, 2, "mean of heads", "mean", 0.0, 1,
                                                       api_name="/explain_class")
        assert Path(picture).exists() and curves is not None
        assert T.text(f"method_{method}", locale) in text and all(w in text for w in words)
    picture, text, curves = client.predict("relevance", "predicted", 2, "head 1", "mean", 0.0, 1,
                                           api_name="/measure_class_faithfulness")  # (the button is not an API output)
    assert T.text("predicted_mark", locale) in text


@pytest.mark.parametrize("locale", ["en-US", "zh-CN"])
def test_the_page_shows_every_method_with_its_aucs(app_url, page_in, locale):
    lang = "zh-CN" if locale == "zh-CN" else "en"
    page, errors = page_in(locale)
    page.goto(app_url)
    text = "(document.querySelector('#vit-explain-text')?.innerText || '')"
    auc = T.text("auc_table", lang, steps=1, runs=1, seconds=0, deletion=0, insertion=0, random_deletion=0,
                 random_insertion=0).split("|")[2].strip()  # "deletion AUC (lower is better)"
    # the first view: the example, classified and explained for its predicted class, with the distances
    page.wait_for_function(f"{text}.includes('{T.text('method_relevance', lang)}') && {text}.includes('{auc}')",
                           timeout=60_000)
    page.locator("#vit-explain").scroll_into_view_if_needed()  # the picture loads lazily, when on screen
    page.wait_for_selector("#vit-explain img", timeout=30_000)
    page.wait_for_selector("#vit-faithfulness .js-plotly-plot", timeout=30_000)
    page.wait_for_selector("#vit-distance .js-plotly-plot", timeout=30_000)
    labels = page.locator("#vit-method label")
    for i, method in enumerate(METHODS):
        labels.nth(i).click()
        name = T.text(f"method_{method}", lang)
        page.wait_for_function(f"{text}.includes({name!r}) && {text}.includes('{auc}')", timeout=30_000)
        assert page.locator("#vit-explain img").is_visible()
    # another class, by name: the relevance (the last method chosen) for it, no longer the predicted one
    page.locator("#vit-target input").click()
    options = page.get_by_role("option").all_inner_texts()
    predicted = options[0].split("：" if lang == "zh-CN" else ": ")[-1]
    other = next(name for name in options[1:] if name != predicted)
    page.get_by_role("option", name=other, exact=True).click()
    mark = T.text("predicted_mark", lang).strip()
    page.wait_for_function(f"{text}.includes({other!r}) && !{text}.includes({mark!r})", timeout=30_000)
    assert not errors, errors


def test_views_need_no_run_and_word_every_verdict():
    """Before any run the section stays empty; every verdict key exists in both languages."""
    assert attention_tab.explain(None, "relevance", None, 1, None, "mean", 0.0, 1, FakeRequest(),
                                 explainer=None)[:3] == (None, "", None)
    for verdict in ("beats_random", "not_better", "inconclusive"):
        assert T.text(f"verdict_{verdict}", "zh-CN") != T.text(f"verdict_{verdict}", "en")
    assert attention_tab.MEASURE_AT_ONCE_SECONDS == float("inf")  # (this module's setting)
