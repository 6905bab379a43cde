"""The Concepts tab in English and Simplified Chinese: the figures' and the verdict's text follow the locale,
the slider handlers and the page-load event draw in the request's language, and the catalog has no dead keys."""

from __future__ import annotations

import json
import re
from pathlib import Path

import gradio as gr
import numpy as np
import pytest

from cvdemo.ui import concept_figures as cf
from cvdemo.ui.concepts_tab import build_concepts_tab
from cvdemo.ui.i18n import gradio_i18n
from cvdemo.ui.texts.concepts import T

ROOT = Path(__file__).resolve().parents[1]
CJK = re.compile(r"[\u4e00-\u9fff]")
A, B = (10, 10, 50, 50), (30, 30, 70, 70)  # IoU 400 / 2800 = 0.143


class FakeRequest:
    """What the handlers read of a `gr.Request`: its headers."""

    def __init__(self, accept_language: str | None):
        self.headers = {} if accept_language is None else {"accept-language": accept_language}


ZH, EN = FakeRequest("zh-CN,zh;q=0.9,en;q=0.8"), FakeRequest("en-US,en;q=0.9")


def figure_texts(fig) -> str:
    """Every piece of text of a Plotly figure: title, subplot titles, axis titles, legend names, hover labels."""
    layout = fig.layout
    texts = [layout.title.text or ""]
    texts += [a.text or "" for a in layout.annotations]
    texts += [getattr(layout[name].title, "text", None) or "" for name in layout if name.startswith(("xaxis",
                                                                                                     "yaxis"))]
    for trace in fig.data:
        texts += [getattr(trace, "name", None) or "", getattr(trace, "hovertemplate", None) or ""]
        texts += [str(t) for t in (getattr(trace, "y", None) or ()) if isinstance(t, str)]
    return "\n".join(texts)


# ---------------------------------------------------------------- figures and verdict


def test_figures_are_english_by_default_and_as_before():
    sinus = figure_texts(cf.sinusoidal_figure(16, 8))
    assert "PE[pos, channel] (d_model=16)" in sinus and "depends on |p − q| only" in sinus
    assert "pos %{y}, channel %{x}: %{z:.3f}<extra></extra>" in sinus and "position" in sinus
    grid = figure_texts(cf.encoding_1d_vs_2d_figure(4, 5, 1, 2, 16))
    assert "Similarity of the marked position to all others" in grid
    assert "row %{y}, col %{x}: %{z:.2f}<extra></extra>" in grid
    attention = cf.attention_figure(0, 8, True)
    assert attention.layout.title.text.startswith("Scaled dot-product attention, d_k=8: mean entropy of a weight row")
    assert attention.layout.title.text.endswith("nats (uniform: 1.79)")
    assert "scores Q·Kᵀ / √8" in figure_texts(attention) and "0:the" in figure_texts(attention)
    assert "scores Q·Kᵀ (not scaled)" in figure_texts(cf.attention_figure(0, 8, False))
    fig, verdict = cf.iou_figure(A, B, 0.1)
    assert [t.name for t in fig.data[:2]] == ["ground truth", "prediction"]
    assert verdict.startswith("**IoU 0.143 ≥ 0.10: a true positive**")
    assert cf.iou_figure(A, B, 0.5, locale="en")[1].startswith("**IoU 0.143 < 0.50: a false positive**")
    assert not CJK.search(sinus + grid + figure_texts(attention) + figure_texts(fig) + verdict)


@pytest.mark.parametrize("draw", [
    lambda locale: cf.sinusoidal_figure(16, 8, locale=locale),
    lambda locale: cf.encoding_1d_vs_2d_figure(4, 5, 1, 2, 16, locale=locale),
    lambda locale: cf.attention_figure(0, 8, True, locale=locale),
    lambda locale: cf.attention_figure(0, 8, False, locale=locale),
    lambda locale: cf.iou_figure(A, B, 0.5, locale=locale)[0],
], ids=["sinusoid", "grid", "attention", "attention-unscaled", "iou"])
def test_figures_in_chinese_keep_their_data(draw):
    english, chinese = draw("en"), draw("zh-CN")
    text = figure_texts(chinese)
    assert CJK.search(text), text
    for word in ("position", "channel", "Similarity", "scores", "weights", "output", "entropy", "ground truth",
                 "prediction", "row ", "the"):
        assert word not in text, (word, text)
    assert len(english.data) == len(chinese.data)
    for e, c in zip(english.data, chinese.data):  # only the words change
        if e.type == "heatmap":
            np.testing.assert_array_equal(e.z, c.z)
        else:
            assert (e.x, e.y) == (c.x, c.y)


def test_chinese_figure_texts():
    assert "PE[位置, 通道]（d_model=16）" in figure_texts(cf.sinusoidal_figure(16, 8, locale="zh-CN"))
    assert "位置 %{y}，通道 %{x}：%{z:.3f}<extra></extra>" in figure_texts(cf.sinusoidal_figure(16, 8, locale="zh-CN"))
    assert cf.encoding_1d_vs_2d_figure(locale="zh-CN").layout.title.text == "标记位置与其他所有位置的相似度"
    attention = cf.attention_figure(0, 8, True, locale="zh-CN")
    assert attention.layout.title.text.startswith("缩放点积注意力，d_k=8：权重各行的平均熵为 ")
    assert "分数 Q·Kᵀ / √8" in figure_texts(attention) and "0:小猫" in figure_texts(attention)
    assert [t.name for t in cf.iou_figure(A, B, locale="zh-CN")[0].data[:2]] == ["真值", "预测"]


def test_iou_verdict_follows_the_locale():
    assert cf.iou_figure(A, B, 0.1, locale="zh-CN")[1].startswith("**IoU 0.143 ≥ 0.10：真阳性**")
    verdict = cf.iou_figure(A, B, 0.5, locale="zh-CN")[1]
    assert verdict.startswith("**IoU 0.143 < 0.50：假阳性**") and "假阴性（漏检）" in verdict
    assert cf.iou_figure(A, B, 0.5, locale="fr")[1] == cf.iou_figure(A, B, 0.5)[1]  # anything else: English


def test_toy_sentence_has_six_tokens_in_both_languages():
    assert cf.toy_tokens("en") == cf.TOY_TOKENS
    assert len(cf.toy_tokens("zh-CN")) == len(cf.TOY_TOKENS) and CJK.search("".join(cf.toy_tokens("zh-CN")))


# ---------------------------------------------------------------- the tab's handlers


@pytest.fixture(scope="module")
def tab():
    with gr.Blocks() as demo:
        build_concepts_tab()
    yield demo
    demo.close()


def handler(demo: gr.Blocks, name: str):
    found = [f.fn for f in demo.fns.values() if getattr(f.fn, "__name__", "") == name]
    assert len(found) == 1, name
    return found[0]


def test_slider_handlers_draw_in_the_request_language(tab):
    sinus = handler(tab, "redraw_sinusoid")
    assert "PE[位置, 通道]（d_model=32）" in figure_texts(sinus(32, 16, ZH))
    assert "PE[pos, channel] (d_model=32)" in figure_texts(sinus(32, 16, EN))
    grid = handler(tab, "redraw_grid")
    assert grid(6, 8, 2, 3, ZH).layout.title.text == "标记位置与其他所有位置的相似度"
    assert grid(6, 8, 2, 3, FakeRequest(None)).layout.title.text == "Similarity of the marked position to all others"
    attention = handler(tab, "redraw_attention")
    assert attention(16, 3, False, ZH).layout.title.text.startswith("缩放点积注意力，d_k=16")
    assert attention(16, 3, False, EN).layout.title.text.startswith("Scaled dot-product attention, d_k=16")
    iou = handler(tab, "redraw_iou")  # xywh of both boxes, then the threshold
    fig, verdict = iou(10, 10, 40, 40, 30, 30, 40, 40, 0.1, ZH)
    assert verdict.startswith("**IoU 0.143 ≥ 0.10：真阳性**") and fig.data[0].name == "真值"
    fig, verdict = iou(10, 10, 40, 40, 30, 30, 40, 40, 0.5, EN)
    assert verdict.startswith("**IoU 0.143 < 0.50: a false positive**") and fig.data[0].name == "ground truth"


def test_page_load_redraws_the_figures_and_writes_the_verdict(tab):
    localize = handler(tab, "localize")
    sinus, grid, attention, iou, verdict = localize(ZH)
    assert "PE[位置, 通道]（d_model=64）" in figure_texts(sinus)
    assert grid.layout.title.text == "标记位置与其他所有位置的相似度"
    assert attention.layout.title.text.startswith("缩放点积注意力，d_k=8")
    assert iou.data[0].name == "真值" and verdict.startswith("**IoU 0.210 < 0.50：假阳性**")
    *figures, verdict = localize(EN)  # the English figures drawn at build time stay; the verdict is written
    assert all(isinstance(f, type(gr.skip())) for f in figures)
    assert verdict.startswith("**IoU 0.210 < 0.50: a false positive**")
    load = [d for d in tab.config["dependencies"] if d["targets"] and d["targets"][0][1] == "load"]
    assert len(load) == 1 and not load[0]["inputs"] and len(load[0]["outputs"]) == 5


def test_handlers_take_the_request_where_gradio_injects_it(tab):
    from gradio.helpers import special_args

    for name, n_inputs in (("redraw_sinusoid", 2), ("redraw_grid", 4), ("redraw_attention", 3), ("redraw_iou", 9),
                           ("localize", 0)):
        inputs, *_ = special_args(handler(tab, name), list(range(n_inputs)), request=ZH)
        assert inputs == [*range(n_inputs), ZH], name


def test_no_public_api_and_every_text_is_a_catalog_key(tab):
    assert all(d["api_visibility"] == "private" for d in tab.config["dependencies"])
    assert not tab.get_api_info()["named_endpoints"]
    keys = []
    for component in tab.config["components"]:
        props = component["props"]
        texts = [props.get(name) for name in ("label", "info", "placeholder")]
        if component["type"] == "markdown":
            texts.append(props.get("value"))
        for text in texts:
            if isinstance(text, str) and text.strip():
                found = re.findall(r"__i18n__(\{.*?\})", text)
                assert found, f"{component['type']}: {text[:60]!r} is not translated"
                keys += [json.loads(m)["key"] for m in found]
    assert keys and all(k.startswith("concepts.") and k.removeprefix("concepts.") in T.texts for k in keys)


def test_every_catalog_key_is_used():
    source = "".join((ROOT / "cvdemo" / "ui" / name).read_text() for name in ("concepts_tab.py", "concept_figures.py"))
    unused = [key for key in T.texts if f'"{key}"' not in source]
    assert not unused, unused


def test_chinese_markdown_keeps_the_maths_and_has_no_stray_line_breaks():
    attention = T.text("attention_md", "zh-CN")
    assert "softmax(qᵢ·kⱼ / √d_k)" in attention and "1/√d_k" in attention
    assert "面积(A ∩ B) / 面积(A ∪ B)" in T.text("iou_md", "zh-CN")
    assert "TP / (TP + FP)" in T.text("iou_md", "zh-CN") and "TP / (TP + FN)" in T.text("iou_md", "zh-CN")
    for key in ("sinusoid_md", "grid_md", "attention_md", "iou_md"):
        heading, _, body = T.text(key, "zh-CN").partition("\n")
        assert heading.startswith("### ") and body and "\n" not in body, key


# ---------------------------------------------------------------- in a real browser


@pytest.fixture(scope="module")
def concepts_url(serve):
    with gr.Blocks() as demo:
        build_concepts_tab()
    url = serve(demo, server_name="127.0.0.1", i18n=gradio_i18n())
    yield url
    demo.close()


@pytest.mark.parametrize("locale, texts", [
    ("zh-CN", ["正弦位置编码", "标记位置与其他所有位置的相似度", "缩放点积注意力，d_k=8", "IoU 0.210 < 0.50：假阳性",
               "IoU 0.210 ≥ 0.20：真阳性"]),
    ("en-US", ["Sinusoidal position encoding", "Similarity of the marked position to all others",
               "Scaled dot-product attention, d_k=8", "IoU 0.210 < 0.50: a false positive",
               "IoU 0.210 ≥ 0.20: a true positive"]),
])
def test_the_browser_sees_the_tab_in_its_language(concepts_url, page_in, locale, texts):
    page, errors = page_in(locale)
    page.goto(concepts_url)
    verdict = texts[3]
    page.get_by_text(verdict).wait_for(timeout=30_000)  # written by the page-load event
    assert texts[0] in page.inner_text("body")  # a Markdown heading, translated in the browser
    for text in texts[1:3]:  # figure titles, redrawn by the page-load event in Chinese (Plotly draws them later)
        page.locator("svg text", has_text=text).first.wait_for(timeout=30_000)
    threshold = page.locator("input[type=range]").last  # the IoU threshold: 0.50 -> 0.20 with the keyboard
    threshold.focus()
    for _ in range(6):
        threshold.press("ArrowLeft")
    page.get_by_text(texts[4]).wait_for(timeout=30_000)  # redrawn by the slider's handler, same language
    assert "__i18n__" not in page.inner_text("body")
    assert not errors, errors
