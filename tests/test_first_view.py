"""The first view (issue 13, item 3): a tab opens with an example already run, so a newcomer sees a result before
reading any help text — in English and in Chinese: Detect, Matching and Attention run their first example,
Evaluate shows the built-in shapes example evaluated (its upload boxes left empty), Concepts opens with its figures
drawn."""

from __future__ import annotations

import pytest

from cvdemo.ui.texts.app import T as APP
from cvdemo.ui.texts.concepts import T as CONCEPTS
from cvdemo.ui.texts.evaluate import T as EVALUATE_TEXT

pytestmark = pytest.mark.timeout(300)


@pytest.fixture(scope="module")
def app_url(serve):
    import app

    demo = app.build_demo()  # the shipped models: the first examples run on them
    yield serve(demo, **app.launch_settings())
    demo.close()


TABS = {"en-US": ("detection", "Matching (DETR)", "Attention (ViT)"),
        "zh-CN": ("检测", "匹配（DETR）", "注意力（ViT）")}


@pytest.mark.parametrize("locale", TABS)
def test_detect_matching_and_attention_open_with_a_result(app_url, page_in, locale):
    detections, matching_tab, attention_tab = TABS[locale]
    page, errors = page_in(locale)
    page.goto(app_url)
    page.wait_for_selector("#detect-output img", timeout=60_000)  # boxes drawn without a click
    page.wait_for_function("document.querySelector('#detect-table tbody tr td') !== null", timeout=30_000)
    assert detections in page.locator("#detect-summary").inner_text()
    page.wait_for_selector("#detect-cross img", timeout=30_000)  # the attention views followed

    page.get_by_role("tab", name=matching_tab).click()
    page.wait_for_selector("#match-output img", timeout=60_000)  # the assignment drawn on validation image 0
    page.wait_for_function("document.querySelector('#match-summary').innerText.trim() !== ''", timeout=30_000)

    page.get_by_role("tab", name=attention_tab).click()
    page.wait_for_function("document.querySelector('#vit-summary').innerText.trim() !== ''", timeout=60_000)
    assert page.locator("#vit-input img").count() == 1  # the example it ran on is shown as the input

    assert errors == []


EVALUATE = {"en-US": ("Built-in example", "false positives by cause"), "zh-CN": ("内置示例", "假阳性的成因")}


def _text_of(selector: str) -> str:
    return f"(document.querySelector('{selector}') || {{innerText: ''}}).innerText"


@pytest.mark.parametrize("locale", EVALUATE)
def test_evaluate_opens_with_the_shapes_example_evaluated(app_url, page_in, locale):
    """No click but the tab's: the COCO table, the page of images and the image drawn from its file, the error
    views; the status names the example and says how to evaluate one's own; the upload boxes stay empty."""
    example, tide = EVALUATE[locale]
    tab, evaluate_button = APP.text("tab_evaluate", locale), EVALUATE_TEXT.text("evaluate_button", locale)
    page, errors = page_in(locale)
    page.goto(app_url)
    page.get_by_role("tab", name=tab, exact=True).click()
    page.wait_for_function(f"{_text_of('#eval-coco')}.includes('IoU .50:.95')", timeout=60_000)
    page.wait_for_function(f"{_text_of('#eval-images')}.includes('000001.png')", timeout=30_000)
    page.wait_for_function("(() => { const img = document.querySelector('#eval-image img');"
                           " return img !== null && img.complete && img.naturalWidth > 0; })()", timeout=30_000)
    page.wait_for_function(f"{_text_of('#eval-counts')}.includes('TP 29')", timeout=30_000)
    page.wait_for_function(f"{_text_of('#eval-tide')}.includes('{tide}')", timeout=30_000)
    page.wait_for_selector("#eval-confusion .js-plotly-plot", timeout=30_000)
    status = page.locator("#eval-status").inner_text()
    assert example in status and "detr-shapes" in status and evaluate_button in status, status  # what, and how
    assert page.locator("#eval-dataset .file-preview, #eval-predictions .file-preview").count() == 0
    assert errors == []


CONCEPT_TITLES = ("pe_gram_title", "grid_1d_title", "weights_title")


@pytest.mark.parametrize("locale", ["en-US", "zh-CN"])
def test_concepts_opens_with_its_figures_drawn(app_url, page_in, locale):
    """Its four figures drawn when the tab opens, titled in the browser's language, and the IoU verdict written."""
    page, errors = page_in(locale)
    page.goto(app_url)
    page.get_by_role("tab", name=APP.text("tab_concepts", locale), exact=True).click()
    page.wait_for_function("document.querySelectorAll('#tab-concepts .js-plotly-plot .main-svg').length >= 4",
                           timeout=60_000)
    verdict = CONCEPTS.text("false_positive", locale, iou=0.21, threshold=0.5).split("**")[1]  # IoU 0.210 < 0.50
    for text in (*(CONCEPTS.text(key, locale, d_k=8) for key in CONCEPT_TITLES), verdict):
        page.wait_for_function(f"document.querySelector('#tab-concepts').textContent.includes({text!r})",
                               timeout=30_000)
    assert errors == []
