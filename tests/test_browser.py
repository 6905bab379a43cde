"""A real browser on the launched app: Playwright drives Debian's chromium (/usr/bin/chromium; Playwright's
own browser download is not available here). One page load: upload a shapes image in the Detect tab, see boxes
drawn and the table filled, click the image for the encoder attention; no page errors.
"""

from __future__ import annotations

import importlib.util
import io
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

import cvdemo.models
from cvdemo.models import DETR, DETRConfig
from cvdemo.models.registry import ModelSpec
from cvdemo.models.vit import ViT, ViTConfig
from cvdemo.visualize import class_color

ROOT = Path(__file__).resolve().parents[1]
LABELS = {k: n for k, n in enumerate(["circle", "square", "triangle", "star", "heart", "hexagon"])}


@pytest.fixture(scope="module")
def app_url(tmp_path_factory, serve):
    torch.manual_seed(0)
    detr = DETR(DETRConfig(backbone="resnet18", frozen_batchnorm=False, d_model=64, num_heads=4,
                           encoder_layers=1, decoder_layers=1, dim_feedforward=128, num_queries=5,
                           num_classes=6, id2label=LABELS, shortest_edge=128, longest_edge=128))
    with torch.no_grad():
        detr.class_embed.bias[3] += 8.0  # every query confidently says "star": boxes above any threshold
    vit = ViT(ViTConfig(image_size=32, patch_size=8, embed_dim=32, depth=1, num_heads=2, num_classes=6,
                        id2label=LABELS))
    root = tmp_path_factory.mktemp("browser-models")
    specs = [ModelSpec("tiny-detr", str(cvdemo.models.save(detr, root / "detr")), "detect", "test"),
             ModelSpec("tiny-vit", str(cvdemo.models.save(vit, root / "vit")), "classify", "test")]
    spec = importlib.util.spec_from_file_location("cvdemo_app_browser", ROOT / "app.py")
    app = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(app)
    demo = app.build_demo(specs, device="cpu")
    yield serve(demo, **app.launch_settings())
    demo.close()


def test_upload_in_the_detect_tab_draws_boxes(app_url, browser_page):
    page, errors = browser_page
    page.goto(app_url)
    page.wait_for_selector("#detect-input input[type=file]", state="attached", timeout=30_000)
    page.locator("#detect-input input[type=file]").set_input_files(
        str(ROOT / "examples" / "shapes" / "shapes-1.png"))

    page.wait_for_function(
        "document.querySelector('#detect-summary').innerText.includes('5 detections')",
        timeout=30_000)
    output = page.locator("#detect-output img")
    assert page.locator("#detect-table").inner_text().count("star") == 5
    shown = np.asarray(Image.open(io.BytesIO(page.request.get(output.get_attribute("src")).body()))
                       .convert("RGB"))
    assert shown.shape == (480, 480, 3)
    near = np.abs(shown.astype(int) - class_color(3)).sum(-1) < 60  # red boxes (JPEG: not exact)
    assert near.sum() > 400, f"no boxes drawn ({near.sum()} pixels in the box colour)"

    before = page.locator("#detect-encoder img").get_attribute("src")
    output.click(position={"x": 40, "y": 40})
    page.wait_for_function(
        "before => document.querySelector('#detect-encoder img').getAttribute('src') !== before",
        arg=before, timeout=15_000)  # clicking the image moved the encoder-attention point
    assert not errors, errors
