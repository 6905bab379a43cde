"""The first view (issue 13, item 3): a tab opens with an example already run, so a newcomer sees a result before
reading any help text — in English and in Chinese. (Detect, Matching and Attention so far; Concepts opens with
its figures drawn.)"""

from __future__ import annotations

import pytest

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
