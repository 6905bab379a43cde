"""The Detectors tab: `/detectors` and `/detectors_filter` through gradio_client, and the page in headless
Chromium in English and Chinese. Tiny random models (a DETR and three CNN families) are built here."""

from __future__ import annotations

import re
from pathlib import Path

import gradio as gr
import pytest
import torch
from gradio_client import Client, handle_file
from gradio_client.exceptions import AppError

import cvdemo.models
from cvdemo.detectors_run import final_detections, run_detector
from cvdemo.images import load_image_rgb
from cvdemo.models import DETR, RCNN, DETRConfig, ViT, ViTConfig
from cvdemo.models.registry import ModelRegistry, ModelSpec
from cvdemo.training.presets import (
    FASTER_RCNN_TRAINING_PRESETS,
    SSD_TRAINING_PRESETS,
    YOLO_TRAINING_PRESETS,
    build_faster_rcnn,
    build_ssd,
    build_yolo,
)
from cvdemo.ui.detectors_tab import build_detectors_tab
from cvdemo.ui.i18n import gradio_i18n

pytestmark = pytest.mark.usefixtures("one_torch_thread")

ROOT = Path(__file__).resolve().parents[1]
SHAPES_IMAGE = ROOT / "examples" / "shapes" / "shapes-1.png"
NAMES = {k: n for k, n in enumerate(["circle", "square", "triangle", "star", "heart", "hexagon"])}
FAMILIES = {"tiny-frcnn": (build_faster_rcnn, FASTER_RCNN_TRAINING_PRESETS),
            "tiny-ssd": (build_ssd, SSD_TRAINING_PRESETS), "tiny-yolo": (build_yolo, YOLO_TRAINING_PRESETS)}


@pytest.fixture(scope="module")
def folders(tmp_path_factory):
    root = tmp_path_factory.mktemp("detectors")
    torch.manual_seed(0)
    detr = DETR(DETRConfig(backbone="resnet18", frozen_batchnorm=True, d_model=32, num_heads=4, encoder_layers=1,
                           decoder_layers=2, dim_feedforward=64, num_queries=10, num_classes=6, id2label=NAMES,
                           shortest_edge=128, longest_edge=128))
    with torch.no_grad():
        detr.class_embed.bias[0] += 3.0  # confident queries, so there is something to draw
    found = {"tiny-detr": cvdemo.models.save(detr.eval(), root / "detr")}
    for name, (build, presets) in FAMILIES.items():
        torch.manual_seed(0)
        found[name] = cvdemo.models.save(build(presets["tiny"], NAMES, backbone_init=None).eval(), root / name)
    torch.manual_seed(0)
    vit = ViT(ViTConfig(image_size=32, patch_size=8, num_classes=6, embed_dim=32, depth=1, num_heads=2,
                        id2label=NAMES))
    rcnn = RCNN.from_classifier(vit, score_threshold=0.2, context_padding=4).eval()
    found["tiny-rcnn"] = cvdemo.models.save(rcnn, root / "rcnn")
    return found


@pytest.fixture(scope="module")
def app_url(folders, serve, tmp_path_factory):
    specs = [ModelSpec("tiny-detr", str(folders["tiny-detr"]), "detect"),
             *(ModelSpec(n, str(folders[n]), "family") for n in (*FAMILIES, "tiny-rcnn")),
             ModelSpec("not-trained", str(tmp_path_factory.mktemp("none") / "missing"), "family"),
             ModelSpec("a-vit", str(folders["tiny-detr"]), "classify")]
    registry = ModelRegistry(specs, device="cpu")
    with gr.Blocks() as demo:
        build_detectors_tab(registry, ROOT / "examples")
    demo.queue()
    url = serve(demo, enable_monitoring=False, i18n=gradio_i18n())
    yield url
    demo.close()


@pytest.fixture(scope="module")
def client(app_url):
    return Client(app_url, verbose=False)


def _rows(table) -> dict[str, list]:
    return {row[0]: row for row in table["data"]}


def test_every_model_answers_side_by_side_and_nms_moves_only_the_cnn_columns(client, folders):
    models = ["tiny-detr", *FAMILIES, "tiny-rcnn"]
    gallery, table, summary = client.predict(handle_file(str(SHAPES_IMAGE)), models, 0.5, 0.1,
                                             api_name="/detectors")
    assert len(gallery) == 3 * len(models) and "**5** models on a 128×128 image" in summary
    rows = _rows(table)
    assert list(rows) == models
    image = load_image_rgb(SHAPES_IMAGE)
    for name in (*FAMILIES, "tiny-rcnn"):  # the app's counts are the library's
        expected = run_detector(name, cvdemo.models.load(folders[name]), image)
        assert rows[name][5] == len(final_detections(expected, 0.5, 0.1)), name
        assert rows[name][2] == expected.candidates.total
    captions = [item["caption"] for item in gallery]
    assert any("default boxes, 5 maps" in c for c in captions) and any("8×8 grid" in c for c in captions)
    assert any("RPN proposals" in c for c in captions) and any("all 10 queries" in c for c in captions)
    assert any("after NMS at IoU 0.5" in c for c in captions)
    assert any("selective-search regions" in c and "classifier passes" in c for c in captions)
    # /detectors_filter re-filters the stored run: a lower NMS IoU keeps fewer CNN boxes, DETR's column stays
    _, strict_table, strict_summary = client.predict(0.1, 0.1, api_name="/detectors_filter")
    strict = _rows(strict_table)
    assert strict["tiny-detr"][5] == rows["tiny-detr"][5] and strict["tiny-detr"][3] == rows["tiny-detr"][3]
    assert sum(strict[n][5] for n in FAMILIES) < sum(rows[n][5] for n in FAMILIES)
    assert all(strict[n][5] <= rows[n][5] for n in (*FAMILIES, "tiny-rcnn"))
    assert "would remove" in strict_summary


def test_a_model_that_cannot_load_is_skipped_and_a_wrong_name_is_refused(client):
    gallery, table, summary = client.predict(handle_file(str(SHAPES_IMAGE)), ["tiny-yolo", "not-trained"], 0.5,
                                             0.5, api_name="/detectors")
    assert len(gallery) == 3 and list(_rows(table)) == ["tiny-yolo"]
    assert "not-trained was skipped" in summary and "does not exist" in summary
    with pytest.raises(AppError, match="a-vit"):
        client.predict(handle_file(str(SHAPES_IMAGE)), ["a-vit"], 0.5, 0.5, api_name="/detectors")
    with pytest.raises(AppError, match="Choose at least one model"):
        client.predict(handle_file(str(SHAPES_IMAGE)), [], 0.5, 0.5, api_name="/detectors")
    with pytest.raises(AppError, match="NMS IoU"):
        client.predict(handle_file(str(SHAPES_IMAGE)), ["tiny-yolo"], 2.0, 0.5, api_name="/detectors")


@pytest.mark.parametrize("locale, words", [
    ("en-US", ("models on a 128×128 image", "removed by NMS", "not-trained was skipped", "would remove")),
    ("zh-CN", ("个模型处理一张 128×128 的图像", "NMS 删去", "已跳过 not-trained", "会删去"))])
def test_the_page_shows_every_model_at_first_and_the_slider_refilters(app_url, page_in, locale, words):
    page, errors = page_in(locale)
    page.goto(app_url)
    # the first view: the first shapes example through every local model (the missing one is not checked)
    page.wait_for_function("document.querySelectorAll('#detectors-gallery img').length >= 15", timeout=60_000)
    page.wait_for_function(f"document.querySelector('#detectors-summary').innerText.includes('{words[0]}')",
                           timeout=30_000)
    table = page.inner_text("#detectors-table")
    assert "tiny-ssd" in table and "tiny-detr" in table and words[1] in table and words[2] not in table
    slider = page.locator("#detectors-nms input[type=number]")
    slider.fill("0.1")
    slider.press("Enter")
    page.wait_for_function(f"document.querySelector('#detectors-summary').innerText.includes('IoU 0.1 ') && "
                           f"document.querySelector('#detectors-summary').innerText.includes('{words[3]}')",
                           timeout=30_000)
    assert not errors, errors


# ---------------------------------------------------------------- the comparison section

def _row(family: str, ap: float, aps: float, ips: float, dupes: float, minutes: float | None) -> dict:
    from cvdemo.detector_comparison import COCO_KEYS

    metrics = {k: 0.5 for k in COCO_KEYS} | {"AP": ap, "APs": aps, "APm": ap + 0.05, "APl": -1.0, "ARl": -1.0}
    return {"name": f"{family}-shapes", "family": family, **metrics, "per_class": {"circle": ap},
            "tide": {"loc": 1, "cls": 2, "dupe": 3, "bkg": 0, "both": 0, "missed": 4},
            "duplicates_per_object": dupes, "duplicates_before_nms_per_object": None if family == "detr" else 2.5,
            "duplicates_after_nms_per_object": 0.01 if family == "detr" else None, "images_per_s": ips,
            "num_parameters": 1_500_000, "size_mb": 3.0, "minutes_to_AP50": minutes, "steps_to_AP50": None,
            "train_minutes": 90.0}


@pytest.mark.parametrize("locale", ["en", "zh-CN"])
def test_every_claim_and_verdict_is_worded_in_both_languages(locale):
    from cvdemo.detector_comparison import FORMAT, VERSION, check_claims, comparison_from_dict
    from cvdemo.ui.detectors_views import comparison_markdown

    cases = [  # every claim's evidence, its "not reached" variant, and the reasons for cannot tell
        [_row("detr", 0.72, 0.70, 27, 0.3, None), _row("fasterrcnn", 0.7, 0.68, 19, 0.0, 20),
         _row("ssd", 0.65, 0.6, 30, 0.0, 25), _row("yolo", 0.5, 0.4, 40, 0.0, 40), _row("rcnn", 0.4, 0.3, 3, 0, None)],
        [_row("detr", 0.7, 0.6, 27, 0.05, 150), _row("ssd", 0.7, 0.6, 30, 0.0, 25)],
        [_row("yolo", 0.5, 0.4, 40, 0.0, None)],
    ]
    for rows in cases:
        comparison = comparison_from_dict({"format": FORMAT, "version": VERSION, "models": rows,
                                           "eval": {"images": 500, "seed": 777, "objects": 1236},
                                           "machine": {"cpu": "test CPU"}, "command": "python -m x"})
        text = comparison_markdown(comparison, check_claims(comparison), locale)
        assert not re.search(r"detectors\.[a-z_]+", text) and "{" not in text, text  # no key or field left
        assert "500" in text and "1236" in text and "python -m x" in text
        assert text.count("\n- ") == len(check_claims(comparison))
        if locale == "zh-CN":
            assert "数据" in text and "The numbers" not in text


def test_the_tab_says_how_to_make_a_missing_comparison(tmp_path):
    from cvdemo.ui.detectors_tab import comparison_text

    assert "python -m training.compare_detectors" in comparison_text(tmp_path / "none.json")("en")
    (tmp_path / "bad.json").write_text("{not json")
    assert "不是有效的检测器对比文件" in comparison_text(tmp_path / "bad.json")("zh-CN")
