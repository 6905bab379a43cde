"""Examples run on the model they are labelled for (issue 13, item 2): picking one selects its model; offline, a
Hub model's example gets the plain "needs the Hub" message and a screen with nothing of the previous run left."""

from __future__ import annotations

import pytest

pytestmark = pytest.mark.timeout(300)


@pytest.fixture(scope="module")
def app_url(serve):
    import app

    demo = app.build_demo()  # the shipped models and the Hub ones (offline in tests: HF_HUB_OFFLINE=1)
    yield serve(demo, **app.launch_settings())
    demo.close()


def model_of(page, prefix: str) -> str:
    return page.locator(f"#{prefix}-model input").input_value()


def pick(page, gallery: str) -> None:
    page.locator(f"#{gallery} button.gallery-item").first.click()


def test_detect_examples_select_their_model_and_a_failed_run_leaves_nothing(app_url, browser_page):
    page, errors = browser_page
    page.goto(app_url)
    page.wait_for_selector("#detect-examples-photos button.gallery-item", timeout=30_000)
    pick(page, "detect-examples-shapes")
    page.wait_for_function("document.querySelector('#detect-model input').value === 'detr-shapes'",
                           timeout=30_000)
    page.wait_for_selector("#detect-output img", timeout=30_000)  # a result on the shapes model
    assert "detection" in page.locator("#detect-summary").inner_text()

    pick(page, "detect-examples-photos")
    page.wait_for_function(
        "document.querySelector('#detect-model input').value === 'facebook/detr-resnet-50'", timeout=30_000)
    toast = page.locator(".toast-body", has_text="Hub").first
    toast.wait_for(timeout=30_000)
    assert "Hugging Face" in toast.inner_text()
    page.wait_for_selector("#detect-output img", state="detached", timeout=30_000)  # the old boxes are gone
    assert page.locator("#detect-summary").inner_text().strip() == ""

    pick(page, "detect-examples-shapes")  # back to a shapes example: back to its model, and a result again
    page.wait_for_function("document.querySelector('#detect-model input').value === 'detr-shapes'",
                           timeout=30_000)
    page.wait_for_selector("#detect-output img", timeout=30_000)
    assert [e for e in errors if "Hub" not in e] == []


def test_attention_examples_select_their_model(app_url, browser_page):
    page, errors = browser_page
    page.goto(app_url)
    page.get_by_role("tab", name="Attention (ViT)").click()
    page.wait_for_selector("#vit-examples-photos button.gallery-item", timeout=30_000)
    pick(page, "vit-examples-shapes")
    page.wait_for_function("document.querySelector('#vit-model input').value === 'vit-shapes'", timeout=30_000)
    page.wait_for_function("document.querySelector('#vit-summary').innerText.trim() !== ''", timeout=30_000)

    pick(page, "vit-examples-photos")
    page.wait_for_function(
        "document.querySelector('#vit-model input').value === 'facebook/deit-tiny-patch16-224'", timeout=30_000)
    page.locator(".toast-body", has_text="Hub").first.wait_for(timeout=30_000)
    page.wait_for_function("document.querySelector('#vit-summary').innerText.trim() === ''", timeout=30_000)

    pick(page, "vit-examples-shapes")
    page.wait_for_function("document.querySelector('#vit-model input').value === 'vit-shapes'", timeout=30_000)
    page.wait_for_function("document.querySelector('#vit-summary').innerText.trim() !== ''", timeout=30_000)
    assert [e for e in errors if "Hub" not in e] == []
